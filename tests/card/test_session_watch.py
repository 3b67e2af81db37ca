"""The card session's life around the reader monitor, with a scripted PC/SC context (no pcscd):
an unexpected error in the monitor thread is reported and ends the session (a removal would go
unseen otherwise); a failed connection leaves no monitor or card thread behind."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from app.card import pcsc, session
from app.card.errors import CardRemoved, CardWatchLost, MiddlewareMissing
from app.card.pcsc import ReaderMonitor, ReaderState
from app.card.session import CardSession, wait_for

CPS = b"\x3b\x01"


class FailingContext:
    """Answers ``good`` polls with a CPS in reader A, then fails as pyscard never documents."""

    def __init__(self, good: int) -> None:
        self.good = good

    def states(self) -> list[ReaderState]:
        if self.good <= 0:
            raise RuntimeError("SCardGetStatusChange: unexpected")
        self.good -= 1
        return [ReaderState("A", CPS)]

    def close(self) -> None:
        pass


class FakeToken:
    closed = 0

    def close(self) -> None:
        FakeToken.closed += 1


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_an_unexpected_monitor_error_is_logged_kept_and_handed_over(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pcsc, "PcscContext", lambda: FailingContext(good=2))
    errors: list[Any] = []
    monitor = ReaderMonitor(lambda *args: None, interval=0.01, on_error=errors.append)
    with caplog.at_level(logging.ERROR, logger="app.card.pcsc"):
        monitor.start()
        assert wait_for(lambda: bool(errors), 5)
    monitor.stop()
    assert isinstance(monitor.error, CardWatchLost) and errors == [monitor.error]
    assert isinstance(monitor.error.__cause__, RuntimeError)
    assert "reader monitor stopped: RuntimeError" in caplog.text
    assert not monitor._thread.is_alive()


def test_the_session_ends_when_its_reader_can_no_longer_be_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcsc, "PcscContext", lambda: FailingContext(good=3))
    monkeypatch.setattr(pcsc.ReaderMonitor.__init__, "__defaults__", (0.01, None))
    monkeypatch.setattr(session, "sandbox_card_serial", lambda reader: None)
    monkeypatch.setattr(session.CpsToken, "open", lambda *args, **kwargs: FakeToken())
    ended: list[bool] = []
    card = CardSession("module.so", reader="A", on_removed=lambda: ended.append(True))
    try:
        assert card.reader == "A"
        assert wait_for(lambda: card.ended, 5)
        assert ended == [True]
        with pytest.raises(CardWatchLost) as caught:
            card.call(lambda: None)
        assert isinstance(caught.value, CardRemoved)  # handled like a removal by every caller
        assert caught.value.code == "CARTE-SURVEILLANCE"
    finally:
        card.close(wait=True)


def test_a_failed_connection_leaves_no_thread_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcsc, "PcscContext", lambda: FailingContext(good=10_000))
    monkeypatch.setattr(session, "sandbox_card_serial", lambda reader: None)

    def no_module(*args: object, **kwargs: object) -> None:
        raise MiddlewareMissing()

    monkeypatch.setattr(session.CpsToken, "open", no_module)
    before = len(_threads("pcsc-monitor")), len(_threads("carte"))
    for _ in range(5):
        with pytest.raises(MiddlewareMissing):
            CardSession("absent.so", reader="A")
    assert wait_for(lambda: (len(_threads("pcsc-monitor")), len(_threads("carte"))) == before, 5), [
        t.name for t in threading.enumerate()
    ]
