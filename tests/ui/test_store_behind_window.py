"""dmp-gui opens the encrypted base behind its shown window (issue 16 item 5, app/ui/application.py):
the opening starts once the event loop runs, the queue panel's first read waits for it off the GUI
thread, a connection's journal gets the base, and a base that cannot be opened is said over the window."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.config.settings import Settings
from app.services.workspace import Workspace
from app.store.errors import KeyMissing
from app.store.local_store import LocalStore, StoreOpening, StoreSettings
from app.ui import application
from app.ui.qt import QMessageBox
from tests.keyring_fixture import SystemKeyring
from tests.test_config import load


def test_a_worker_waits_for_the_opening_then_every_reader_has_the_base(
    system_keyring: SystemKeyring, tmp_path: Path
) -> None:
    opening = StoreOpening(StoreSettings(tmp_path / "store"), patience=30.0)
    workspace = Workspace(Settings.load(load(tmp_path)), opening=opening)
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(workspace.store))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and not seen  # not started yet: the worker waits (the window is not shown)
    opening.start()
    worker.join(30)
    assert isinstance(seen[0], LocalStore)
    assert workspace.store is seen[0] and workspace.session.store is seen[0]  # the journal's base
    assert workspace.store_error is None
    workspace.close()
    seen[0].close()


def test_the_main_thread_opens_it_at_once_when_it_asks_first(
    system_keyring: SystemKeyring, tmp_path: Path
) -> None:
    workspace = Workspace(Settings.load(load(tmp_path)), opening=StoreOpening(StoreSettings(tmp_path / "s")))
    store = workspace.store
    assert isinstance(store, LocalStore) and workspace.session.store is store
    workspace.close()
    store.close()


def test_a_base_that_cannot_be_opened_is_said_over_the_shown_window(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(_settings: StoreSettings) -> LocalStore:
        raise KeyMissing()

    monkeypatch.setattr(LocalStore, "open", refuse)
    from app.ui import main_window

    monkeypatch.setattr(main_window.MainWindow, "_start_monitor", lambda self: None)
    said: list[tuple[Any, str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text: said.append((parent, title, text))
    )
    window = application.open_main_window(settings=Settings.load(load(tmp_path)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(said), timeout=30_000)
    parent, title, text = said[0]
    assert parent is window and title == "Base locale indisponible" and "[STORE-CLE-ABSENTE]" in text
    assert window.workspace.store is None and isinstance(window.workspace.store_error, KeyMissing)
    assert window.workspace.session.store is None
