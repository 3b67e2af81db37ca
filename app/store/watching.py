"""The hot folder's loop: a scan at once when watchdog reports a change in the folder (a hint:
network shares miss events, and the observer may die after an outage), and a full scan every few
seconds anyway (the authority)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from app.store.hotfolder import HotFolder, ScanReport, unreadable

log = logging.getLogger(__name__)


def watch_folder(
    folder: HotFolder,
    stop: threading.Event,
    rescan_interval: float = 10.0,
    on_report: Callable[[ScanReport], None] | None = None,
) -> None:
    """Scan until ``stop`` is set (sooner while files are settling)."""
    hint = threading.Event()
    observer = _watch(os.path.abspath(folder.folder), hint)
    try:
        while not stop.is_set():
            hint.clear()
            try:
                report = folder.scan()
            except Exception as error:  # the loop outlives any one pass
                log.error("hot folder: pass failed (%s)", type(error).__name__)
                report = ScanReport(failures=[("", unreadable(error))])
            if on_report is not None:
                on_report(report)
            delay = (
                min(rescan_interval, max(folder.stable_seconds, 0.1)) if report.waiting else rescan_interval
            )
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

    class Hint(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            where = event.dest_path if event.event_type == "moved" else event.src_path
            if event.event_type != "deleted" and os.path.dirname(os.fsdecode(where)) == folder:
                hint.set()

    try:
        observer = Observer()
        observer.daemon = True
        observer.schedule(Hint(), folder, recursive=False)
        observer.start()
        return observer
    except Exception as error:  # e.g. a network share, or no inotify watch left
        log.warning("hot folder: no file system watcher (%s); polling only", type(error).__name__)
        return None
