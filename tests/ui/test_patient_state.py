"""Issue 14, item 2 and 7: the access mode belongs to the patient, one load per patient choice, and
a typed identity starts provisional (offscreen, against the sandbox host over real mutual TLS)."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.dmp_client.core.context import Purpose
from app.services.workspace import Workspace
from app.ui.dialogs import ManualPatientDialog
from app.ui.main_window import MainWindow
from app.ui.patient_panel import PatientPanel
from app.ui.qt import QMessageBox
from tests.ui.conftest import sandbox_patient


def test_a_patient_choice_is_announced_once(qtbot: QtBot) -> None:
    panel = PatientPanel()
    qtbot.addWidget(panel)
    seen: list[object] = []
    panel.patient_changed.connect(seen.append)
    p06, p01 = sandbox_patient("P06"), sandbox_patient("P01")
    panel.set_candidates([p06, p01], 0)  # as the Vitale read, manual entry and the EHR hand-off do
    assert [p.ins for p in seen] == [p06.ins]  # type: ignore[attr-defined]
    panel.select(p01)
    assert len(seen) == 2 and seen[-1] is p01
    panel.set_candidates([], -1)  # no candidate left: the previous patient is not kept
    assert seen[-1] is None and panel.patient is None and len(seen) == 3


def test_one_load_per_patient_choice(qtbot: QtBot, window: MainWindow) -> None:
    calls: list[str] = []
    overview = window.workspace.overview
    window.workspace.overview = lambda patient: (calls.append("overview"), overview(patient))[1]  # type: ignore[method-assign]
    window.patient_panel.set_candidates([sandbox_patient("P06")], 0)
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    assert calls == ["overview"]


def test_mode_change_keeps_the_session_situation_and_journal(gp_workspace: Workspace) -> None:
    before = gp_workspace.client
    assert before is not None
    journal_failures: list[Exception] = []
    before.on_journal_failure = journal_failures.append
    connection = gp_workspace.with_purpose(Purpose.BREAK_GLASS, lambda status: None)
    after = gp_workspace.client
    assert after is not None and after is not before
    assert connection.purpose is Purpose.BREAK_GLASS and after.session.purpose is Purpose.BREAK_GLASS
    assert after.journal is before.journal and after.journal is not None
    assert after.on_journal_failure == journal_failures.append
    assert after.session.actor == before.session.actor  # the chosen situation (structure) is kept
    assert connection.situation == "n° 1 — " + connection.structure
    back = gp_workspace.with_purpose(Purpose.NORMAL, lambda status: None)
    assert back.purpose is Purpose.NORMAL and back.situation == connection.situation


def test_emergency_access_ends_with_its_patient(qtbot: QtBot, window: MainWindow) -> None:
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    window._connected(window.workspace.with_purpose(Purpose.BREAK_GLASS, lambda status: None))
    assert "ACCÈS D'URGENCE" in window.who_label.text() and "b00020" in window.who_label.styleSheet()
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    window.patient_panel.select(sandbox_patient("P06"))
    assert window.workspace.connection is not None
    assert window.workspace.connection.purpose is Purpose.NORMAL
    assert window.workspace.client is not None and window.workspace.client.session.purpose is Purpose.NORMAL
    assert "URGENCE" not in window.who_label.text() and window.who_label.styleSheet() == ""
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)


def test_manual_entry_starts_provisional(qtbot: QtBot) -> None:
    dialog = ManualPatientDialog(sandbox=True)
    qtbot.addWidget(dialog)
    assert dialog.status.text().startswith("provisoire")  # not chosen: the lifecycle's, INSi and a document
    dialog.matricule.setText("150081505104018")
    dialog.birth_name.setText("BERNARD")
    dialog.first_names.setText("JEAN")
    dialog.sex.setCurrentText("M")
    dialog.birth_date.setText("01/08/1950")
    dialog.used_name.setText("MARTIN")
    dialog._check()
    assert dialog.patient is not None and dialog.patient.ins_status == "provisoire"
    assert (dialog.patient.used_name, dialog.patient.used_first_name) == ("MARTIN", None)


def test_every_beneficiary_of_the_vitale_card_is_offered_children_included(qtbot: QtBot) -> None:
    from app.card.patient_sources import Beneficiary
    from app.ins import Nir
    from app.ui.patient_panel import patients_from_beneficiaries

    family = [  # P04's card: the mother (own NIR) and her son Lucas (P06, no NIR of his own)
        Beneficiary(1, "BERNARD", "ELODIE", "851224", Nir.parse("285127505612353")),
        Beneficiary(2, "BERNARD", "LUCAS", "150609", None),
    ]
    patients = patients_from_beneficiaries(family)
    assert [p.ins for p in patients] == [sandbox_patient("P04").ins, sandbox_patient("P06").ins]
    assert "ayant droit" in patients[1].source and "rang 2" in patients[1].source
    assert "assuré" in patients[0].source and all(p.ins_status == "récupérée" for p in patients)
    panel = PatientPanel()
    qtbot.addWidget(panel)
    panel.set_candidates(patients, 0)
    assert panel.choice.count() == 3  # the placeholder and both beneficiaries


def test_authorising_access_asks_that_the_patient_agrees(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.patient_panel.select(sandbox_patient("P07"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    asked: list[str] = []

    def refuse(parent: object, title: str, text: str, *rest: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", refuse)
    calls: list[bool] = []
    authorize = window.workspace.authorize
    window.workspace.authorize = lambda p, add=True: (calls.append(add), authorize(p, add))[1]  # type: ignore[method-assign]
    window.dmp_panel.authorize.click()
    assert asked and "d'accord" in asked[0] and calls == [] and window.pending == 0
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.dmp_panel.authorize.click()
    qtbot.waitUntil(lambda: window.pending == 0 and window.dmp_panel.withdraw.isVisible(), timeout=60_000)
    assert calls == [True]
    window.dmp_panel.withdraw.click()  # back as it was for the other tests
    qtbot.waitUntil(lambda: window.pending == 0 and window.dmp_panel.authorize.isVisible(), timeout=60_000)


@pytest.mark.parametrize("pid", ["P06", "P01"])
def test_the_hand_off_opens_the_patient_without_an_internal_error(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, pid: str
) -> None:
    import app.ui.main_window as main_window

    errors: list[BaseException] = []
    monkeypatch.setattr(main_window, "show_error", lambda parent, error, what: errors.append(error))
    window.open_context({"patient": pid, "activer": True})
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    assert errors == []
    assert window.patient is not None and window.patient.ins == sandbox_patient(pid).ins
