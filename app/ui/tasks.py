"""Work off the GUI thread: ``run_in_background(fn, on_success, on_failure)`` runs ``fn`` on a
thread pool and delivers its result or error back on the GUI thread (queued signals). The worker
never touches a widget; callbacks run on the GUI thread only.

Long work checks a :class:`Cancel` token between steps (``cancel.requested``); the GUI's "Annuler"
sets it. The caller that makes the token gives it to ``fn`` itself (a closure): ``fn`` takes no
argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from app.ui.qt import QObject, QRunnable, QThreadPool, Signal

_live: set[_Relay] = set()  # relays alive until their result is delivered
_lock = threading.Lock()


class Cancel:
    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def event(self) -> threading.Event:
        """For services that stop between steps on an event (the queue's drain)."""
        return self._event


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as error:  # delivered to on_failure, never lost in a worker
            self.relay.failed.emit(error)
        else:
            self.relay.succeeded.emit(result)


def run_in_background(
    fn: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    *,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` on the pool; callbacks on the GUI thread."""
    relay = _Relay()  # created on the GUI thread: its signals are delivered there
    with _lock:
        _live.add(relay)

    def finish() -> None:
        with _lock:
            _live.discard(relay)
        relay.deleteLater()

    def succeeded(result: Any) -> None:
        try:
            if on_success is not None:
                on_success(result)
        finally:
            finish()

    def failed(error: BaseException) -> None:
        try:
            if on_failure is not None:
                on_failure(error)
        finally:
            finish()

    relay.succeeded.connect(succeeded)
    relay.failed.connect(failed)
    job = _Job(fn, relay)
    (pool or QThreadPool.globalInstance()).start(job)
