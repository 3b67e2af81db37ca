"""The queue panel over the real local store and the sandbox host: rows and French states, retry,
cancel (confirmed first) and the store's refusal, "Envoyer maintenant", history, counts signal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.services.workspace import Workspace
from app.store.queue import Entry, State, UploadQueue
from app.store.request import UploadRequest
from app.ui.qt import QMessageBox
from app.ui.queue_panel import COLUMNS, QueuePanel
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient

WAIT = 20_000


def queue(workspace: Workspace) -> UploadQueue:
    assert workspace.store is not None
    return workspace.store.queue


def enqueue(workspace: Workspace, tmp_path: Path, title: str) -> Entry:
    patient = sandbox_patient("P01")
    assert patient.traits is not None
    mode, professional = workspace.send_mode()
    path = tmp_path / f"{title}.txt"
    path.write_text(f"{title}\n", encoding="utf-8")
    request = UploadRequest(patient.ins, patient.traits, "text/plain", "11488-4", title, mode, professional)
    return workspace.enqueue(request, path)


def cells(panel: QueuePanel, entry_id: int) -> dict[str, str]:
    for row in range(panel.table.rowCount()):
        item = panel.table.item(row, 0)
        if item is not None and item.text() == str(entry_id):
            return {name: panel.table.item(row, c).text() for c, name in enumerate(COLUMNS)}  # type: ignore[union-attr]
    return {}


def select(panel: QueuePanel, entry_id: int) -> None:
    row = next(i for i, e in enumerate(panel.entries) if e.id == entry_id)
    panel.table.selectRow(row)
    assert panel.selected_entry() is not None and panel.selected_entry().id == entry_id  # type: ignore[union-attr]


@pytest.fixture
def answer_yes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def question(parent: Any, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_rows_in_french_and_the_counts_signal(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    first = enqueue(structure_workspace, tmp_path, "CR de sortie")
    second = enqueue(structure_workspace, tmp_path, "CR opératoire")
    queue(structure_workspace).mark_failed(second.id, "DMPRefused", "Le DMP a refusé ce document.")
    counts: list[dict[State, int]] = []
    panel = QueuePanel(structure_workspace, interval_ms=100)
    qtbot.addWidget(panel)
    panel.counts_changed.connect(counts.append)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=WAIT)
    row = cells(panel, first.id)
    assert row["État"] == "en attente" and row["Titre"] == "CR de sortie"
    assert row["Type"] == "CR ou fiche de consultation ou de visite" and row["Tentatives"] == "0"
    assert row["Prochaine tentative"] == "dès que possible" and row["Taille"] == "13 octets"
    failed = cells(panel, second.id)
    assert (
        failed["État"] == "action requise" and failed["Raison"] == "[DMPRefused] Le DMP a refusé ce document."
    )
    assert failed["Prochaine tentative"] == "—"
    assert "1 en attente, 1 action requise" in panel.summary.text()
    enqueue(structure_workspace, tmp_path, "CR de consultation")
    qtbot.waitUntil(lambda: bool(counts) and counts[-1][State.QUEUED] == 2, timeout=WAIT)
    assert counts[-1][State.FAILED] == 1 and counts[-1][State.SENT] == 0
    panel.filter.setCurrentIndex(3)  # "Annulées"
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=WAIT)


def test_retry_and_cancel_after_confirmation(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, answer_yes: list[str]
) -> None:
    waiting = enqueue(structure_workspace, tmp_path, "À annuler")
    failed = enqueue(structure_workspace, tmp_path, "À relancer")
    queue(structure_workspace).mark_failed(failed.id, "DMP-TLS", "Certificat refusé.")
    panel = QueuePanel(structure_workspace, interval_ms=60_000)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=WAIT)
    select(panel, failed.id)
    assert panel.retry_button.isEnabled() and panel.cancel_button.isEnabled()
    panel.retry_button.click()
    qtbot.waitUntil(lambda: cells(panel, failed.id).get("État") == "en attente", timeout=WAIT)
    assert f"Entrée n° {failed.id} relancée" in panel.message.text()
    select(panel, waiting.id)
    panel.cancel_button.click()
    assert answer_yes and "« À annuler »" in answer_yes[0] and "effacé" in answer_yes[0]
    qtbot.waitUntil(lambda: cells(panel, waiting.id).get("État") == "annulé", timeout=WAIT)
    assert queue(structure_workspace).get(waiting.id).state is State.CANCELLED
    select(panel, waiting.id)
    assert not panel.retry_button.isEnabled() and not panel.cancel_button.isEnabled()
    panel.show_history()
    qtbot.waitUntil(lambda: not panel.history.isHidden(), timeout=WAIT)
    assert "en attente" in panel.history.toPlainText() and "annulé" in panel.history.toPlainText()


def test_cancel_answered_no_changes_nothing(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = enqueue(structure_workspace, tmp_path, "À garder")
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No)
    panel = QueuePanel(structure_workspace, interval_ms=60_000)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT)
    select(panel, entry.id)
    panel.cancel_button.click()
    qtbot.wait(200)
    assert queue(structure_workspace).get(entry.id).state is State.QUEUED


def test_a_refused_cancel_shows_the_store_error(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, answer_yes: list[str]
) -> None:
    entry = enqueue(structure_workspace, tmp_path, "Peut-être reçu")
    queue(structure_workspace).mark_uncertain(entry.id)  # its last attempt may have reached the host
    panel = QueuePanel(structure_workspace, interval_ms=60_000)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT)
    assert cells(panel, entry.id)["État"] == "en attente (à vérifier auprès du DMP)"
    select(panel, entry.id)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: "[FILE-ENVOI-INCERTAIN]" in panel.message.text(), timeout=WAIT)
    assert panel.message.text().startswith(
        "Action refusée : Le dernier envoi de ce document a peut-être abouti"
    )
    assert queue(structure_workspace).get(entry.id).state is State.QUEUED


def test_send_now_drains_off_the_gui_thread(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    entry = enqueue(structure_workspace, tmp_path, "Envoi immédiat")
    panel = QueuePanel(structure_workspace, interval_ms=200)
    qtbot.addWidget(panel)
    panel.drain_button.click()
    assert not panel.drain_button.isEnabled()
    qtbot.waitUntil(lambda: cells(panel, entry.id).get("État") == "envoyé", timeout=WAIT)
    qtbot.waitUntil(lambda: panel.drain_button.isEnabled(), timeout=WAIT)
    assert "Envoi terminé : 1 envoyé, 0 en attente" in panel.message.text()
    assert cells(panel, entry.id)["Raison"].startswith("envoyé le ")
    db = host.store.connect()
    assert db.execute("SELECT count(*) FROM xds_document WHERE title = 'Envoi immédiat'").fetchone()[0] == 1
