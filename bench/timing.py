"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def best(action: Callable[[], object], runs: int = 5) -> float:
    """The fastest of ``runs`` calls, in seconds (the machine's noise only ever adds time)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)
