"""One thread owns the card: PKCS#11 sessions and PC/SC contexts are not safe across threads."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

THREAD_NAME = "carte"

P = ParamSpec("P")
T = TypeVar("T")


def card_thread_only(func: Callable[P, T]) -> Callable[P, T]:
    """Refuse to run ``func`` outside the card thread (a programming error, not a user error)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        name = threading.current_thread().name
        if not name.startswith(THREAD_NAME):
            raise RuntimeError(f"{func.__qualname__} must run on the card thread, not {name!r}")
        return func(*args, **kwargs)

    return wrapper


class CardThread:
    """A single-worker executor whose thread is the only one allowed to touch the card."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)

    def submit(self, func: Callable[..., T], *args: object) -> Future[T]:
        return self._executor.submit(func, *args)

    def run(self, func: Callable[..., T], *args: object) -> T:
        """Run on the card thread and wait for the result (exceptions are re-raised here)."""
        return self.submit(func, *args).result()

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking work; what is queued (a token close after a removal) still runs."""
        self._executor.shutdown(wait=wait, cancel_futures=False)
