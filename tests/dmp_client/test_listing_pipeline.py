"""The listing's pipeline (issue 16 item 4): ``transport.concurrency`` batches on the wire all the
time, each wire slot taken again as soon as its own answer is in (not when the oldest one is),
requests built and answers read outside the slots, answers handed out in the order of the
batches, a bounded number held, nothing sent after a stop."""

from __future__ import annotations

import threading
import time
import types

from app.dmp_client.client import DmpClient
from app.dmp_client.core.iti18 import QueryResult
from app.dmp_client.exchange import _wire
from app.services.training import sandbox_patient

INS = sandbox_patient("P01").ins  # type: ignore[union-attr]  # a sandbox test identity
EMPTY = QueryResult((), (), (), (), ())


class _Recorder:
    """A stand-in for ``DmpClient.query``: the first batch slow, the others quick; who is in flight."""

    def __init__(self, slow: float = 0.4, quick: float = 0.02) -> None:
        self.slow, self.quick = slow, quick
        self.lock = threading.Lock()
        self.started: list[tuple[float, str]] = []
        self.ended: dict[str, float] = {}
        self.flight = 0
        self.most = 0

    def __call__(
        self, ins: object, query: object, parameters: dict[str, list[str]], return_type: object
    ) -> QueryResult:
        first = parameters["$XDSDocumentEntryEntryUUID"][0]
        time.sleep(0.002)  # building the request: outside the wire slot
        with _wire.slots.held():  # as ClientBase._exchange_raw around transport.post
            with self.lock:
                self.started.append((time.monotonic(), first))
                self.flight += 1
                self.most = max(self.most, self.flight)
            time.sleep(self.slow if first.startswith("('e0'") else self.quick)
            with self.lock:
                self.flight -= 1
                self.ended[first] = time.monotonic()
        time.sleep(0.002)  # reading the answer: outside the wire slot
        return EMPTY


def _client(recorder: _Recorder, width: int = 4) -> DmpClient:
    client = object.__new__(DmpClient)
    client.transport = types.SimpleNamespace(concurrency=width)  # type: ignore[assignment]
    client.query = recorder  # type: ignore[method-assign, assignment]
    return client


def test_slots_are_refilled_while_the_oldest_batch_is_slow() -> None:
    recorder = _Recorder()
    entries = [f"e{i}" for i in range(20 * 20)]
    got = [batch[0] for batch, _ in _client(recorder).iter_batches(INS, entries)]
    assert got == entries[::20]  # every batch once, in order
    assert recorder.most == 4  # never more than the transport's concurrency on the wire
    slow_end = next(at for first, at in recorder.ended.items() if first.startswith("('e0'"))
    during = [first for at, first in recorder.started if at < slow_end]
    # Held answers are bounded to 3 x concurrency: the slow batch and eleven after it went out while
    # it was on the wire (refilling only when the oldest answer is in would have sent three).
    assert len(during) == 12


def test_nothing_is_sent_after_a_stop() -> None:
    recorder = _Recorder(slow=0.05)
    stop = threading.Event()
    entries = [f"e{i}" for i in range(20 * 30)]
    seen = 0
    for _batch, _result in _client(recorder).iter_batches(INS, entries, stop):
        seen += 1
        stop.set()
        sent_at_stop = len(recorder.started)
    time.sleep(0.2)
    assert seen == 1
    assert len(recorder.started) == sent_at_stop <= 12  # the ones waiting for a slot were not sent
