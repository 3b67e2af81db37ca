"""The local store as one object: the encrypted base, its queue, cache and journal, and the
settings that place and limit them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from app.config.layers import Config
from app.store.cache import Cache, CachePolicy
from app.store.database import Database
from app.store.identities import IdentityRegistry
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
        self.identities = IdentityRegistry(db)  # the feeding gate (app.services.identity: the lifecycle)
        self.queue = UploadQueue(db, identities=self.identities)
        self.cache = Cache(db, settings.cache)
        self.journal = LocalJournal(db)

    @classmethod
    def open(cls, settings: StoreSettings, keys: KeyStore | None = None) -> LocalStore:
        return cls(Database.open(settings.folder, keys, busy_timeout=settings.busy_timeout), settings)

    def sender(self, credentials: Credentials) -> QueueSender:
        return QueueSender(
            self.queue,
            credentials,
            self.settings.folder / LOCK_NAME,
            policy=self.settings.retry,
            identities=self.identities,
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StoreOpening:
    """:meth:`LocalStore.open` on a thread of its own, for dmp-gui to open the base behind its shown
    window (the keyring's imports and D-Bus round trips, SQLCipher: ~50 ms on Linux). :meth:`start`
    starts it; :meth:`result` waits for it and raises what the opening raised. A reader that comes
    first starts it itself: at once on the main thread, after ``patience`` seconds on another (a
    worker asking during the window's construction waits for the window to be shown first)."""

    def __init__(self, settings: StoreSettings, patience: float = 1.0) -> None:
        self._settings = settings
        self._patience = patience
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: LocalStore | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._open, name="ouverture-base", daemon=True)
                self._thread.start()
                self._started.set()

    def _open(self) -> None:
        try:
            self._store = LocalStore.open(self._settings)
        except BaseException as error:  # handed over to the reader
            self._error = error

    def result(self) -> LocalStore | None:
        if threading.current_thread() is not threading.main_thread():
            self._started.wait(self._patience)
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._store
