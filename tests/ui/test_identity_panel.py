"""The patient panel shows the identity status the lifecycle holds (issue 17), never the one a source
claims: a badge with colour *and* text for each of the four statuses, what is left to do and that
sending is refused when it is not qualifiée, the strict traits with the used name beside, the INS-C
as the legacy identifier; « Qualifier l'identité » records the checked identity document and the
badge follows."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pytestqt.qtbot import QtBot

from app.services.identity import DocumentCheck, DocumentType, IdentityLifecycle, IdentityStatus, InsiAnswer
from app.services.workspace import Patient, Workspace
from app.ui.identity_dialog import BADGES, DOCUMENTS, IdentityDialog
from app.ui.patient_panel import INSC_LABEL, PatientPanel
from app.ui.qt import QLabel
from tests.ui.conftest import sandbox_patient

WAIT = 20_000
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def put_status(workspace: Workspace, patient: Patient, status: IdentityStatus) -> None:
    """The patient's identity brought to ``status`` through the lifecycle's own transitions."""
    assert workspace.store is not None and patient.traits is not None
    life = IdentityLifecycle(workspace.store.db)
    other = dataclasses.replace(patient.traits, birth_name="AUTRE")
    life.change_traits(patient.ins, other, "test", "remise à zéro du test")
    life.change_traits(patient.ins, patient.traits, "test", "remise à zéro du test")  # provisoire
    if status in (IdentityStatus.RECUPEREE, IdentityStatus.QUALIFIEE):
        answer = InsiAnswer(patient.ins, patient.traits, "INSI-TEST-2", NOW)
        life.record_insi(patient.ins, patient.traits, answer, "test")
    if status in (IdentityStatus.VALIDEE, IdentityStatus.QUALIFIEE):
        check = DocumentCheck(DocumentType.PASSEPORT, "test", NOW)
        life.check_document(patient.ins, patient.traits, check)
    assert life.status(patient.ins) is status


def shown(qtbot: QtBot, workspace: Workspace, patient: Patient) -> PatientPanel:
    panel = PatientPanel(workspace=workspace)
    qtbot.addWidget(panel)
    panel.show()
    panel.select(patient)
    qtbot.waitUntil(lambda: panel.identity is not None, timeout=WAIT)
    return panel


@pytest.mark.parametrize(
    ("status", "todo"),
    [
        (IdentityStatus.PROVISOIRE, "interroger INSi et vérifier une pièce d'identité"),
        (IdentityStatus.RECUPEREE, "vérifier une pièce d'identité"),
        (IdentityStatus.VALIDEE, "interroger INSi"),
        (IdentityStatus.QUALIFIEE, ""),
    ],
)
def test_the_badge_says_each_status_in_words_and_colour_with_what_to_do(
    qtbot: QtBot, gp_workspace: Workspace, status: IdentityStatus, todo: str
) -> None:
    patient = sandbox_patient("P03")
    assert patient.ins_status == "qualifiée"  # what the source claims: not what is shown
    put_status(gp_workspace, patient, status)
    panel = shown(qtbot, gp_workspace, patient)
    assert panel.identity is not None and panel.identity.status is status
    assert panel.status.text() == f"{BADGES[status][0]} Identité {status.value}"  # the text says it all
    assert BADGES[status][2] in panel.status.styleSheet()  # and the colour too
    assert panel.status.accessibleName() == f"Statut de l'identité : {status.value}"
    if status is IdentityStatus.QUALIFIEE:
        assert not panel.todo.isVisible()
    else:
        assert panel.todo.isVisible()
        assert f"À faire : {todo}." in panel.todo.text() and "Envoi au DMP refusé" in panel.todo.text()
    assert panel.qualify.isEnabled()
    assert BADGES[IdentityStatus.QUALIFIEE][2] != BADGES[IdentityStatus.PROVISOIRE][2]


def test_strict_traits_ins_history_and_the_legacy_ins_c(qtbot: QtBot, gp_workspace: Workspace) -> None:
    patient = dataclasses.replace(
        sandbox_patient("P01"), insc="1234567890123456789012", used_name="MARTIN", used_first_name="CLAIRE"
    )
    panel = shown(qtbot, gp_workspace, patient)
    rows = {name: label.text() for name, label in panel.traits.items()}
    assert rows["Nom de naissance"] == "DURAND   · nom utilisé : MARTIN"
    assert rows["1er prénom de naissance"] == "CLAIRE   · prénom utilisé : CLAIRE"
    assert rows["Prénoms de naissance"] == "CLAIRE MARIE"
    assert (rows["Sexe"], rows["Date de naissance"], rows["Lieu de naissance (INSEE)"]) == (
        "F",
        "14/05/2007",
        "85756",
    )
    assert rows["Matricule INS"] == "2 07 05 85 756 270 97"
    assert rows["OID"] == "1.2.250.1.213.1.4.10 (INS-NIR de test)"
    assert panel.history.text() == "aucun INS antérieur (INSi)"  # INSi answered (ui_store), no INSHISTO
    labels = [w.text() for w in panel.findChildren(QLabel)]
    assert INSC_LABEL == "INS-C (identifiant historique)" and INSC_LABEL in labels
    assert "INS-C" not in labels and panel.insc.text() == "1234567890123456789012"
    assert "jamais envoyé" in panel.insc.toolTip()


def test_traits_other_than_the_recorded_ones_are_provisoire(qtbot: QtBot, gp_workspace: Workspace) -> None:
    """The qualified identity's proofs were about its own traits: another first name is provisoire."""
    recorded = sandbox_patient("P01")
    assert recorded.traits is not None
    typed = dataclasses.replace(recorded, traits=dataclasses.replace(recorded.traits, first_names=("CLARA",)))
    panel = shown(qtbot, gp_workspace, typed)
    assert panel.identity is not None and panel.identity.status is IdentityStatus.PROVISOIRE
    assert panel.identity.differs == ("prénoms de naissance",)
    assert panel.todo.text().startswith("Traits modifiés. À faire : interroger INSi")


def test_without_a_local_base_the_status_is_unknown_and_sending_refused(qtbot: QtBot) -> None:
    panel = PatientPanel()
    qtbot.addWidget(panel)
    panel.select(sandbox_patient("P01"))
    assert panel.status.text() == "Statut de l'identité inconnu" and "refusé" in panel.todo.text()
    assert not panel.qualify.isEnabled()


def test_the_dialog_records_the_identity_document_and_the_badge_follows(
    qtbot: QtBot, gp_workspace: Workspace
) -> None:
    patient = sandbox_patient("P04")
    put_status(gp_workspace, patient, IdentityStatus.RECUPEREE)
    panel = shown(qtbot, gp_workspace, patient)
    assert panel.status.text().endswith("Identité récupérée")
    dialog = panel.open_qualification()
    assert isinstance(dialog, IdentityDialog)
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=WAIT)
    assert dialog.badge.text().endswith("Identité récupérée")
    assert "INSI-TEST-2" in dialog.traits_source.text()  # the traits INSi confirmed
    assert dialog.trait_labels["Nom de naissance"].text() == "PETIT"
    kinds = [dialog.document_type.itemText(i) for i in range(dialog.document_type.count())]
    assert kinds == list(DOCUMENTS.values()) and "Livret de famille (patient mineur)" in kinds
    assert dialog.checked_by.text() == "CLAIRE MEDECIN-GENERALISTE"  # the connected professional
    assert not dialog.confirm_button.isEnabled()  # not before the professional says it was seen
    dialog.document_type.setCurrentIndex(kinds.index("Titre de séjour"))
    dialog.confirm.setChecked(True)
    dialog.checked_by.setText("")
    assert not dialog.confirm_button.isEnabled()  # by whom: required
    dialog.checked_by.setText("Dr Claire Médecin")
    assert dialog.confirm_button.isEnabled()
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: panel.status.text().endswith("Identité qualifiée"), timeout=WAIT)
    assert not panel.todo.isVisible()
    assert dialog.badge.text().endswith("Identité qualifiée")
    assert "titre de séjour, vérifiée par Dr Claire Médecin" in dialog.document_now.text()
    assert "qualifiée · pièce d'identité vérifiée (titre de séjour) · par Dr Claire Médecin" in (
        dialog.history.item(0).text()
    )
    assert gp_workspace.store is not None and patient.traits is not None
    gp_workspace.require_qualified(patient.ins, patient.traits)  # the feeding gate agrees
    stored = IdentityLifecycle(gp_workspace.store.db).get(patient.ins)
    assert stored is not None and stored.document is not None
    assert stored.document["par"] == "Dr Claire Médecin" and stored.document["piece"] == "titre de séjour"
