"""Issue 14, item 5: the queue panel says which patient each entry is for (name and INS)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.services.workspace import Workspace
from app.ui.queue_panel import QueuePanel
from tests.ui.conftest import sandbox_patient
from tests.ui.test_queue_panel import cells, enqueue


def test_each_entry_shows_its_patient(qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path) -> None:
    entry = enqueue(structure_workspace, tmp_path, "Compte rendu en attente")
    panel = QueuePanel(structure_workspace, interval_ms=60_000)
    qtbot.addWidget(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: bool(cells(panel, entry.id)), timeout=20_000)
    patient = sandbox_patient("P01")
    assert patient.traits is not None
    shown = cells(panel, entry.id)["Patient"]
    assert patient.traits.birth_name in shown and patient.ins.matricule.grouped() in shown


def test_the_queue_is_sent_by_itself_when_the_host_answers_again(
    qtbot: QtBot, gp_workspace: Workspace, tmp_path: Path
) -> None:
    from app.store.queue import State
    from app.ui.main_window import MainWindow

    window = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(window)
    entry = enqueue(gp_workspace, tmp_path, "Envoi différé")
    window.host_down = True  # the last exchange found the host unreachable
    window.run("Un échange", lambda: None)  # the host answers again
    assert gp_workspace.store is not None
    queue = gp_workspace.store.queue
    qtbot.waitUntil(lambda: queue.get(entry.id).state is State.SENT, timeout=30_000)
    assert not window.host_down and "joignable" in window.host_label.text()


def test_the_history_shown_follows_a_cancel(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: object
) -> None:
    from app.ui.qt import QMessageBox
    from tests.ui.test_queue_panel import select

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)  # type: ignore[attr-defined]
    entry = enqueue(structure_workspace, tmp_path, "Historique suivi")
    panel = QueuePanel(structure_workspace, interval_ms=60_000)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: bool(cells(panel, entry.id)), timeout=20_000)
    select(panel, entry.id)
    panel.show_history()
    qtbot.waitUntil(lambda: "en attente" in panel.history.toPlainText(), timeout=20_000)
    assert "annulé" not in panel.history.toPlainText()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: "annulé" in panel.history.toPlainText(), timeout=20_000)
