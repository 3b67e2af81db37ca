"""Background jobs must not outlive their delivery (app/ui/tasks.py).

The soak (bench/soak_gui.py) counted one more ``_Job`` alive per failed background read: a
delivered error's traceback kept the job's own frame (the ``f_back`` of the failed work's frames),
and that frame held the job and its closure for as long as a panel kept the error. It also counted
one per record refresh with queue entries waiting: the pool's wrapper kept fast finished jobs.
"""

from __future__ import annotations

import gc
import time

from pytestqt.qtbot import QtBot

from app.ui import tasks
from app.ui.qt import QThreadPool

N = 30


def _alive_jobs(fn: object) -> int:
    """The jobs of this test's work still alive (an earlier test's panels may still hold or run
    jobs of their own: they are not counted)."""
    gc.collect()
    return sum(isinstance(item, tasks._Job) and item.fn is fn for item in gc.get_objects())


def _none_alive(qtbot: QtBot, fn: object) -> None:
    """The test's last job may still be finishing: wait for the count to reach zero, up to 5 s; 30
    kept jobs would never go."""
    alive: list[int] = []

    def settled() -> bool:
        alive.append(_alive_jobs(fn))
        return alive[-1] == 0

    try:
        qtbot.waitUntil(settled, timeout=5_000)
    except Exception:
        raise AssertionError(f"{alive[-1]} background jobs still alive") from None


def _fail() -> None:
    raise OSError("base verrouillée")


def _run(qtbot: QtBot, fn: object, kept: list[object]) -> None:
    assert callable(fn)
    for _ in range(N):
        tasks.run_in_background(fn, kept.append, kept.append)
    qtbot.waitUntil(lambda: len(kept) == N, timeout=10_000)
    QThreadPool.globalInstance().waitForDone()


def test_kept_errors_keep_no_job_alive(qtbot: QtBot) -> None:
    kept: list[object] = []  # as a panel keeps its last error
    _run(qtbot, _fail, kept)
    assert all(isinstance(error, OSError) for error in kept)
    _none_alive(qtbot, _fail)
    # The traceback's file:line frames are still there for the log (app/errors.py).
    error = kept[0]
    assert isinstance(error, OSError) and error.__traceback__ is not None
    assert error.__traceback__.tb_frame.f_code is _fail.__code__


def test_kept_results_keep_no_job_alive(qtbot: QtBot) -> None:
    kept: list[object] = []
    work = lambda: time.sleep(0.001) or [1, 2]  # noqa: E731
    _run(qtbot, work, kept)
    assert kept == [[1, 2]] * N
    _none_alive(qtbot, work)


def test_jobs_that_finish_before_start_returns_are_not_kept(qtbot: QtBot) -> None:
    """A job done before ``QThreadPool.start`` returned was kept for ever by the pool's wrapper (the
    soak's one ``_Job`` per record refresh: the queue panel's fast reads). A race: before the fix
    about one run in two of 2,000 instant jobs kept 1–18 of them; 10 rounds make it certain."""
    work = lambda: None  # noqa: E731  (instant: done before start() gets the GIL back)
    for _ in range(10):
        done: list[object] = []
        for _ in range(2_000):
            tasks.run_in_background(work, done.append, done.append)
        qtbot.waitUntil(lambda: len(done) == 2_000, timeout=20_000)  # noqa: B023
        QThreadPool.globalInstance().waitForDone()
        assert _alive_jobs(work) == 0, f"{_alive_jobs(work)} finished jobs kept by the pool"
