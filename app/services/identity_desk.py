"""The INSi calls of the desktop application (issue 17 item 4, GUI part), without Qt: the
qualification flows of :mod:`app.services.qualification` for the workspace's session and patient.
Every function may block (network, card): the GUI calls them off its thread (``app.ui.tasks``).

Kept apart from :mod:`app.services.workspace` so that the workspace does not import the flows
(which reach the training seam, which names the workspace's ``Patient``: an import cycle); the
workspace keeps the identity reads and the document check (``Workspace.identity``,
``Workspace.check_identity_document``), through the lifecycle alone."""

from __future__ import annotations

from app.dmp_client.insi_client import InsiClient
from app.errors import LocalStoreUnavailable, UsageError
from app.ins import IdentityTraits
from app.services.identity import IdentityLifecycle
from app.services.qualification import (
    InsiOutcome,
    Qualification,
    VitaleRead,
    open_insi,
    parse_claimed_status,
    read_vitale,
)
from app.services.workspace import Patient, Workspace

__all__ = ["insi_search", "insi_verify", "insi_vitale", "read_card"]


def _flows(workspace: Workspace) -> tuple[Qualification, InsiClient]:
    """The flows over an INSi client for the session's mode (the CPS card of a card session, else
    the structure's certificate: :func:`app.services.qualification.open_insi`); ``by`` is who is
    connected (the professional, or the structure)."""
    store = workspace.store
    if store is None:
        raise LocalStoreUnavailable("La base locale n'est pas disponible : statut de l'identité inconnu.")
    client = open_insi(workspace.settings, workspace.session)
    c = workspace.connection
    by = c.display_name if c is not None else workspace.settings.software.name
    return Qualification(IdentityLifecycle(store.db), client, by), client


def insi_verify(workspace: Workspace, patient: Patient) -> InsiOutcome:
    """The INS held (EHR hand-off, sandbox patient, earlier search) verified by INSi before use; the
    status an EHR claims is passed on (never taken over as a document check done here)."""
    if patient.traits is None:
        raise UsageError("Les traits d'identité du patient manquent : complétez-les avant INSi.")
    claimed = parse_claimed_status(patient.ins_status) if patient.source == "logiciel métier" else None
    flows, client = _flows(workspace)
    try:
        return flows.from_handoff(patient.ins, patient.traits, claimed)
    finally:
        client.close()


def insi_search(workspace: Workspace, traits: IdentityTraits) -> InsiOutcome:
    """A manual entry searched by traits with the prescribed 01/02 steps."""
    flows, client = _flows(workspace)
    try:
        return flows.from_traits(traits)
    finally:
        client.close()


def read_card(workspace: Workspace) -> VitaleRead:
    """The sandbox's virtual Vitale card (training mode only; a real card is read by the EHR)."""
    return read_vitale(workspace.settings)


def insi_vitale(workspace: Workspace, rank: int | None, card: VitaleRead | None = None) -> InsiOutcome:
    """INSi with the Vitale card for the chosen beneficiary (the card read now unless given: a read
    older than 20 minutes is refused by the flow)."""
    card = card if card is not None else read_card(workspace)
    flows, client = _flows(workspace)
    try:
        return flows.from_vitale(card, rank)
    finally:
        client.close()
