"""Layout at 1366x768 (issue 14, item 3): the window keeps the size it was given whatever it shows,
the documents list shows the title first and readable, the viewer fits a PDF to its width with zoom
and page navigation, and its header summary folds away."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.documents import NewDocument
from app.services.workspace import Workspace
from app.ui.documents_model import COL_DATE, COL_TITLE
from app.ui.main_window import MainWindow
from app.ui.qt import QMessageBox, QPdfView, QSize
from tests.ui.conftest import sandbox_patient
from tests.ui.test_documents import two_page_pdf

WAIT = 60_000
LAPTOP = QSize(1366, 768)


@pytest.fixture
def window(qtbot: QtBot, gp_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    main = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(main)
    main.resize(LAPTOP)
    main.show()
    main._show_connection(gp_workspace.connection)
    return main


def settle(qtbot: QtBot) -> None:
    qtbot.wait(200)  # layouts are applied on posted events


def open_pdf(qtbot: QtBot, window: MainWindow, gp_workspace: Workspace, tmp_path: Path) -> DocumentInfo:
    patient = sandbox_patient("P01")
    assert patient.traits is not None and gp_workspace.client is not None
    source = tmp_path / "cr.pdf"
    source.write_bytes(two_page_pdf(("Compte rendu - page 1", "Conclusion - page 2")))
    sent = gp_workspace.client.send(
        patient.ins,
        NewDocument(
            source, "application/pdf", "11488-4", "Compte rendu de consultation (PDF)", patient.traits
        ),
    )
    window.patient_panel.select(patient)
    qtbot.waitUntil(
        lambda: window.pending == 0 and len(window.documents.visible_documents()) > 0, timeout=WAIT
    )
    rows = window.documents.visible_documents()
    row = next(n for n, d in enumerate(rows) if d.unique_id == sent.unique_id)
    window.documents.table.selectRow(row)  # the action buttons appear
    with qtbot.waitSignal(window.viewer.shown, timeout=WAIT):
        window.open_document(rows[row])
    settle(qtbot)
    return rows[row]


def test_the_window_keeps_its_size_at_1366x768(
    qtbot: QtBot, window: MainWindow, gp_workspace: Workspace, tmp_path: Path
) -> None:
    settle(qtbot)
    assert window.size() == LAPTOP
    # Long status texts (practitioner, host unreachable) must not widen the window either.
    window.host_label.setText(f"DMP : {window.host_name} — injoignable [DMP-INJOIGNABLE] " * 2)
    open_pdf(qtbot, window, gp_workspace, tmp_path)
    assert window.size() == LAPTOP
    window.tabs.setCurrentWidget(window.upload)
    settle(qtbot)
    assert window.size() == LAPTOP
    window.tabs.setCurrentWidget(window.batch)
    settle(qtbot)
    assert window.size() == LAPTOP
    assert window.minimumSizeHint().width() <= LAPTOP.width()


def test_the_window_opens_within_the_screen(qtbot: QtBot, gp_workspace: Workspace) -> None:
    main = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(main)
    available = main.screen().availableGeometry()
    assert main.width() <= available.width() and main.height() <= available.height()


def test_the_title_column_comes_first_and_is_readable(
    qtbot: QtBot, window: MainWindow, gp_workspace: Workspace, tmp_path: Path
) -> None:
    open_pdf(qtbot, window, gp_workspace, tmp_path)
    header = window.documents.table.horizontalHeader()
    assert header.visualIndex(COL_TITLE) == header.visualIndex(COL_DATE) + 1
    readable = window.documents.table.fontMetrics().horizontalAdvance("Compte rendu de consultation")
    assert window.documents.table.columnWidth(COL_TITLE) >= readable
    # and the whole title column is on screen, not scrolled away
    assert header.sectionViewportPosition(COL_TITLE) + readable <= window.documents.table.viewport().width()


def test_the_pdf_fits_the_width_zooms_and_pages(
    qtbot: QtBot, window: MainWindow, gp_workspace: Workspace, tmp_path: Path
) -> None:
    info = open_pdf(qtbot, window, gp_workspace, tmp_path)
    viewer = window.viewer
    assert viewer.pdf_view.zoomMode() == QPdfView.ZoomMode.FitToWidth
    # the document gets most of the viewer: the header summary starts folded
    assert not viewer.header_box.isVisible()
    assert viewer.pdf_view.width() >= 0.9 * viewer.width()
    assert viewer.pdf_view.width() >= 400
    viewer.zoom_in_button.click()
    assert viewer.pdf_view.zoomMode() == QPdfView.ZoomMode.Custom
    # wider than the viewer now: the page scrolls sideways
    qtbot.waitUntil(lambda: viewer.pdf_view.horizontalScrollBar().maximum() > 0, timeout=5_000)
    viewer.zoom_out_button.click()
    viewer.zoom_out_button.click()
    qtbot.waitUntil(lambda: viewer.pdf_view.horizontalScrollBar().maximum() == 0, timeout=5_000)
    viewer.fit_button.click()
    assert viewer.pdf_view.zoomMode() == QPdfView.ZoomMode.FitToWidth
    assert viewer.page_label.text() == "1 / 2"
    viewer.next_page_button.click()
    qtbot.waitUntil(lambda: viewer.pdf_view.pageNavigator().currentPage() == 1, timeout=5_000)
    assert viewer.page_label.text() == "2 / 2"
    viewer.header_button.click()
    assert viewer.header_box.isVisible()
    assert viewer.fields["Titre"].text() == info.title
    viewer.header_button.click()
    assert not viewer.header_box.isVisible()
