"""The store's one mapping of sqlcipher3 and OS errors (app/store/database.py map_error): by SQLite
result code and errno, not by the text of the message."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import sqlcipher3

from app.store.database import map_error
from app.store.errors import (
    DatabaseFailure,
    DiskError,
    DiskFull,
    FolderInaccessible,
    StoreLocked,
    StoreUnreadable,
)


def _raised(path: Path, *statements: str, other: sqlcipher3.Connection | None = None) -> sqlcipher3.Error:
    cx = sqlcipher3.connect(str(path), timeout=0)
    try:
        for statement in statements:
            cx.execute(statement)
    except sqlcipher3.Error as error:
        return error
    finally:
        cx.close()
    raise AssertionError("no error")


def test_a_file_that_is_not_a_database_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"\x00pas une base" * 500)
    error = _raised(path, "SELECT * FROM sqlite_master")
    assert isinstance(map_error(error), StoreUnreadable)


def test_a_base_held_by_another_writer_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    holder = sqlcipher3.connect(str(path), isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _raised(path, "INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(map_error(error), StoreLocked)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (13, DiskFull),
        (10, DiskError),
        (10 | (1 << 8), DiskError),  # SQLITE_IOERR_READ: an extended code
        (14, FolderInaccessible),
        (11, StoreUnreadable),
    ],
)
def test_the_result_code_decides(code: int, expected: type) -> None:
    error = sqlcipher3.OperationalError("message sans importance")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    assert type(map_error(error)) is expected


def test_the_message_text_alone_decides_nothing() -> None:
    # Before: "locked" or "full" anywhere in the text chose the error (a path or a table name could).
    for text in ("database is locked", "disk is full", "file is not a database"):
        assert type(map_error(sqlcipher3.OperationalError(text))) is DatabaseFailure


def test_os_errors_by_errno() -> None:
    assert isinstance(map_error(OSError(errno.ENOSPC, "plein")), DiskFull)
    assert isinstance(map_error(PermissionError(errno.EACCES, "refus")), FolderInaccessible)
