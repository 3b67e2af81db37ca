"""The encrypted cache: patients' document lists and retrieved documents, with an age limit, a size
cap (least recently used first out) and a purge on demand or at the end of a card session.

A document is cached by its uniqueId: the DMP never changes the bytes behind a uniqueId (a new
version gets a new one), so a cached document is always the right one. A cached list is a snapshot:
its age is returned with it and it is only used when the caller accepts that age.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from app.ins import Ins
from app.store.database import Database, copy_checked, write_chunks
from app.store.errors import StoreError
from app.store.pseudonym import pseudonym


@dataclass(frozen=True)
class CachePolicy:
    max_age: float = 7 * 24 * 3600.0  # seconds
    max_bytes: int = 512 * 1024 * 1024
    purge_at_session_end: bool = False


@dataclass(frozen=True)
class CachedList:
    documents: list[dict[str, Any]]
    stored_at: float

    def age(self, now: float) -> float:
        return now - self.stored_at


class Cache:
    def __init__(self, db: Database, policy: CachePolicy, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock

    # -- lists ----------------------------------------------------------------------------------

    def put_list(self, ins: Ins, documents: list[dict[str, Any]]) -> None:
        payload = json.dumps(documents, ensure_ascii=False).encode()
        patient = pseudonym(self.db, ins)
        with self.db.write() as cx:
            cx.execute(
                "INSERT OR REPLACE INTO cache_list (patient, stored_at, payload) VALUES (?, ?, ?)",
                (patient, self.clock(), payload),
            )
        self.enforce_limits()

    def get_list(self, ins: Ins) -> CachedList | None:
        rows = self.db.execute(
            "SELECT stored_at, payload FROM cache_list WHERE patient = ?", (pseudonym(self.db, ins),)
        )
        if not rows or self.clock() - rows[0][0] > self.policy.max_age:
            return None
        return CachedList(json.loads(bytes(rows[0][1])), rows[0][0])

    # -- documents ------------------------------------------------------------------------------

    def put_document(self, ins: Ins, unique_id: str, content: BinaryIO) -> int:
        """Store a retrieved document (read from ``content``'s start); then enforce the size cap."""
        content.seek(0)
        now = self.clock()
        patient = pseudonym(self.db, ins)
        with self.db.write() as cx:
            cx.execute("DELETE FROM cache_document WHERE unique_id = ?", (unique_id,))
            cx.execute(
                "INSERT INTO cache_document (unique_id, patient, stored_at, used_at, size, sha256) "
                "VALUES (?, ?, ?, ?, 0, '')",
                (unique_id, patient, now, now),
            )
            size, sha256 = write_chunks(cx, "cache_chunk", "unique_id", unique_id, content)
            cx.execute(
                "UPDATE cache_document SET size = ?, sha256 = ? WHERE unique_id = ?",
                (size, sha256, unique_id),
            )
        self.enforce_limits()
        return size

    def get_document(self, unique_id: str, out: BinaryIO) -> int | None:
        """Write the cached document into ``out``; None when absent, too old or damaged."""
        rows = self.db.execute(
            "SELECT stored_at, size, sha256 FROM cache_document WHERE unique_id = ?", (unique_id,)
        )
        if not rows or self.clock() - rows[0][0] > self.policy.max_age:
            return None
        start = out.tell()
        size, sha256 = int(rows[0][1]), str(rows[0][2])
        if not copy_checked(self.db, "cache_chunk", "unique_id", unique_id, out, size, sha256):
            out.seek(start)
            out.truncate()
            self._drop(unique_id)
            return None
        with self.db.write() as cx:
            cx.execute("UPDATE cache_document SET used_at = ? WHERE unique_id = ?", (self.clock(), unique_id))
        return size

    def fetch_document(
        self,
        ins: Ins,
        unique_id: str,
        out: BinaryIO,
        fetch: Callable[[BinaryIO], int],
        warn: Callable[[StoreError, str], None],
    ) -> tuple[int, bool]:
        """The document's bytes into ``out`` (at its start): from the cache when it holds them,
        else ``fetch`` writes them and they are cached. Returns (size, from the cache). The cache is
        a convenience: its failures go to ``warn`` (the error, "illisible" or "non mis à jour"),
        never to the caller."""
        try:
            # Only a copy cached for this very patient (identity vigilance): never another's.
            size = self.get_document(unique_id, out) if self._holds(ins, unique_id) else None
        except StoreError as error:
            warn(error, "illisible")
            out.seek(0)
            out.truncate()
            size = None
        if size is not None:
            return size, True
        size = fetch(out)
        try:
            self.put_document(ins, unique_id, out)
        except StoreError as error:
            warn(error, "non mis à jour")
        return size, False

    # -- limits and purge -----------------------------------------------------------------------

    def enforce_limits(self) -> int:
        """Drop what is older than the age limit, then the least recently used beyond the cap."""
        limit = self.clock() - self.policy.max_age
        removed = 0
        with self.db.write() as cx:
            removed += cx.execute("DELETE FROM cache_list WHERE stored_at < ?", (limit,)).rowcount
            removed += cx.execute("DELETE FROM cache_document WHERE stored_at < ?", (limit,)).rowcount
            total = cx.execute("SELECT coalesce(sum(size), 0) FROM cache_document").fetchone()[0]
            if total > self.policy.max_bytes:
                for unique_id, size in cx.execute(
                    "SELECT unique_id, size FROM cache_document ORDER BY used_at"
                ).fetchall():
                    if total <= self.policy.max_bytes:
                        break
                    cx.execute("DELETE FROM cache_document WHERE unique_id = ?", (unique_id,))
                    total -= size
                    removed += 1
        return int(removed)

    def purge(self) -> int:
        """Everything the cache holds, now (and the freed pages overwritten: secure_delete)."""
        with self.db.write() as cx:
            removed = cx.execute("DELETE FROM cache_list").rowcount
            removed += cx.execute("DELETE FROM cache_document").rowcount
        return int(removed)

    def end_of_session(self) -> None:
        """Called when the card session ends: purge if the configuration says so."""
        if self.policy.purge_at_session_end:
            self.purge()

    def usage(self) -> tuple[int, int, int]:
        """(lists, documents, bytes) held now."""
        lists = int(self.db.execute("SELECT count(*) FROM cache_list")[0][0])
        docs, size = self.db.execute("SELECT count(*), coalesce(sum(size), 0) FROM cache_document")[0]
        return lists, int(docs), int(size)

    def _holds(self, ins: Ins, unique_id: str) -> bool:
        rows = self.db.execute(
            "SELECT 1 FROM cache_document WHERE unique_id = ? AND patient = ?",
            (unique_id, pseudonym(self.db, ins)),
        )
        return bool(rows)

    def _drop(self, unique_id: str) -> None:
        with self.db.write() as cx:
            cx.execute("DELETE FROM cache_document WHERE unique_id = ?", (unique_id,))
