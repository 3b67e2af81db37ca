"""Work off the GUI thread: ``run_in_background(fn, on_success, on_failure)`` runs ``fn`` on a
thread pool and delivers its result or error back on the GUI thread (queued signals). The worker
never touches a widget; callbacks run on the GUI thread only.

Long work checks a :class:`Cancel` token between steps (``cancel.requested``); the GUI's "Annuler"
sets it. The caller that makes the token gives it to ``fn`` itself (a closure): ``fn`` takes no
argument.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from app.ui.qt import QObject, QThreadPool, Signal

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
    """One relay for the whole application, created on the GUI thread, connected once.

    Each job emits its number with its outcome; the relay hands it to that job's callbacks. A relay
    per job (a fresh QObject and two ``connect`` calls each time) leaked a reference to ``None``
    per connection in shiboken6 6.11.3 (bench/README.md, soak): every background read of every
    panel counted, for the whole working day.
    """

    finished = Signal(int, bool, object)

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[
            int, tuple[Callable[[Any], None] | None, Callable[[BaseException], None] | None]
        ] = {}
        self.numbers = itertools.count(1)
        self.finished.connect(self._deliver)

    def _deliver(self, number: int, ok: bool, outcome: object) -> None:
        with _lock:
            callbacks = self.pending.pop(number, None)
        if callbacks is None:
            return
        on_success, on_failure = callbacks
        if ok:
            if on_success is not None:
                on_success(outcome)
        elif on_failure is not None:
            on_failure(outcome if isinstance(outcome, BaseException) else RuntimeError(outcome))


_relay: _Relay | None = None


def _the_relay() -> _Relay:
    global _relay
    if _relay is None:
        _relay = _Relay()  # on the GUI thread (run_in_background is called from it): delivered there
    return _relay


class _Job:
    """One piece of background work, handed to the pool as a plain callable (never a QRunnable).

    A Python ``QRunnable`` given to ``QThreadPool.start`` leaked whenever it finished first:
    shiboken6 releases the GIL for ``start()`` and only then adds the runnable as a child of the
    pool's wrapper; a fast job (a queue read) could run and be deleted by the pool (auto-delete)
    before ``start()`` returned, and the late parent link then kept the dead wrapper, its closure
    and everything the closure held for the life of the global pool, invisibly to ``gc`` (about one
    per record refresh in the soak, bench/README.md). The callable overload holds one plain
    reference, dropped under the GIL once the call is over.
    """

    __slots__ = ("fn", "number", "relay")

    def __init__(self, fn: Callable[[], Any], relay: _Relay, number: int) -> None:
        self.fn = fn
        self.relay = relay
        self.number = number

    def __call__(self) -> None:
        # A failure's traceback keeps this frame alive (the f_back of fn's frames) for as long as
        # the delivered error is kept (a panel's last error): the frame must not hold the job
        # (and through it fn's closure). Kept errors kept one _Job per failed read (bench/README.md).
        fn, relay, number = self.fn, self.relay, self.number
        del self
        try:
            result = fn()
        except BaseException as error:  # delivered to on_failure, never lost in a worker
            del fn
            _forget_locals(error)
            relay.finished.emit(number, False, error)
        else:
            del fn
            relay.finished.emit(number, True, result)


def _forget_locals(error: BaseException) -> None:
    """Keep the traceback's file:line frames (the log's only use of them, app/errors.py) but not
    their local variables: a delivered error is often kept by a panel, and its frames held this
    runnable, its closure and whatever the failed work had read (answers, patient data)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # finished frames only; ours is still running
        current = current.__cause__ or current.__context__
    if error.__traceback__ is not None and error.__traceback__.tb_frame.f_code is _Job.__call__.__code__:
        error.__traceback__ = error.__traceback__.tb_next  # drop this runnable's own (running) frame


def run_in_background(
    fn: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    *,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` on the pool; callbacks on the GUI thread."""
    relay = _the_relay()
    with _lock:
        number = next(relay.numbers)
        relay.pending[number] = (on_success, on_failure)
    (pool or QThreadPool.globalInstance()).start(_Job(fn, relay, number))  # the callable overload
