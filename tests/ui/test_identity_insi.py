"""« Qualifier l'identité » calls INSi through the qualification flows (app/services/qualification.py)
against the sandbox INSi host over real mutual TLS (the structure's certificate: the GP's workspace
has no card here): the INS held verified, then the identity document checked → qualifiée; a manual
entry searched by traits with the 02 guidance, then found — INSi's identity replacing the one typed;
the INS history (INSHISTO) shown; the Vitale card's beneficiary (sandbox only)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.card.patient_sources import Beneficiary
from app.ins import IdentityTraits, Ins, Nir
from app.services import identity_desk
from app.services import qualification as q
from app.services.identity import IdentityStatus
from app.services.workspace import Patient, Workspace
from app.ui.identity_dialog import IdentityDialog
from app.ui.patient_panel import PatientPanel
from sandbox.insi.server import InsiConfig, InsiHost
from sandbox.patients import load_patients
from tests.services.qualification_helpers import insi_settings, running_insi
from tests.ui.conftest import sandbox_patient
from tests.ui.test_identity_panel import put_status

WAIT = 30_000


@pytest.fixture
def insi_host(pki_dir: Path) -> Iterator[InsiHost]:
    with running_insi(InsiConfig(pki_dir / "pki")) as host:
        yield host


@pytest.fixture
def workspace(gp_workspace: Workspace, insi_host: InsiHost, pki_dir: Path, tmp_path: Path) -> Workspace:
    """The GP's workspace pointed at the sandbox INSi host too."""
    insi = insi_settings(insi_host, pki_dir, tmp_path / "insi-store").insi
    gp_workspace.settings = dataclasses.replace(gp_workspace.settings, insi=insi)
    return gp_workspace


def opened(qtbot: QtBot, workspace: Workspace, patient: Patient) -> tuple[PatientPanel, IdentityDialog]:
    panel = PatientPanel(workspace=workspace)
    qtbot.addWidget(panel)
    panel.select(patient)
    qtbot.waitUntil(lambda: panel.identity is not None, timeout=WAIT)
    dialog = panel.open_qualification()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=WAIT)
    return panel, dialog


def asked(qtbot: QtBot, dialog: IdentityDialog, button: str) -> str:
    getattr(dialog, button).click()
    qtbot.waitUntil(lambda: not dialog._insi_busy, timeout=WAIT)
    return dialog.insi_result.text()


def test_verified_by_insi_then_the_document_checked_makes_it_qualifiee(
    qtbot: QtBot, workspace: Workspace, insi_host: InsiHost
) -> None:
    patient = sandbox_patient("P04")
    put_status(workspace, patient, IdentityStatus.PROVISOIRE)
    panel, dialog = opened(qtbot, workspace, patient)
    assert dialog.verify_button.isEnabled() and not dialog.vitale_button.isEnabled()  # not read on a card
    said = asked(qtbot, dialog, "verify_button")
    assert said.startswith("INS confirmé par le téléservice INSi. Statut de l'identité : récupérée.")
    qtbot.waitUntil(lambda: panel.status.text() == "◐ Identité récupérée", timeout=WAIT)
    assert "vérifier une pièce d'identité" in panel.todo.text()
    assert "téléservice INSi (réponse « INSi vérification CR 00" in dialog.traits_source.text()
    assert len(insi_host.journal) >= 1  # a real exchange with the INSi host
    dialog.document_type.setCurrentIndex(0)  # carte nationale d'identité
    dialog.confirm.setChecked(True)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: panel.status.text() == "✔ Identité qualifiée", timeout=WAIT)
    assert patient.traits is not None
    workspace.require_qualified(patient.ins, patient.traits)  # the feeding gate agrees
    assert panel.patient is patient  # INSi confirmed the very identity shown: nothing replaced


def test_the_ins_history_insi_returned_is_shown(qtbot: QtBot, workspace: Workspace) -> None:
    patient = sandbox_patient("P05")  # an earlier INS in the sandbox referential (INSHISTO)
    put_status(workspace, patient, IdentityStatus.PROVISOIRE)
    panel, dialog = opened(qtbot, workspace, patient)
    assert panel.history.text() == "INSi non interrogé"
    asked(qtbot, dialog, "verify_button")
    qtbot.waitUntil(lambda: "ancien INS" in panel.history.text(), timeout=WAIT)
    assert panel.history.text() == "7 69 03 99 243 042 86 (ancien INS)"


def test_a_manual_entry_searched_by_traits_shows_the_02_guidance_then_insi_s_identity_replaces_it(
    qtbot: QtBot, workspace: Workspace
) -> None:
    typed = IdentityTraits.parse("MARTIN", "LOUIS", "M", "29/02/1972")
    h02 = Ins.parse("172026912304571", "1.2.250.1.213.1.4.10")  # the homonym's INS, typed by mistake
    manual = Patient(h02, typed, "provisoire", "saisie manuelle")
    panel, dialog = opened(qtbot, workspace, manual)
    said = asked(qtbot, dialog, "search_button")
    assert "INSi n'a pas rendu une identité unique" in said and "autres prénoms" in said  # 02
    qtbot.waitUntil(lambda: dialog.badge.text() != "… lecture du statut", timeout=WAIT)  # read again
    assert dialog.badge.text() == "✖ Identité provisoire" and panel.patient is manual
    assert "#a40000" in dialog.insi_result.styleSheet()  # said in red too, beside the words

    both = Patient(
        h02, IdentityTraits.parse("MARTIN", "LOUIS PIERRE", "M", "29/02/1972"), "", "saisie manuelle"
    )
    panel.set_candidates([both], 0)  # the entry corrected (same INS typed: select() would keep the old)
    qtbot.waitUntil(lambda: panel.identity is not None, timeout=WAIT)
    dialog = panel.open_qualification()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=WAIT)
    said = asked(qtbot, dialog, "search_button")
    assert "Identité trouvée par le téléservice INSi. Statut de l'identité : récupérée." in said
    # INSi's identity (H01) is the patient from now on: the INS typed (H02's) is not kept on screen.
    qtbot.waitUntil(lambda: panel.patient is not None and panel.patient.ins != h02, timeout=WAIT)
    assert panel.patient is not None and panel.patient.ins.matricule.value == "172027505612395"
    assert all(c.ins != h02 for c in panel.candidates)
    assert dialog.trait_labels["Matricule INS"].text() == "1 72 02 75 056 123 95"
    assert dialog.trait_labels["Lieu de naissance (INSEE)"].text() == "75056"  # INSi's, verbatim
    qtbot.waitUntil(lambda: panel.status.text() == "◐ Identité récupérée", timeout=WAIT)


def test_insi_with_the_vitale_card_for_the_chosen_beneficiary(
    qtbot: QtBot, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sandbox only: the virtual Vitale card read (here its content as the sandbox lays it out: the
    rig's card reader is not used by the tests) and INSi asked for the child, rank 2."""
    mother, child = sandbox_patient("P04"), sandbox_patient("P06")
    holder = next(p for p in load_patients() if p.id == "P04")
    members = [holder, *(p for p in load_patients() if p.vitale.opening_nir == holder.matricule)]
    card = q.VitaleRead(  # as sandbox/vicc.py lays the family's virtual card out
        tuple(
            Beneficiary(
                p.vitale.rank,
                p.birth_name,
                p.vitale.first_name,
                p.vitale.birth_date,
                Nir.parse(p.vitale.nir_own) if p.vitale.nir_own else None,
            )
            for p in members
        ),
        dt.datetime.now(dt.UTC),
        Nir.parse(holder.matricule),
    )
    monkeypatch.setattr(identity_desk, "read_card", lambda _workspace: card)
    put_status(workspace, child, IdentityStatus.PROVISOIRE)
    read = dataclasses.replace(child, source="carte Vitale (rang 2, ayant droit)", vitale_rank=2)
    panel, dialog = opened(qtbot, workspace, read)
    assert workspace.settings.is_sandbox and dialog.vitale_button.isEnabled()
    said = asked(qtbot, dialog, "vitale_button")
    assert said.startswith("Identité trouvée par le téléservice INSi. Statut de l'identité : récupérée.")
    qtbot.waitUntil(lambda: panel.status.text() == "◐ Identité récupérée", timeout=WAIT)
    assert panel.patient is not None and panel.patient.ins == child.ins != mother.ins
