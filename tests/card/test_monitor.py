"""The reader monitor's event logic, with a scripted PC/SC context (readers can vanish: unplugged)."""

from __future__ import annotations

import pytest

from app.card.pcsc import CardEvent, ReaderMonitor, ReaderState


class ScriptedContext:
    def __init__(self, script: list[list[ReaderState]]) -> None:
        self.script = script

    def states(self) -> list[ReaderState]:
        return self.script.pop(0)


def run(script: list[list[ReaderState]]) -> list[tuple[str, CardEvent]]:
    events: list[tuple[str, CardEvent]] = []
    monitor = ReaderMonitor(lambda reader, event, atr: events.append((reader, event)))
    context = ScriptedContext(script)
    monitor._known = {s.name: s.atr for s in context.states()}
    while context.script:
        monitor._poll(context)  # type: ignore[arg-type]
    return events


CPS = b"\x3b\x01"
VITALE = b"\x3b\x02"


def test_insertion_removal_and_swap() -> None:
    events = run(
        [
            [ReaderState("A", None)],
            [ReaderState("A", CPS)],
            [ReaderState("A", CPS)],
            [ReaderState("A", VITALE)],
            [ReaderState("A", None)],
        ]
    )
    assert events == [
        ("A", CardEvent.INSERTED),
        ("A", CardEvent.REMOVED),
        ("A", CardEvent.INSERTED),
        ("A", CardEvent.REMOVED),
    ]


def test_unplugged_reader_reports_its_card_removed_and_a_new_reader_its_card_inserted() -> None:
    events = run(
        [[ReaderState("A", CPS), ReaderState("B", None)], [ReaderState("B", None)], [ReaderState("C", CPS)]]
    )
    assert events == [("A", CardEvent.REMOVED), ("C", CardEvent.INSERTED)]


def test_no_pcsc_service_is_reported_not_raised_in_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.card import pcsc
    from app.card.errors import NoReader

    def absent() -> None:
        raise NoReader()

    monkeypatch.setattr(pcsc, "PcscContext", absent)
    monitor = pcsc.ReaderMonitor(lambda *args: None)
    monitor.start()
    assert isinstance(monitor.error, NoReader)
    monitor.stop()
