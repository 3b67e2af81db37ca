"""The encrypted local database (SQLCipher): opening with the keyring's key, schema migrations,
transactions and the mapping of database failures to the store's errors.

One file per user (``store.db``) with a small ``store.id`` beside it that names the key in the
keyring (not a secret). Opening never resets anything: a file that cannot be read with the key
raises an error that names the recovery path (``quarantine``: the file is set aside, kept for
support, and an empty base starts).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

from app.store.errors import (
    DatabaseFailure,
    DiskError,
    DiskFull,
    FolderInaccessible,
    KeyMissing,
    StoreError,
    StoreForeign,
    StoreLocked,
    StoreTooNew,
    StoreUnreadable,
)
from app.store.keys import KeyStore
from app.store.schema import MIGRATIONS

DB_NAME = "store.db"
ID_NAME = "store.id"
PLAIN_SQLITE_HEADER = b"SQLite format 3\x00"
CHUNK = 256 * 1024
SCHEMA_VERSION = len(MIGRATIONS)


# SQLite's primary result codes (https://www.sqlite.org/rescode.html), which sqlcipher3 gives on
# each error as ``sqlite_errorcode`` (extended codes carry the primary one in their low byte).
SQLITE_CORRUPT, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL = 11, 5, 6, 10, 13
SQLITE_CANTOPEN, SQLITE_NOTADB = 14, 26


def map_error(error: BaseException) -> StoreError:
    """The store's error for a database or file-system failure: the one place sqlcipher3's and the
    OS's errors become the store's, by SQLite result code and errno (not by message text)."""
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC:
            return DiskFull()
        return FolderInaccessible(f"Le dossier de la base locale est inaccessible ({type(error).__name__}).")
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreLocked()
    if primary == SQLITE_FULL:
        return DiskFull()
    if primary in (SQLITE_NOTADB, SQLITE_CORRUPT):
        return StoreUnreadable()
    if primary == SQLITE_IOERR:
        return DiskError()
    if primary == SQLITE_CANTOPEN:
        return FolderInaccessible()
    return DatabaseFailure(f"Erreur de la base locale ({type(error).__name__}).")


@contextlib.contextmanager
def mapped() -> Iterator[None]:
    try:
        yield
    except (sqlcipher3.Error, OSError) as error:
        raise map_error(error) from error


class Database:
    """One SQLCipher connection shared by the threads of a process (serialised by a lock)."""

    def __init__(self, connection: sqlcipher3.Connection, path: Path) -> None:
        self._cx = connection
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # nesting of write() in the thread that holds the lock

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path, keys: KeyStore | None = None, *, busy_timeout: float = 10.0) -> Database:
        """Open (or create) the store in ``folder``; migrate its schema forward."""
        keys = keys or KeyStore()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / DB_NAME
        id_path = folder / ID_NAME
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            with mapped(), path.open("rb") as handle:
                if handle.read(len(PLAIN_SQLITE_HEADER)) == PLAIN_SQLITE_HEADER:
                    raise StoreForeign()
            if not id_path.exists():
                raise KeyMissing()
            key = keys.get(_key_name(id_path))
            if key is None:
                raise KeyMissing()
        else:
            if not id_path.exists():
                with mapped():
                    id_path.write_text(secrets.token_hex(16) + "\n")
            name = _key_name(id_path)
            key = keys.get(name) or keys.create(name)
        with mapped():
            connection = sqlcipher3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        database = cls(connection, path)
        try:
            database._unlock(key, busy_timeout)
            database._migrate()
        except BaseException:
            connection.close()
            raise
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return database

    def _unlock(self, key: bytes, busy_timeout: float) -> None:
        cx = self._cx
        with mapped():
            cx.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher would print to stderr
            cx.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            cx.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        try:
            cx.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError as error:
            mapped_error = map_error(error)
            raise (mapped_error if isinstance(mapped_error, StoreLocked) else StoreUnreadable()) from error
        with mapped():
            cx.execute("PRAGMA journal_mode = WAL")
            cx.execute("PRAGMA synchronous = FULL")  # an accepted document survives a power cut
            cx.execute("PRAGMA foreign_keys = ON")
            cx.execute("PRAGMA secure_delete = ON")  # purged pages are overwritten, not just freed

    def _migrate(self) -> None:
        with self._lock, mapped():
            version = int(self._cx.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreTooNew()
            for number in range(version, SCHEMA_VERSION):
                with self.write() as cx:
                    # user_version is re-read inside the write lock: a second instance may have
                    # migrated between our read and our lock.
                    if int(cx.execute("PRAGMA user_version").fetchone()[0]) > number:
                        continue
                    for statement in MIGRATIONS[number]:
                        cx.execute(statement)
                    cx.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
        with self.read() as cx:
            return int(cx.execute("PRAGMA user_version").fetchone()[0])

    # -- use ----------------------------------------------------------------------------------

    @property
    def in_write(self) -> bool:
        """Inside a write transaction of this thread (what it writes may still be rolled back)."""
        return self._depth > 0

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlcipher3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock is taken at once, or StoreLocked).
        A write opened inside another one (same thread) joins it."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._cx
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._transaction():
                    yield self._cx
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlcipher3.Connection]:
        with mapped():
            self._cx.execute("BEGIN IMMEDIATE")
        try:
            yield self._cx
        except sqlcipher3.Error as error:
            with contextlib.suppress(sqlcipher3.Error):
                self._cx.execute("ROLLBACK")
            raise map_error(error) from error
        except OSError as error:  # from the caller's own I/O (the source being read)
            with contextlib.suppress(sqlcipher3.Error):
                self._cx.execute("ROLLBACK")
            if error.errno == errno.ENOSPC:
                raise DiskFull() from error
            raise
        except BaseException:
            with contextlib.suppress(sqlcipher3.Error):
                self._cx.execute("ROLLBACK")
            raise
        try:
            self._cx.execute("COMMIT")
        except (sqlcipher3.Error, OSError) as error:
            with contextlib.suppress(sqlcipher3.Error):
                self._cx.execute("ROLLBACK")
            raise map_error(error) from error

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlcipher3.Connection]:
        with self._lock, mapped():
            yield self._cx

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """One autocommitted statement; returns its rows."""
        with self.read() as cx:
            return list(cx.execute(sql, parameters).fetchall())

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlcipher3.Error):
            self._cx.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _key_name(id_path: Path) -> str:
    with mapped():
        return "base-" + id_path.read_text().strip()


def quarantine(folder: Path) -> Path | None:
    """Set an unreadable store aside (renamed, never deleted); the next open starts an empty one."""
    path = folder / DB_NAME
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{DB_NAME}.ecartee-{stamp}"
    with mapped():
        for suffix in ("", "-wal", "-shm"):
            source = folder / (DB_NAME + suffix)
            if source.exists():
                source.replace(folder / (target.name + suffix))
        id_path = folder / ID_NAME
        if id_path.exists():
            id_path.replace(folder / f"{ID_NAME}.ecartee-{stamp}")
    return target


def write_chunks(cx: sqlcipher3.Connection, table: str, owner: str, key: Any, source: Any) -> tuple[int, str]:
    """Copy a binary stream into ``table`` (owner column, seq, data) in bounded chunks; returns the
    size and SHA-256 of what was stored."""
    digest = hashlib.sha256()
    size = 0
    seq = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        cx.execute(f"INSERT INTO {table} ({owner}, seq, data) VALUES (?, ?, ?)", (key, seq, chunk))
        seq += 1
    return size, digest.hexdigest()


def copy_checked(db: Database, table: str, owner: str, key: Any, out: Any, size: int, sha256: str) -> bool:
    """Write a stored stream into ``out``; True when it has the size and SHA-256 taken when it was
    stored (the caller decides what a mismatch means)."""
    digest = hashlib.sha256()
    copied = 0
    for chunk in read_chunks(db, table, owner, key):
        digest.update(chunk)
        copied += len(chunk)
        out.write(chunk)
    return copied == size and digest.hexdigest() == sha256


def read_chunks(db: Database, table: str, owner: str, key: Any) -> Iterator[bytes]:
    """The chunks of one stored stream, in order, one row at a time (bounded memory)."""
    seq = 0
    while True:
        rows = db.execute(f"SELECT data FROM {table} WHERE {owner} = ? AND seq = ?", (key, seq))
        if not rows:
            return
        yield bytes(rows[0][0])
        seq += 1
