"""French counts for the interface: ``2 envoyés``, ``1 envoyé``, ``0 document`` (French puts 0 and
1 in the singular), thousands with a non-breaking space; one place instead of ``(s)`` and ad hoc
``'s' if n > 1`` in every panel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.store.queue import State

# The queue's states counted: (singular, plural); "en attente" and "envoi en cours" do not vary.
STATE_COUNTS: Mapping[State, tuple[str, str]] = {
    State.QUEUED: ("en attente", "en attente"),
    State.SENDING: ("envoi en cours", "envois en cours"),
    State.SENT: ("envoyé", "envoyés"),
    State.FAILED: ("action requise", "actions requises"),
    State.CANCELLED: ("annulé", "annulés"),
}


def number(n: int) -> str:
    """``2 047`` (the French thousands separator, a non-breaking space)."""
    return f"{n:,}".replace(",", "\u00a0")


def word(n: int, singular: str, plural: str | None = None) -> str:
    """The word agreeing with ``n``: singular for 0 and 1, else ``plural`` (default: ``singular``
    + « s »; compound words give their plural, e.g. « action requise » / « actions requises »)."""
    return singular if abs(n) < 2 else (plural if plural is not None else singular + "s")


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(2, "envoyé")`` → ``2 envoyés``; ``count(1, "document")`` → ``1 document``."""
    return f"{number(n)} {word(n, singular, plural)}"


def state_counts(counts: Mapping[State, int]) -> str:
    """``2 en attente, 3 envoyés, 1 action requise`` (the states that have entries)."""
    parts = [count(n, *STATE_COUNTS[state]) for state, n in counts.items() if n]
    return ", ".join(parts) or "file vide"


class _Report(Protocol):
    sent: list[int]
    confirmed: list[int]
    waiting: list[int]
    failed: list[int]


def drain_summary(report: _Report) -> str:
    """A drain's outcome: ``3 envoyés (dont 1 déjà reçu par le DMP), 0 en attente, 1 en échec``."""
    sent = len(report.sent) + len(report.confirmed)
    text = count(sent, "envoyé")
    if report.confirmed:
        text += f" (dont {count(len(report.confirmed), 'déjà reçu')} par le DMP)"
    return f"{text}, {number(len(report.waiting))} en attente, {number(len(report.failed))} en échec"
