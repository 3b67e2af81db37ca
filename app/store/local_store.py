"""The local store as one object: the encrypted base, its queue, cache and journal, and the
settings that place and limit them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from app.config.layers import Config
from app.store.cache import Cache, CachePolicy
from app.store.database import Database
from app.store.journal import LocalJournal
from app.store.keys import KeyStore
from app.store.queue import UploadQueue
from app.store.sender import Credentials, Policy, QueueSender

LOCK_NAME = "envoi.lock"


@dataclass(frozen=True)
class StoreSettings:
    folder: Path
    cache: CachePolicy = field(default_factory=CachePolicy)
    retry: Policy = field(default_factory=Policy)
    busy_timeout: float = 10.0

    @classmethod
    def from_env(cls, config: Config | None = None) -> StoreSettings:
        """``DMP_STORE_DIR`` (default: the user's data folder), ``DMP_CACHE_AGE_MAX_H``,
        ``DMP_CACHE_TAILLE_MAX_MO``, ``DMP_CACHE_PURGE_FIN_SESSION`` (1/0), ``DMP_FILE_DELAI_S``, read
        through ``config`` (default: :meth:`Config.load`; built-in defaults in app/config/layers.py)."""
        config = Config.load() if config is None else config
        folder = config.get("DMP_STORE_DIR") or platformdirs.user_data_dir(
            "dmp-client", appauthor=False, roaming=False
        )
        cache = CachePolicy(
            max_age=float(config.require("DMP_CACHE_AGE_MAX_H")) * 3600,
            max_bytes=int(float(config.require("DMP_CACHE_TAILLE_MAX_MO")) * 2**20),
            purge_at_session_end=config.require("DMP_CACHE_PURGE_FIN_SESSION") == "1",
        )
        base_delay = float(config.require("DMP_FILE_DELAI_S"))
        return cls(Path(folder), cache, Policy(base_delay=base_delay))


class LocalStore:
    def __init__(self, db: Database, settings: StoreSettings) -> None:
        self.db = db
        self.settings = settings
        self.queue = UploadQueue(db)
        self.cache = Cache(db, settings.cache)
        self.journal = LocalJournal(db)

    @classmethod
    def open(cls, settings: StoreSettings, keys: KeyStore | None = None) -> LocalStore:
        return cls(Database.open(settings.folder, keys, busy_timeout=settings.busy_timeout), settings)

    def sender(self, credentials: Credentials) -> QueueSender:
        return QueueSender(
            self.queue, credentials, self.settings.folder / LOCK_NAME, policy=self.settings.retry
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
