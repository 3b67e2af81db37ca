"""The « Dossier de dépôt » tab, in the real main window connected as the hospital's secretariat
(structure certificate, the in-process sandbox host): choose the folder, watch it, a valid pair is
queued and shown in the queue view, a bad one's explanation is shown in full, stop, the settings
kept when the application opens again, no thread left, and the watcher thread never in Qt code.
Fictitious sandbox patients only (test INS OID)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config.layers import Config
from app.services.workspace import HOT_FOLDER_STOPPED, HOT_FOLDER_WATCHED, Workspace
from app.store.hotfolder import ERRORS, NOTE
from app.ui import hotfolder_panel as panel_module
from app.ui import qt
from tests.store.test_hotfolder import PDF, drop, names, sidecar

THREAD = "dossier-de-depot"


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


@pytest.fixture
def config_files(tmp_path: Path) -> tuple[Path, Path]:
    policy, user = tmp_path / "politique.toml", tmp_path / "reglages.toml"
    policy.write_text("", "utf-8")
    return policy, user


def load(files: tuple[Path, Path]) -> Config:
    return Config.load(environ={}, policy_file=files[0], user_file=files[1], registry=None)


@pytest.fixture
def secretariat(structure_workspace: Workspace, config_files: tuple[Path, Path]) -> Iterator[Workspace]:
    settings = dataclasses.replace(structure_workspace.settings, config=load(config_files))
    structure_workspace.settings = settings
    yield structure_workspace
    structure_workspace.hot_folder.stop()


def open_window(qtbot: Any, workspace: Workspace) -> Any:
    from app.ui.main_window import MainWindow

    main = MainWindow(workspace, monitor_cards=False)
    qtbot.addWidget(main)
    main.show()
    main._show_connection(workspace.connection)
    return main


@pytest.fixture
def qt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that ran the panel's widget code (the GUI thread only, never the watcher)."""
    seen: list[str] = []
    for name in ("poll", "_show", "_show_note", "_update_buttons"):
        real = getattr(panel_module.HotFolderPanel, name)

        def spy(self: Any, *args: Any, _real: Any = real) -> Any:
            seen.append(threading.current_thread().name)
            return _real(self, *args)

        monkeypatch.setattr(panel_module.HotFolderPanel, name, spy)
    return seen


def test_the_secretary_watches_a_folder_from_the_gui(
    qtbot: Any,
    secretariat: Workspace,
    config_files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qt_calls: list[str],
) -> None:
    inbox = tmp_path / "partage" / "comptes-rendus"
    inbox.mkdir(parents=True)
    monkeypatch.setattr(qt.QFileDialog, "getExistingDirectory", lambda *a, **k: str(inbox))
    main = open_window(qtbot, secretariat)
    panel = main.hot_folder
    assert main.tabs.tabText(main.tabs.indexOf(panel)) == "Dossier de dépôt"
    assert "arrêté" in panel.state.text() and not panel.stop_button.isEnabled()

    panel.choose_button.click()
    assert panel.folder.text() == str(inbox)
    panel.stable.setValue(0.0)
    panel.start_button.click()
    qtbot.waitUntil(lambda: secretariat.hot_folder.status().state == HOT_FOLDER_WATCHED, timeout=5000)
    qtbot.waitUntil(lambda: secretariat.hot_folder.status().passes >= 1, timeout=5000)
    qtbot.waitUntil(lambda: "surveillé" in panel.state.text() and panel.stop_button.isEnabled(), timeout=5000)
    assert len(watcher_threads()) == 1

    # A valid pair: queued, moved to .en-cours/, shown in the queue view.
    drop(inbox, "cr-consultation.pdf", PDF)
    assert secretariat.store is not None
    queue = secretariat.store.queue
    qtbot.waitUntil(lambda: len(queue.entries()) == 1, timeout=15000)
    qtbot.waitUntil(lambda: panel.in_progress.count() == 2, timeout=5000)
    assert "2 fichiers" in panel.in_progress_title.text()
    table = main.queue.table
    qtbot.waitUntil(
        lambda: any(
            (item := table.item(r, c)) is not None and "Compte rendu de consultation" in item.text()
            for r in range(table.rowCount())
            for c in range(table.columnCount())
        ),
        timeout=10000,
    )
    assert queue.entries()[0].source_name == "cr-consultation.pdf"

    # A bad pair (wrong NIR key): its explanation in full, wrapped.
    drop(inbox, "cr-erreur.pdf", PDF + b"%2", meta=sidecar(ins="207058575627096"))
    qtbot.waitUntil(lambda: "cr-erreur.pdf" in panel.note_texts(), timeout=15000)
    text = (inbox / ERRORS / ("cr-erreur.pdf" + NOTE)).read_text("utf-8")
    assert panel.note_texts()["cr-erreur.pdf"] == text and "INS-NIR-CLE-FAUSSE" in text
    assert "1 document" in panel.notes_title.text()
    panel.notes.setCurrentRow(0)
    assert panel.note_text.toPlainText() == text
    assert panel.note_text.lineWrapMode() == qt.QPlainTextEdit.LineWrapMode.WidgetWidth
    assert panel.notes.item(0).text().startswith("cr-erreur.pdf — ")
    assert len(queue.entries()) == 1

    # Corrected in erreurs/, then examined again from the tab.
    (inbox / ERRORS / "cr-erreur.pdf.dmp.json").write_text(json.dumps(sidecar()), "utf-8")
    assert panel.retry_button.isEnabled()
    panel.retry_button.click()
    qtbot.waitUntil(lambda: len(queue.entries()) == 2, timeout=15000)
    qtbot.waitUntil(lambda: not panel.note_texts() and panel.notes.count() == 0, timeout=5000)
    assert names(inbox / ERRORS) == set()

    panel.stop_button.click()
    qtbot.waitUntil(lambda: not secretariat.hot_folder.running, timeout=10000)
    qtbot.waitUntil(lambda: "arrêté" in panel.state.text(), timeout=5000)
    assert secretariat.hot_folder.status().state == HOT_FOLDER_STOPPED and not watcher_threads()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=5000)

    # The settings were saved in the user's layer.
    saved = load(config_files)
    assert saved.get("DMP_DOSSIER_DEPOT") == str(inbox)
    assert (saved.get("DMP_DEPOT_MODE"), saved.get("DMP_DEPOT_STABLE_S"), saved.get("DMP_DEPOT_ACTIF")) == (
        "structure",
        "0",
        "0",
    )
    main_thread = threading.main_thread().name
    assert qt_calls and set(qt_calls) == {main_thread}


def test_the_settings_are_kept_and_the_watch_resumes_when_the_application_opens_again(
    qtbot: Any, secretariat: Workspace, config_files: tuple[Path, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "depot"
    inbox.mkdir()
    main = open_window(qtbot, secretariat)
    panel = main.hot_folder
    panel.folder.setText(str(inbox))
    panel.stable.setValue(1.5)
    panel.start_button.click()
    qtbot.waitUntil(lambda: secretariat.hot_folder.running and panel.stop_button.isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: load(config_files).get("DMP_DEPOT_ACTIF") == "1", timeout=5000)
    secretariat.hot_folder.stop()  # the application closed (closeEvent stops it: below)
    assert not watcher_threads()

    # Opened again: the user's settings read from the file, the watch started again on its own.
    secretariat.settings = dataclasses.replace(secretariat.settings, config=load(config_files))
    again = open_window(qtbot, secretariat)
    other = again.hot_folder
    assert other.folder.text() == str(inbox) and other.stable.value() == 1.5
    assert other.mode.currentIndex() == 0
    qtbot.waitUntil(lambda: secretariat.hot_folder.running, timeout=5000)
    assert secretariat.hot_folder.status().folder == inbox and len(watcher_threads()) == 1

    again.close()  # closeEvent closes the workspace, which stops the watch: no thread left
    assert not secretariat.hot_folder.running and not watcher_threads()


def test_a_missing_folder_is_said_in_french(qtbot: Any, secretariat: Workspace, tmp_path: Path) -> None:
    main = open_window(qtbot, secretariat)
    panel = main.hot_folder
    panel.start_button.click()
    assert panel.message.text() == "Choisissez d'abord le dossier de dépôt."
    panel.folder.setText(str(tmp_path / "absent"))
    panel.start_button.click()
    qtbot.waitUntil(lambda: "Dossier de dépôt introuvable" in panel.message.text(), timeout=5000)
    assert "[DMP-FICHIER]" in panel.message.text() and not secretariat.hot_folder.running
    assert not watcher_threads()


def test_the_tab_fits_a_1366x768_screen_with_long_names_and_explanations(
    qtbot: Any, secretariat: Workspace, tmp_path: Path
) -> None:
    laptop = qt.QSize(1366, 768)
    inbox = tmp_path / ("partage-du-secretariat-des-consultations-externes-" * 3) / "depot"
    inbox.mkdir(parents=True)
    long_name = "compte-rendu-de-consultation-de-cardiologie-du-service-des-explorations-" * 2 + ".pdf"
    drop(inbox, long_name, PDF, meta=sidecar(ins="207058575627096", titre="T" * 200))
    main = open_window(qtbot, secretariat)
    main.resize(laptop)
    panel = main.hot_folder
    main.tabs.setCurrentWidget(panel)
    panel.folder.setText(str(inbox))
    panel.stable.setValue(0.0)
    panel.start_button.click()
    qtbot.waitUntil(lambda: long_name in panel.note_texts(), timeout=15000)
    panel.notes.setCurrentRow(0)
    qtbot.wait(200)  # layouts are applied on posted events
    assert main.size() == laptop and main.minimumSizeHint().width() <= laptop.width()
    assert panel.note_text.toPlainText() == panel.note_texts()[long_name]
    assert panel.note_text.document().size().width() <= panel.note_text.viewport().width() + 1  # wrapped
