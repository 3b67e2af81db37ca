"""Issue 14, item 4: the state is always current: the list after an upload, a replacement keeping
the replaced document's visibility, the upload form after a send, the host status (offscreen,
against the sandbox host over real mutual TLS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.dmp_client.core.metadata import Visibility
from app.services.workspace import Workspace
from app.store.queue import State
from app.ui.main_window import MainWindow
from app.ui.upload_panel import UploadPanel
from tests.ui.conftest import sandbox_patient

WAIT = 30_000


@pytest.fixture
def window(qtbot: QtBot, gp_workspace: Workspace) -> MainWindow:
    main = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(main)
    main.show()
    main._show_connection(gp_workspace.connection)
    return main


def test_a_replacement_keeps_the_replaced_visibility_and_it_can_be_changed(
    qtbot: QtBot, gp_workspace: Workspace
) -> None:
    panel = UploadPanel(gp_workspace, lambda: sandbox_patient("P03"))
    qtbot.addWidget(panel)
    panel.set_replaces("1.2.3.4", "Compte rendu masqué", frozenset({"N", "MASQUE_PS"}))
    assert panel.flags[Visibility.MASKED_FROM_PS].isChecked()
    assert not panel.flags[Visibility.INVISIBLE_TO_PATIENT].isChecked()
    assert "masqué aux autres professionnels" in panel.preview.toPlainText()
    panel.flags[Visibility.MASKED_FROM_PS].setChecked(False)  # changeable
    assert "masqué aux autres professionnels" not in panel.preview.toPlainText()


def test_the_form_resets_after_a_send_and_the_list_and_host_status_follow(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.patient_panel.select(sandbox_patient("P03"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    window.host_label.setText(f"DMP : {window.host_name} — injoignable [DMP-INJOIGNABLE]")
    overviews: list[Any] = []
    overview = window.workspace.overview
    window.workspace.overview = lambda p: (overviews.append(p), overview(p))[1]  # type: ignore[method-assign]
    panel = window.upload
    path = tmp_path / "cr.txt"
    path.write_text("Compte rendu de consultation\n", encoding="utf-8")
    panel.set_file(path)
    qtbot.waitUntil(lambda: panel.file == path, timeout=WAIT)
    assert panel.types.select("11488-4")
    panel.title.setText("Consultation du jour")
    panel.flags[Visibility.INVISIBLE_TO_PATIENT].setChecked(True)
    with qtbot.waitSignal(panel.sent, timeout=WAIT) as sent:
        panel.send_button.click()
    assert sent.args[0].state is State.SENT
    assert "a40000" not in panel.preview.toHtml().lower()  # no red "Document incomplet" after a send
    assert not any(box.isChecked() for box in panel.flags.values()) and panel.title.text() == ""
    assert "joignable" in window.host_label.text() and "injoignable" not in window.host_label.text()
    qtbot.waitUntil(lambda: bool(overviews), timeout=WAIT)  # the DMP state and list are read again
    qtbot.waitUntil(lambda: window.pending == 0, timeout=WAIT)
