"""Listings and the lying registry (sandbox/host/lies.py), offscreen through the real main window:
the Warning-severity RegistryErrors of ITI-18 answers are said to the user (ebRS 3.0 RegistryError
severity, ITI TF-3 4.2.4: a Success or PartialSuccess may carry warnings), never dropped; a batch of
the history loading behind carrying another patient's entries empties the whole list."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from app.dmp_client.core.errors import OtherPatientAnswer
from app.store.local_store import LocalStore
from app.ui.main_window import MainWindow
from app.ui.qt import QMessageBox
from sandbox.host import lies
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient
from tests.ui.test_lying_gui import assert_refusal_shown, error_boxes, safety_events


def warning_boxes(window: MainWindow) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.objectName() == "avertissement-liste"]


def test_a_listing_with_a_registry_warning_shows_the_list_and_the_warning(
    qtbot: QtBot, window: MainWindow, host: DmpHost
) -> None:
    host.config.faults.lie = "succes-avec-avertissement"
    window.patient_panel.select(sandbox_patient("P03"))
    qtbot.waitUntil(lambda: bool(warning_boxes(window)), timeout=60_000)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    box = warning_boxes(window)[-1]
    assert box.isVisible()
    assert lies.WARNING_CODE in box.text() and "avertissement" in box.text()
    assert window.documents.model.rowCount() > 0  # a success: the list is shown with its warning
    assert any(lies.WARNING_CODE in w for w in window.listing_warnings)
    assert not error_boxes(window)


def test_no_warning_box_for_an_honest_listing(qtbot: QtBot, window: MainWindow) -> None:
    window.patient_panel.select(sandbox_patient("P03"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    qtbot.waitUntil(lambda: window.history_token is None, timeout=60_000)
    assert not warning_boxes(window) and window.listing_warnings == ()


def test_a_history_batch_for_another_patient_empties_the_list(
    qtbot: QtBot, window: MainWindow, host: DmpHost, ui_store: LocalStore
) -> None:
    """The first two years are honest; the host starts lying when the history behind is asked."""
    load = window._load_history

    def lying(*args: Any) -> None:
        host.config.faults.lie = "autre-patient"
        load(*args)

    window._load_history = lying  # type: ignore[method-assign]
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: bool(error_boxes(window)) and window.pending == 0, timeout=120_000)
    assert_refusal_shown(window, OtherPatientAnswer.code, "autre patient")
    assert window.documents.model.rowCount() == 0  # the honest first two years went too
    assert OtherPatientAnswer.code in window.documents.count.text()
    assert OtherPatientAnswer.code in safety_events(ui_store)
    assert not window.documents.history_stop.isVisible()
