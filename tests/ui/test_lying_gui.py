"""The desktop application's documents panel against the lying registry (sandbox/host/lies.py),
offscreen, through the real main window: the sandbox host over real mutual TLS, the GP in direct mode
with the card-shaped software keys, the local base keyed from the real Secret Service.

A list carrying another patient's entries is refused whole: the French message and its code are
shown, the list is emptied (even one shown before), nothing is cached. Opening a document whose bytes
are not those registered (or are empty) shows the refusal, and nothing is written, cached or shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.dmp_client.core.errors import AlteredDocument, OtherPatientAnswer
from app.dmp_client.documents import SAFETY_EVENT
from app.services.workspace import Workspace
from app.store.local_store import LocalStore
from app.ui.main_window import MainWindow
from app.ui.qt import QMessageBox
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import report
from tests.ui.conftest import sandbox_patient

P03 = "P03"


@pytest.fixture
def sent(gp_workspace: Workspace, tmp_path: Path) -> str:
    """A document of P03 sent honestly before the host starts lying: its uniqueId."""
    patient = sandbox_patient(P03)
    assert gp_workspace.client is not None and patient.traits is not None
    return gp_workspace.client.send(patient.ins, report(tmp_path, patient.traits, "Compte rendu")).unique_id


def open_patient(qtbot: QtBot, window: MainWindow) -> None:
    window.patient_panel.select(sandbox_patient(P03))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)


def listed(window: MainWindow, unique_id: str) -> bool:
    return any(d.unique_id == unique_id for d in window.documents.visible_documents())


def error_boxes(window: MainWindow) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.objectName() == "erreur"]


def assert_refusal_shown(window: MainWindow, code: str, words: str) -> None:
    boxes = error_boxes(window)
    assert boxes, "no error shown"
    assert words in boxes[-1].text()
    assert code in boxes[-1].informativeText()


def safety_events(store: LocalStore) -> list[str]:
    return [row.result for row in store.journal.rows() if row.transaction == SAFETY_EVENT]


def test_a_list_with_another_patients_entries_is_refused_and_nothing_cached(
    qtbot: QtBot, window: MainWindow, host: DmpHost, ui_store: LocalStore, sent: str
) -> None:
    host.config.faults.lie = "autre-patient"
    open_patient(qtbot, window)
    qtbot.waitUntil(lambda: bool(error_boxes(window)), timeout=60_000)
    assert_refusal_shown(window, OtherPatientAnswer.code, "autre patient")
    assert window.documents.visible_documents() == []
    assert OtherPatientAnswer.code in window.documents.count.text()
    assert "autre patient" in window.documents.count.text()
    assert window.documents.count.toolTip() == OtherPatientAnswer.user_message
    assert ui_store.cache.usage() == (0, 0, 0)
    assert ui_store.cache.get_list(sandbox_patient(P03).ins) is None
    assert safety_events(ui_store) == [OtherPatientAnswer.code]
    patients = {row.patient for row in ui_store.journal.rows()}
    assert sandbox_patient(P03).ins.matricule.value not in patients  # pseudonymised, never the INS


def test_a_refused_list_replaces_the_one_shown_before(
    qtbot: QtBot, window: MainWindow, host: DmpHost, ui_store: LocalStore, sent: str
) -> None:
    open_patient(qtbot, window)
    qtbot.waitUntil(
        lambda: any(d.unique_id == sent for d in window.documents.visible_documents()), timeout=60_000
    )
    assert not error_boxes(window)
    honest = ui_store.cache.get_list(sandbox_patient(P03).ins)
    assert honest is not None
    host.config.faults.lie = "autre-patient"
    window.refresh()
    qtbot.waitUntil(lambda: bool(error_boxes(window)) and window.pending == 0, timeout=60_000)
    assert_refusal_shown(window, OtherPatientAnswer.code, "autre patient")
    assert window.documents.visible_documents() == []
    assert OtherPatientAnswer.code in window.documents.count.text()
    after = ui_store.cache.get_list(sandbox_patient(P03).ins)
    assert after is not None and after.stored_at == honest.stored_at  # the refused list never cached


@pytest.mark.parametrize("lie", ["autres-octets", "document-vide"])
def test_opening_an_altered_document_shows_the_refusal_and_saves_nothing(
    qtbot: QtBot, window: MainWindow, host: DmpHost, ui_store: LocalStore, sent: str, lie: str
) -> None:
    open_patient(qtbot, window)
    qtbot.waitUntil(
        lambda: any(d.unique_id == sent for d in window.documents.visible_documents()), timeout=60_000
    )
    document = next(d for d in window.documents.visible_documents() if d.unique_id == sent)
    host.config.faults.lie = lie
    window.open_document(document)
    qtbot.waitUntil(lambda: bool(error_boxes(window)) and window.pending == 0, timeout=60_000)
    assert_refusal_shown(
        window, AlteredDocument.code, "vide" if lie == "document-vide" else "ne correspond pas"
    )
    assert window.viewer._retrieved is None and not window.viewer.save_button.isEnabled()
    assert list(Path(window.workspace._folder.name).iterdir()) == []  # no file of it written
    assert ui_store.cache.usage()[1:] == (0, 0)  # no document cached
    assert safety_events(ui_store) == [AlteredDocument.code]

    host.config.faults.lie = None  # the control: the same document opens when the host is honest
    with qtbot.waitSignal(window.viewer.shown, timeout=60_000):
        window.open_document(document)
    assert window.viewer._retrieved is not None
    assert ui_store.cache.usage()[1] == 1


def test_a_warning_of_a_mask_is_shown(qtbot: QtBot, window: MainWindow, host: DmpHost) -> None:
    """A Success carrying a Warning: the document is masked and the host's warning shown."""
    from app.dmp_client.core.actions import Action

    open_patient(qtbot, window)
    qtbot.waitUntil(lambda: len(window.documents.visible_documents()) > 0, timeout=60_000)
    own = next(
        d for d in window.documents.visible_documents()
        if Action.MASK in window.workspace.actions(d, treating_doctor=True) and d.status.endswith("Approved")
    )  # fmt: skip
    host.config.faults.lie = "succes-avec-avertissement"
    window.document_action(own, Action.MASK)

    def warnings() -> list[QMessageBox]:
        return [box for box in window.findChildren(QMessageBox) if box.objectName() == "avertissement"]

    qtbot.waitUntil(lambda: bool(warnings()), timeout=60_000)
    assert (
        "Avertissement du registre" in warnings()[0].text() and "[XDSRegistryWarning]" in warnings()[0].text()
    )
    assert not error_boxes(window)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    assert window.workspace.client is not None
    masked = window.workspace.client.document_by_unique_id(sandbox_patient(P03).ins, own.unique_id)
    assert "MASQUE_PS" in masked.confidentiality_codes  # done, not refused
