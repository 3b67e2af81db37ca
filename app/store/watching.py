"""The hot folder's loop: a scan at once when watchdog reports a change in the folder (a hint:
network shares miss events, and the observer may die after an outage), and a full scan every few
seconds anyway (the authority). It knows nothing of the hot folder itself (``app.store.hotfolder``
imports it, never the reverse): it calls the pass it is given."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # watchdog is imported when a hot folder starts, not with the window
    from watchdog.events import FileSystemEvent

log = logging.getLogger(__name__)


def watch_folder(
    folder: Path,
    one_pass: Callable[[], bool],
    stop: threading.Event,
    rescan_interval: float = 10.0,
    settle_interval: float = 2.0,
) -> None:
    """Run ``one_pass`` (true while files are settling) until ``stop`` is set: at once on a change
    in ``folder``, every ``settle_interval`` seconds while files settle, else every
    ``rescan_interval`` seconds. ``one_pass`` reports its own failures; anything escaping it is
    logged and the loop goes on."""
    hint = threading.Event()
    observer = _watch(os.path.abspath(folder), hint)
    try:
        while not stop.is_set():
            hint.clear()
            try:
                settling = one_pass()
            except Exception as error:  # the loop outlives any one pass
                log.error("hot folder: pass failed (%s)", type(error).__name__)
                settling = False
            delay = min(rescan_interval, max(settle_interval, 0.1)) if settling else rescan_interval
            deadline = time.monotonic() + delay
            while not stop.is_set() and not hint.is_set() and (left := deadline - time.monotonic()) > 0:
                stop.wait(min(left, 0.1))
            if observer is not None and not observer.is_alive():
                log.warning("hot folder: file system watcher stopped; polling only")
                observer = None
    finally:
        if observer is not None:
            observer.stop()
            observer.join(timeout=2)


def _watch(folder: str, hint: threading.Event) -> Any:
    """A watchdog observer that sets ``hint`` on changes in the folder, or None (polling only)."""
    from watchdog.events import FileSystemEventHandler

    class Hint(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            where = event.dest_path if event.event_type == "moved" else event.src_path
            if event.event_type != "deleted" and os.path.dirname(os.fsdecode(where)) == folder:
                hint.set()

    try:
        observer = new_observer()
        observer.daemon = True
        observer.schedule(Hint(), folder, recursive=False)
        observer.start()
        return observer
    except Exception as error:  # e.g. a network share, or no inotify watch left
        log.warning("hot folder: no file system watcher (%s); polling only", type(error).__name__)
        return None


def new_observer() -> Any:
    """watchdog's observer for the platform, imported here: watchdog loads with the first hot folder
    that starts, not with the window (tests/architecture/test_startup_imports.py)."""
    from watchdog.observers import Observer

    return Observer()
