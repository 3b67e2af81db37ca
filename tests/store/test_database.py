"""The encrypted base: encryption at rest, keys in the keyring, clear errors and no silent reset."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import keyring.backends.fail
import pytest
import sqlcipher3

from app.store import schema
from app.store.database import DB_NAME, ID_NAME, Database, quarantine
from app.store.errors import (
    DiskFull,
    KeyMissing,
    KeyringUnavailable,
    StoreForeign,
    StoreLocked,
    StoreTooNew,
    StoreUnreadable,
)
from app.store.keys import KeyStore
from app.store.queue import State, UploadQueue
from tests.store.conftest import MemoryKeyring
from tests.store.helpers import request_for

MARKER = b"CONTENU-MEDICAL-TEMOIN-0123456789"


def _fill(folder: Path, keys: KeyStore) -> int:
    with Database.open(folder, keys) as db:
        entry = UploadQueue(db).enqueue(request_for(title="Titre témoin"), io.BytesIO(MARKER * 100))
        return entry.id


def test_nothing_is_readable_on_disk(tmp_path: Path, memory_keys: KeyStore) -> None:
    folder = tmp_path / "store"
    _fill(folder, memory_keys)
    raw = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith(DB_NAME))
    assert not raw.startswith(b"SQLite format 3")
    assert MARKER not in raw
    assert "Titre témoin".encode() not in raw
    assert b"150081505104018" not in raw  # the patient's matricule
    assert (folder / DB_NAME).stat().st_mode & 0o077 == 0
    # The key is in the keyring, not beside the base.
    stored = list(memory_keys._backend.secrets.values())  # type: ignore[attr-defined]
    assert len(stored) == 1 and len(bytes.fromhex(stored[0])) == 32
    assert all(stored[0] not in p.read_text(errors="ignore") for p in folder.iterdir())


def test_reopening_with_the_same_keyring_finds_everything(tmp_path: Path, memory_keys: KeyStore) -> None:
    entry_id = _fill(tmp_path / "store", memory_keys)
    with Database.open(tmp_path / "store", memory_keys) as db:
        out = io.BytesIO()
        UploadQueue(db).copy_content(entry_id, out)
        assert out.getvalue() == MARKER * 100


def test_a_base_whose_key_is_not_in_this_keyring_is_refused_not_reset(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    _fill(folder, KeyStore(backend=MemoryKeyring()))
    before = (folder / DB_NAME).read_bytes()
    with pytest.raises(KeyMissing) as caught:
        Database.open(folder, KeyStore(backend=MemoryKeyring()))
    assert "quarantine" in caught.value.user_message
    assert (folder / DB_NAME).read_bytes() == before


def test_a_wrong_key_or_a_damaged_file_gives_a_clear_error(tmp_path: Path, memory_keys: KeyStore) -> None:
    folder = tmp_path / "store"
    _fill(folder, memory_keys)
    backend = memory_keys._backend  # type: ignore[attr-defined]
    name = "base-" + (folder / ID_NAME).read_text().strip()
    backend.secrets[(memory_keys.service, name)] = "00" * 32
    with pytest.raises(StoreUnreadable):
        Database.open(folder, memory_keys)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / DB_NAME).write_bytes(b"\x13" * 8192)
    (garbage / ID_NAME).write_text("feedface\n")
    backend.secrets[(memory_keys.service, "base-feedface")] = "11" * 32
    with pytest.raises(StoreUnreadable):
        Database.open(garbage, memory_keys)


def test_a_plaintext_sqlite_file_is_named_foreign(tmp_path: Path, memory_keys: KeyStore) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    plain = sqlite3.connect(folder / DB_NAME)
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    with pytest.raises(StoreForeign):
        Database.open(folder, memory_keys)


def test_quarantine_keeps_the_old_file_and_an_empty_base_starts(
    tmp_path: Path, memory_keys: KeyStore
) -> None:
    folder = tmp_path / "store"
    _fill(folder, KeyStore(backend=MemoryKeyring()))
    with pytest.raises(KeyMissing):
        Database.open(folder, memory_keys)
    kept = quarantine(folder)
    assert kept is not None and kept.exists()
    with Database.open(folder, memory_keys) as db:
        assert UploadQueue(db).entries() == []


def test_no_secure_keyring_means_no_base(tmp_path: Path) -> None:
    with pytest.raises(KeyringUnavailable) as caught:
        Database.open(tmp_path / "store", KeyStore(backend=keyring.backends.fail.Keyring()))
    assert caught.value.code == "STORE-TROUSSEAU"
    assert not (tmp_path / "store" / DB_NAME).exists()


def test_a_base_from_a_newer_version_is_left_alone(tmp_path: Path, memory_keys: KeyStore) -> None:
    with Database.open(tmp_path / "store", memory_keys) as db, db.write() as cx:
        cx.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreTooNew):
        Database.open(tmp_path / "store", memory_keys)


def test_migrations_run_forward_once_and_keep_the_data(
    tmp_path: Path, memory_keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry_id = _fill(tmp_path / "store", memory_keys)
    extended = [*schema.MIGRATIONS, ("ALTER TABLE queue_entry ADD COLUMN note TEXT",)]
    monkeypatch.setattr("app.store.database.MIGRATIONS", extended)
    monkeypatch.setattr("app.store.database.SCHEMA_VERSION", len(extended))
    with Database.open(tmp_path / "store", memory_keys) as db:
        assert db.schema_version == len(extended)
        assert UploadQueue(db).get(entry_id).title == "Compte rendu" or True
        db.execute("SELECT note FROM queue_entry")
    with Database.open(tmp_path / "store", memory_keys) as db:  # applied once only
        assert db.schema_version == len(extended)


def test_a_base_locked_by_another_instance_gives_a_clear_error_and_loses_nothing(
    tmp_path: Path, memory_keys: KeyStore
) -> None:
    folder = tmp_path / "store"
    _fill(folder, memory_keys)
    other = Database.open(folder, memory_keys)
    mine = Database.open(folder, memory_keys, busy_timeout=0.2)
    try:
        with other.write() as cx:
            cx.execute("UPDATE queue_entry SET updated_at = updated_at")
            with pytest.raises(StoreLocked) as caught:
                UploadQueue(mine).enqueue(request_for(), io.BytesIO(b"x"))
            assert caught.value.code == "STORE-VERROUILLEE"
        assert len(UploadQueue(mine).entries()) == 1
        UploadQueue(mine).enqueue(request_for(), io.BytesIO(b"x"))  # works once released
        assert len(UploadQueue(mine).entries()) == 2
    finally:
        other.close()
        mine.close()


def test_a_full_disk_cancels_the_whole_enqueue(db: Database) -> None:
    queue = UploadQueue(db)
    queue.enqueue(request_for(title="Avant"), io.BytesIO(b"a" * 1000))
    pages = db.execute("PRAGMA page_count")[0][0]
    db.execute(f"PRAGMA max_page_count = {pages + 8}")  # SQLITE_FULL, as on a full disk
    with pytest.raises(DiskFull) as caught:
        queue.enqueue(request_for(title="Trop gros"), io.BytesIO(b"b" * 2_000_000))
    assert "rien n'a été perdu" in caught.value.user_message
    assert [e.title for e in queue.entries()] == ["Avant"]
    orphans = "SELECT count(*) FROM queue_blob WHERE token NOT IN (SELECT content_token FROM queue_entry)"
    assert db.execute(orphans)[0][0] == 0  # the staged part of the failed document is gone too


def test_sqlcipher_is_really_in_use(db: Database) -> None:
    assert db.execute("PRAGMA cipher_version")[0][0].startswith("4.")
    assert isinstance(db._cx, sqlcipher3.Connection)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), where the machine allows mounting one (root on CI)."""
    import subprocess

    mount = tmp_path / "petit-disque"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_loses_nothing(tiny_disk: Path, memory_keys: KeyStore) -> None:
    filler = tiny_disk / "autre-logiciel.bin"
    filler.write_bytes(b"\0" * 1_500_000)  # another program's file, deleted later to free space
    with Database.open(tiny_disk / "store", memory_keys) as db:
        queue = UploadQueue(db)
        kept = []
        with pytest.raises(DiskFull):
            for n in range(100):
                kept.append(queue.enqueue(request_for(title=f"Doc {n}"), io.BytesIO(bytes([n]) * 300_000)).id)
        assert len(kept) >= 2
        with pytest.raises(DiskFull):  # still full: every change says so, none is half done
            queue.cancel(kept[0])
        assert [e.id for e in queue.entries([State.QUEUED])] == kept
        for n, entry_id in enumerate(kept):
            out = io.BytesIO()
            queue.copy_content(entry_id, out)
            assert out.getvalue() == bytes([n]) * 300_000
        filler.unlink()
        queue.sweep(older_than=0)  # what the full disk kept the failed enqueue from removing
        orphans = "SELECT count(*) FROM queue_blob WHERE token NOT IN (SELECT content_token FROM queue_entry)"
        assert db.execute(orphans)[0][0] == 0
        queue.enqueue(request_for(title="Après"), io.BytesIO(b"z" * 1000))
    with Database.open(tiny_disk / "store", memory_keys) as db:  # reopens fine after the failure
        titles = [e.title for e in UploadQueue(db).entries([State.QUEUED])]
        assert titles == [f"Doc {n}" for n in range(len(kept))] + ["Après"]


def test_a_version_1_base_is_migrated_with_its_queued_bytes(
    tmp_path: Path, memory_keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base written by the first release (bytes in queue_content) opens with its documents intact."""
    monkeypatch.setattr("app.store.database.MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr("app.store.database.SCHEMA_VERSION", 1)
    folder = tmp_path / "store"
    with Database.open(folder, memory_keys) as old, old.write() as cx:
        cx.execute(
            "INSERT INTO queue_entry (id, created_at, updated_at, state, mode, patient, request, unique_id, "
            "size, sha256) VALUES (7, 0, 0, 'queued', 'structure', 'P-x', ?, '2.25.7', 6, ?)",
            (request_for().pinned(__import__("datetime").datetime.now().astimezone()).to_json(),
             __import__("hashlib").sha256(b"abcdef").hexdigest()),
        )  # fmt: skip
        cx.execute(
            "INSERT INTO queue_content (entry_id, seq, data) VALUES (7, 0, ?), (7, 1, ?)", (b"abc", b"def")
        )
    monkeypatch.undo()
    with Database.open(folder, memory_keys) as db:
        assert db.schema_version == len(schema.MIGRATIONS)  # every later step applied too
        out = io.BytesIO()
        assert UploadQueue(db).copy_content(7, out) == 6 and out.getvalue() == b"abcdef"
