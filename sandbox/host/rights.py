"""The rights matrix for document transactions (dmp-interface.md §3.1, §8; FI-526), host side.

Actors: a PS with a CPS/CPF (direct mode, a G15 profession in the VIHF), a CPE (direct mode, no PS
profession: secretaries), and a structure certificate (indirect mode). In AIR (indirect mode
reinforced, air.py) the actor is the professional named by the structure-signed VIHF: a PS.
Refusals are XDS errors with the DMP's code ``DMPAccessDeniedByRightsService``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sandbox.host.store import Store
from sandbox.host.vihf import Caller
from sandbox.host.xds import MASQUE_PS, XdsError, confidentiality_list

DENIED = "DMPAccessDeniedByRightsService"
PHYSICIAN = "10"


@dataclass(frozen=True)
class Actor:
    kind: str  # "PS", "CPE" or "STRUCTURE"
    national_id: str
    structure_id: str
    purpose: str
    profession: str
    treating_doctor: bool
    authorized: bool

    @property
    def physician(self) -> bool:
        return self.kind == "PS" and self.profession == PHYSICIAN


def actor_of(caller: Caller, store: Store, matricule: str) -> Actor:
    if caller.mode == "INDIRECTE_RENFORCEE" and caller.professions:
        kind = "PS"  # AIR: a professional of the directory, authenticated by the structure (air.py)
    elif caller.mode != "DIRECTE":
        kind = "STRUCTURE"
    elif caller.professions:
        kind = "PS"
    else:
        kind = "CPE"
    return Actor(
        kind,
        caller.national_id,
        caller.structure_id,
        caller.purpose,
        caller.professions[0] if caller.professions else "",
        kind == "PS" and store.treating_doctor(matricule) == caller.national_id,
        kind == "PS" and store.is_authorized(matricule, caller.national_id),
    )


def patient_open(store: Store, matricule: str) -> sqlite3.Row:
    """The DMP must exist (XDSUnknownPatientId) and be open (DMPClosed)."""
    row = store.patient(matricule)
    if row is None or row["state"] == "none":
        raise XdsError("XDSUnknownPatientId", "Ce patient n'a pas de DMP.")
    if row["state"] == "terminated":
        raise XdsError("DMPClosed", "Le DMP de ce patient est fermé.")
    return row


def check_consultation(actor: Actor, patient: sqlite3.Row) -> None:
    """TD3.1 (LeafClass) and TD3.2: a PS, authorised in normal mode, no opposition in emergency modes."""
    if actor.kind != "PS":
        raise XdsError(
            DENIED, "Consultation réservée aux professionnels de santé en authentification directe."
        )
    if actor.purpose == "normal":
        if not (actor.authorized or actor.treating_doctor):
            raise XdsError(DENIED, "Le professionnel n'est pas autorisé sur ce DMP (mode normal).")
    elif actor.purpose == "bris_de_glace" and patient["opposition_bris_de_glace"]:
        raise XdsError(DENIED, "Le patient s'est opposé à l'accès en mode bris de glace.")
    elif actor.purpose == "centre_15" and patient["opposition_centre_15"]:
        raise XdsError(DENIED, "Le patient s'est opposé à l'accès en mode centre 15.")


def owns(actor: Actor, document: sqlite3.Row) -> bool:
    if document["author_patient"]:
        return False
    if actor.kind == "PS":
        return bool(document["author_id"]) and document["author_id"] == actor.national_id
    return document["author_structure"] == actor.structure_id and not document["author_id"]


def is_masked(document: sqlite3.Row) -> bool:
    return any(c.code == MASQUE_PS for c in confidentiality_list(document["confidentiality"]))


def visible(actor: Actor, document: sqlite3.Row) -> bool:
    """Whether a document (its metadata and content) is shown to this actor."""
    if actor.kind != "PS":
        return bool(document["author_structure"]) and document["author_structure"] == actor.structure_id
    if is_masked(document):
        # Masked: the author and the médecin traitant in normal mode only; in break-glass /
        # centre-15 mode only if the patient allowed it (no such consent in the sandbox).
        return actor.purpose == "normal" and (actor.treating_doctor or owns(actor, document))
    return True


def check_owner_or_mt(actor: Actor, document: sqlite3.Row, what: str) -> None:
    if document["author_patient"]:
        if not actor.treating_doctor:
            raise XdsError(DENIED, f"{what} : seul le médecin traitant peut agir sur un document du patient.")
        return
    if not (owns(actor, document) or actor.treating_doctor):
        raise XdsError(DENIED, f"{what} : réservé à l'auteur du document (ou au médecin traitant).")
