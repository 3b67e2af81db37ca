"""Store fixtures: a base in a temporary folder whose key lives in an in-memory keyring (unit
tests); the integration tests use the real Secret Service (``system_keyring``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store.database import Database
from app.store.keys import KeyStore
from app.store.queue import UploadQueue


class MemoryKeyring:
    """A keyring backend for unit tests (the real ones are exercised by the integration tests)."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, name: str) -> str | None:
        return self.secrets.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        self.secrets[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        self.secrets.pop((service, name), None)


@pytest.fixture
def memory_keys() -> KeyStore:
    return KeyStore(backend=MemoryKeyring())


@pytest.fixture
def db(tmp_path: Path, memory_keys: KeyStore) -> Iterator[Database]:
    database = Database.open(tmp_path / "store", memory_keys)
    yield database
    database.close()


@pytest.fixture
def queue(db: Database) -> UploadQueue:
    return UploadQueue(db)
