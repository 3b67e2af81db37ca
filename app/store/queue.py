"""The durable upload queue: entries with explicit states, the document's bytes kept encrypted in
the base until the host has acknowledged them, and the history of each entry.

States: ``queued`` (waiting: due now, or later with the reason shown), ``sending`` (claimed by the
process that holds the drain lock), ``sent`` (acknowledged by the host; the bytes are then erased),
``failed`` (refused for good, or needing a person: the reason and the host's code are shown),
``cancelled`` (by a person; the bytes are erased). ``uncertain`` marks an entry whose last attempt
may have reached the host: the next attempt first asks the host for the document's uniqueId.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO

from app.errors import DmpClientError
from app.ins import InsError
from app.store.database import CHUNK, Database, copy_checked
from app.store.errors import (
    EntryNotFound,
    EntryStateError,
    QueuedContentAltered,
    SendMaybeDelivered,
    StoreError,
)
from app.store.identities import IdentityRegistry
from app.store.pseudonym import pseudonym
from app.store.request import SendMode, UploadRequest

STAGE_CHUNKS = 4  # 1 MiB per staging transaction (and in memory)


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


STATE_LABELS = {
    State.QUEUED: "en attente",
    State.SENDING: "envoi en cours",
    State.SENT: "envoyé",
    State.FAILED: "action requise",
    State.CANCELLED: "annulé",
}


@dataclass(frozen=True)
class Entry:
    id: int
    state: State
    created_at: float
    updated_at: float
    mode: SendMode
    professional: str | None
    patient: str  # pseudonym
    request: UploadRequest
    unique_id: str
    size: int
    sha256: str
    source_name: str | None
    attempts: int
    uncertain: bool
    next_attempt_at: float
    reason_code: str | None
    reason: str | None
    sent_at: float | None
    host_entry_id: str | None

    @property
    def title(self) -> str:
        return self.request.title


_COLUMNS = (
    "id, state, created_at, updated_at, mode, professional, patient, request, unique_id, size, sha256, "
    "source_name, attempts, uncertain, next_attempt_at, reason_code, reason, sent_at, host_entry_id"
)


def _entry(row: Any) -> Entry:
    return Entry(
        row[0],
        State(row[1]),
        row[2],
        row[3],
        SendMode(row[4]),
        row[5],
        row[6],
        UploadRequest.from_json(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        bool(row[13]),
        row[14],
        row[15],
        row[16],
        row[17],
        row[18],
    )


class UploadQueue:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], float] = time.time,
        identities: IdentityRegistry | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        # The feeding gate (LocalStore always gives it): only a qualifiée identity is queued.
        self.identities = identities

    # -- adding ---------------------------------------------------------------------------------

    def enqueue(
        self,
        request: UploadRequest,
        content: BinaryIO,
        *,
        source_digest: str | None = None,
        source_name: str | None = None,
    ) -> Entry:
        """Store the request and the document's bytes in one transaction: when this returns, the
        entry survives a crash or a power cut. The document's identity (uniqueId, setId, creation
        time) is pinned now, so every attempt sends the same document."""
        request.check()
        if self.identities is not None:
            self.identities.require_qualified(request.ins, request.traits)
        if source_digest is not None:
            existing = self.db.execute("SELECT id FROM queue_entry WHERE source_digest = ?", (source_digest,))
            if existing:
                return self.get(existing[0][0])
        now = self.clock()
        pinned = request.pinned(dt.datetime.fromtimestamp(now).astimezone())
        patient = pseudonym(self.db, request.ins)
        token = secrets.token_hex(16)
        try:
            size, sha256 = self._stage(token, content, now)
            with self.db.write() as cx:
                cursor = cx.execute(
                    "INSERT INTO queue_entry (created_at, updated_at, state, mode, professional, patient, "
                    "request, unique_id, size, sha256, source_digest, source_name, next_attempt_at, "
                    "content_token) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now,
                        now,
                        str(pinned.mode),
                        pinned.professional,
                        patient,
                        pinned.to_json(),
                        pinned.document_id,
                        size,
                        sha256,
                        source_digest,
                        source_name,
                        now,
                        token,
                    ),
                )
                entry_id = cursor.lastrowid
                self._event(cx, entry_id, State.QUEUED, None, now)
        except BaseException:
            # Else swept later by ``recover`` (a full disk may refuse even this).
            with contextlib.suppress(StoreError), self.db.write() as cx:
                cx.execute("DELETE FROM queue_blob WHERE token = ?", (token,))
            raise
        return self.get(entry_id)

    def _stage(self, token: str, content: BinaryIO, now: float) -> tuple[int, str]:
        """The bytes under ``token``, a few chunks per transaction: the source (perhaps a slow
        share) is read outside the base's write lock. Returns their size and SHA-256."""
        digest = hashlib.sha256()
        size = seq = 0
        while True:
            batch: list[tuple[str, int, bytes, float]] = []
            while len(batch) < STAGE_CHUNKS and (chunk := content.read(CHUNK)):
                digest.update(chunk)
                size += len(chunk)
                batch.append((token, seq, chunk, now))
                seq += 1
            if batch:
                with self.db.write() as cx:
                    cx.executemany(
                        "INSERT INTO queue_blob (token, seq, data, stored_at) VALUES (?, ?, ?, ?)", batch
                    )
            if len(batch) < STAGE_CHUNKS:
                return size, digest.hexdigest()

    def sweep(self, older_than: float = 3600.0) -> int:
        """Staged bytes no entry points at (a process died while queueing), after ``older_than``."""
        with self.db.write() as cx:
            return int(
                cx.execute(
                    "DELETE FROM queue_blob WHERE stored_at < ? AND token NOT IN "
                    "(SELECT content_token FROM queue_entry WHERE content_token IS NOT NULL)",
                    (self.clock() - older_than,),
                ).rowcount
            )

    # -- reading --------------------------------------------------------------------------------

    def get(self, entry_id: int) -> Entry:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM queue_entry WHERE id = ?", (entry_id,))
        if not rows:
            raise EntryNotFound()
        return _entry(rows[0])

    def entries(self, states: Iterable[State] | None = None) -> list[Entry]:
        wanted = [str(s) for s in states] if states is not None else [str(s) for s in State]
        marks = ", ".join("?" * len(wanted))
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM queue_entry WHERE state IN ({marks}) ORDER BY id", tuple(wanted)
        )
        return [_entry(r) for r in rows]

    def counts(self) -> dict[State, int]:
        rows = self.db.execute("SELECT state, count(*) FROM queue_entry GROUP BY state")
        found = {State(r[0]): r[1] for r in rows}
        return {s: found.get(s, 0) for s in State}

    def history(self, entry_id: int) -> list[tuple[float, State, str | None]]:
        rows = self.db.execute(
            "SELECT at, state, code FROM queue_event WHERE entry_id = ? ORDER BY id", (entry_id,)
        )
        return [(r[0], State(r[1]), r[2]) for r in rows]

    def copy_content(self, entry_id: int, out: BinaryIO) -> int:
        """Write the document's bytes into ``out``, checking them against the digest taken when
        they were queued."""
        rows = self.db.execute(
            "SELECT size, sha256, content_token FROM queue_entry WHERE id = ?", (entry_id,)
        )
        if not rows:
            raise EntryNotFound()
        size, sha256, token = rows[0]
        if not copy_checked(self.db, "queue_blob", "token", token, out, size, sha256):
            raise QueuedContentAltered()
        return int(size)

    # -- people's actions -----------------------------------------------------------------------

    def retry(self, entry_id: int) -> Entry:
        """Make a waiting or failed entry due now (its history and uncertainty are kept)."""
        now = self.clock()
        with self.db.write() as cx:  # checked and changed in one transaction: a drainer may claim it
            self._waiting_or_failed(cx, entry_id, "relancée")
            cx.execute(
                "UPDATE queue_entry SET state = 'queued', next_attempt_at = ?, updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'failed')",
                (now, now, entry_id),
            )
            self._event(cx, entry_id, State.QUEUED, "RELANCE", now)
        return self.get(entry_id)

    def cancel(self, entry_id: int, *, force: bool = False) -> Entry:
        """Cancel an entry that is not being sent; its bytes are erased from the base. An entry whose
        last attempt may have reached the host is cancelled only with ``force`` (the person accepts
        that the DMP may hold it: the software could not ask)."""
        now = self.clock()
        with self.db.write() as cx:
            uncertain = self._waiting_or_failed(cx, entry_id, "annulée")
            if uncertain and not force:
                raise SendMaybeDelivered()
            changed = cx.execute(
                "UPDATE queue_entry SET state = 'cancelled', updated_at = ? WHERE id = ? "
                "AND state IN ('queued', 'failed')",
                (now, entry_id),
            ).rowcount
            if changed == 1:
                _erase(cx, entry_id)
                self._event(cx, entry_id, State.CANCELLED, "ANNULATION-FORCEE" if uncertain else None, now)
        return self.get(entry_id)

    @staticmethod
    def _waiting_or_failed(cx: Any, entry_id: int, verb: str) -> bool:
        """Inside the caller's transaction: refuse unless queued or failed; return ``uncertain``."""
        row = cx.execute("SELECT state, uncertain FROM queue_entry WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise EntryNotFound()
        state = State(row[0])
        if state not in (State.QUEUED, State.FAILED):
            raise EntryStateError(
                f"Seule une entrée en attente ou en échec peut être {verb} (état : {STATE_LABELS[state]})."
            )
        return bool(row[1])

    # -- the sender's side (the caller holds the drain lock) ------------------------------------

    def recover(self) -> int:
        """Entries left ``sending`` by a process that is gone: queued again, marked uncertain."""
        now = self.clock()
        with self.db.write() as cx:
            stale = [r[0] for r in cx.execute("SELECT id FROM queue_entry WHERE state = 'sending'")]
            for entry_id in stale:
                cx.execute(
                    "UPDATE queue_entry SET state = 'queued', uncertain = 1, next_attempt_at = ?, "
                    "updated_at = ?, reason_code = 'FILE-ENVOI-INTERROMPU', "
                    "reason = 'Envoi interrompu : le DMP sera interrogé avant tout nouvel envoi.' "
                    "WHERE id = ?",
                    (now, now, entry_id),
                )
                self._event(cx, entry_id, State.QUEUED, "FILE-ENVOI-INTERROMPU", now)
        self.sweep()
        return len(stale)

    def claim_next(self, modes: Iterable[SendMode], skip: Iterable[str] = ()) -> Entry | None:
        """The next due entry of these modes (not of the professionals in ``skip``), now ``sending``
        (committed before anything is sent). A row that cannot be read back fails on its own."""
        wanted = [str(m) for m in modes]
        skipped = list(skip)
        if not wanted:
            return None
        while True:
            now = self.clock()
            marks = ", ".join("?" * len(wanted))
            others = ", ".join("?" * len(skipped))
            excluded = f"AND (professional IS NULL OR professional NOT IN ({others}))" if skipped else ""
            with self.db.write() as cx:
                row = cx.execute(
                    f"SELECT id FROM queue_entry WHERE state = 'queued' AND next_attempt_at <= ? "
                    f"AND mode IN ({marks}) {excluded} ORDER BY next_attempt_at, id LIMIT 1",
                    (now, *wanted, *skipped),
                ).fetchone()
                if row is None:
                    return None
                cx.execute(
                    "UPDATE queue_entry SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                    "WHERE id = ?",
                    (now, row[0]),
                )
                self._event(cx, row[0], State.SENDING, None, now)
            try:
                return self.get(row[0])
            except (StoreError, ValueError, KeyError, TypeError, DmpClientError, InsError):
                self.mark_failed(
                    row[0],
                    "FILE-DEMANDE-ILLISIBLE",
                    "La demande enregistrée pour ce document ne peut pas être relue par cette version du "
                    "logiciel : annulez-la et déposez le document à nouveau.",
                )

    def next_due(self, modes: Iterable[SendMode]) -> float | None:
        wanted = [str(m) for m in modes]
        if not wanted:
            return None
        marks = ", ".join("?" * len(wanted))
        rows = self.db.execute(
            f"SELECT min(next_attempt_at) FROM queue_entry WHERE state = 'queued' AND mode IN ({marks})",
            tuple(wanted),
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    def mark_uncertain(self, entry_id: int) -> None:
        """Said just before the document leaves: from now on, only the host knows whether it arrived."""
        with self.db.write() as cx:
            cx.execute("UPDATE queue_entry SET uncertain = 1 WHERE id = ?", (entry_id,))

    def mark_sent(
        self, entry_id: int, host_entry_id: str | None, code: str | None = None, reason: str | None = None
    ) -> None:
        """Sent; ``code`` and ``reason`` say how (already received, or accepted with the host's
        warnings, which are kept for people to read)."""
        now = self.clock()
        with self.db.write() as cx:
            cx.execute(
                "UPDATE queue_entry SET state = 'sent', uncertain = 0, sent_at = ?, updated_at = ?, "
                "host_entry_id = ?, reason_code = ?, reason = ? WHERE id = ?",
                (now, now, host_entry_id, code, reason, entry_id),
            )
            _erase(cx, entry_id)
            self._event(cx, entry_id, State.SENT, code, now)

    def mark_waiting(
        self, entry_id: int, code: str, reason: str, due: float, *, attempt_counted: bool = True
    ) -> None:
        """Back to ``queued`` until ``due``, with the reason shown to people."""
        now = self.clock()
        with self.db.write() as cx:
            before = cx.execute("SELECT reason_code FROM queue_entry WHERE id = ?", (entry_id,)).fetchone()
            cx.execute(
                "UPDATE queue_entry SET state = 'queued', next_attempt_at = ?, reason_code = ?, reason = ?, "
                "updated_at = ?, attempts = attempts - ? WHERE id = ?",
                (due, code, reason, now, 0 if attempt_counted else 1, entry_id),
            )
            if attempt_counted or before is None or before[0] != code:
                self._event(cx, entry_id, State.QUEUED, code, now)  # not once per idle loop

    def mark_failed(self, entry_id: int, code: str, reason: str) -> None:
        """Refused for good or needing a person: waits for ``retry`` or ``cancel``."""
        now = self.clock()
        with self.db.write() as cx:
            cx.execute(
                "UPDATE queue_entry SET state = 'failed', reason_code = ?, reason = ?, updated_at = ? "
                "WHERE id = ?",
                (code, reason, now, entry_id),
            )
            self._event(cx, entry_id, State.FAILED, code, now)

    def clear_uncertain(self, entry_id: int) -> None:
        with self.db.write() as cx:
            cx.execute("UPDATE queue_entry SET uncertain = 0 WHERE id = ?", (entry_id,))

    def defer_mode(self, mode: SendMode, due: float, code: str, reason: str) -> None:
        """The host (or the credentials) of this mode is unavailable: every due entry waits too,
        with the same reason, instead of each meeting the same failure."""
        now = self.clock()
        with self.db.write() as cx:
            cx.execute(
                "UPDATE queue_entry SET next_attempt_at = max(next_attempt_at, ?), reason_code = ?, "
                "reason = ?, updated_at = ? WHERE state = 'queued' AND mode = ?",
                (due, code, reason, now, str(mode)),
            )

    def defer_professional(self, professional: str, due: float, code: str, reason: str) -> None:
        """Only this professional's card entries wait (another professional's card is inserted)."""
        now = self.clock()
        with self.db.write() as cx:
            cx.execute(
                "UPDATE queue_entry SET next_attempt_at = max(next_attempt_at, ?), reason_code = ?, "
                "reason = ?, updated_at = ? WHERE state = 'queued' AND mode = 'card' AND professional = ?",
                (due, code, reason, now, professional),
            )

    def wake_credentials(self, modes: Iterable[SendMode]) -> None:
        """Entries waiting for a card (or certificate) are due now: called when a drain starts."""
        now = self.clock()
        wanted = [str(m) for m in modes]
        marks = ", ".join("?" * len(wanted))
        with self.db.write() as cx:
            cx.execute(
                f"UPDATE queue_entry SET next_attempt_at = ? WHERE state = 'queued' AND mode IN ({marks}) "
                f"AND next_attempt_at > ? AND (reason_code LIKE 'CARTE%' "
                f"OR reason_code IN ('FILE-CARTE-NECESSAIRE', 'FILE-AUTRE-CARTE'))",
                (now, *wanted, now),
            )

    def wake(self, mode: SendMode) -> None:
        """The host answered again: entries that were waiting for it are due now."""
        now = self.clock()
        with self.db.write() as cx:
            cx.execute(
                "UPDATE queue_entry SET next_attempt_at = ? WHERE state = 'queued' AND mode = ? "
                "AND next_attempt_at > ?",
                (now, str(mode), now),
            )

    def sent_with_sources(self) -> list[tuple[int, str]]:
        """(id, source digest) of entries acknowledged by the host that came from a hot folder."""
        rows = self.db.execute(
            "SELECT id, source_digest FROM queue_entry WHERE state = 'sent' AND source_digest IS NOT NULL"
        )
        return [(r[0], r[1]) for r in rows]

    @staticmethod
    def _event(cx: Any, entry_id: int, state: State, code: str | None, at: float) -> None:
        cx.execute(
            "INSERT INTO queue_event (entry_id, at, state, code) VALUES (?, ?, ?, ?)",
            (entry_id, at, str(state), code),
        )


def _erase(cx: Any, entry_id: int) -> None:
    """The entry's bytes, gone from the base (sent or cancelled); secure_delete overwrites them."""
    cx.execute(
        "DELETE FROM queue_blob WHERE token = (SELECT content_token FROM queue_entry WHERE id = ?)",
        (entry_id,),
    )
