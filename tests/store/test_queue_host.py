"""The queue against the sandbox host over real mutual TLS, with the key in the real keyring:
every document reaches the DMP exactly once, whatever the host does."""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config.settings import Settings
from app.dmp_client.client import DmpClient
from app.dmp_client.factory import structure_client
from app.store.errors import StoreLocked
from app.store.local_store import LocalStore, StoreSettings
from app.store.queue import State, UploadQueue
from app.store.request import SendMode
from app.store.sender import Policy, QueueSender
from sandbox.host.server import DmpHost
from tests.host_fixture import settings_for
from tests.keyring_fixture import SystemKeyring
from tests.store.helpers import request_for


class HostCredentials:
    """The structure's certificate (indirect mode), as a hospital's secretariat uses it."""

    def __init__(self, settings: Settings, store: LocalStore) -> None:
        self.settings = settings
        self.store = store
        self._client: DmpClient | None = None
        self.opened = 0

    def client(self, mode: SendMode, professional: str | None) -> DmpClient:
        if self._client is None:
            self._client = structure_client(self.settings)
            self._client.journal = self.store.journal
            self.opened += 1
        return self._client

    def invalidate(self, mode: SendMode) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@pytest.fixture
def local_store(system_keyring: SystemKeyring, tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore.open(StoreSettings(tmp_path / "store", retry=Policy(0.01, 0.05)))
    yield store
    store.close()


def host_copies(host: DmpHost, column: str, value: str) -> int:
    db = host.store.connect()
    return int(db.execute(f"SELECT count(*) FROM xds_document WHERE {column} = ?", (value,)).fetchone()[0])


def drain_until_done(store: LocalStore, credentials: HostCredentials, rounds: int = 200) -> None:
    sender = store.sender(credentials)
    sender.rng = random.Random(7)
    for _ in range(rounds):
        sender.drain()
        pending = store.queue.entries((State.QUEUED, State.SENDING))
        if not pending:
            return
        later = max(e.next_attempt_at for e in pending) + 0.001
        store.queue.clock = functools.partial(float, later)  # time moves on to the last one's due time
    raise AssertionError("the queue did not drain")


def enqueue_reports(queue: UploadQueue, n: int, prefix: str) -> list[int]:
    return [
        queue.enqueue(
            request_for(title=f"{prefix} {i}"), io.BytesIO(f"Compte rendu {prefix} {i}\n".encode())
        ).id
        for i in range(n)
    ]


def test_queued_reports_reach_the_host_once_and_the_journal_says_so(
    host: DmpHost, pki_dir: Path, local_store: LocalStore
) -> None:
    ids = enqueue_reports(local_store.queue, 3, "Normal")
    credentials = HostCredentials(settings_for(host, pki_dir), local_store)
    report = local_store.sender(credentials).drain()
    assert sorted(report.sent) == ids
    for entry_id in ids:
        entry = local_store.queue.get(entry_id)
        assert entry.state is State.SENT and entry.host_entry_id
        assert host_copies(host, "unique_id", entry.unique_id) == 1
        assert host_copies(host, "title", entry.title) == 1
    rows = list(local_store.journal.rows())
    sends = [r for r in rows if r.transaction == "TD2.1"]
    assert len(sends) == 3 and all(
        r.result == "OK" and r.patient and r.patient.startswith("P-") for r in sends
    )
    credentials.invalidate(SendMode.STRUCTURE)


def test_lost_answers_are_resolved_without_a_second_copy(
    host: DmpHost, pki_dir: Path, local_store: LocalStore
) -> None:
    ids = enqueue_reports(local_store.queue, 4, "Perdu")
    credentials = HostCredentials(settings_for(host, pki_dir), local_store)
    patient = local_store.queue.get(ids[0]).request.ins
    credentials.client(SendMode.STRUCTURE, None).checked_status(patient, feeding=True)  # TD0.2 cached
    host.config.faults.lost_answer_rate = 1.0  # the host stores, then the connection drops
    first = local_store.sender(credentials).drain()
    assert first.sent == [] and len(first.waiting) == 1
    held = [e for e in local_store.queue.entries() if host_copies(host, "unique_id", e.unique_id)]
    assert len(held) == 1 and held[0].uncertain
    host.config.faults.lost_answer_rate = 0.0
    drain_until_done(local_store, credentials)
    for entry_id in ids:
        entry = local_store.queue.get(entry_id)
        assert entry.state is State.SENT
        assert host_copies(host, "title", entry.title) == 1
    assert local_store.queue.get(held[0].id).reason_code == "FILE-DEJA-RECU"
    credentials.invalidate(SendMode.STRUCTURE)


def test_a_failing_slow_and_dropping_host_still_gets_each_report_once(
    host: DmpHost, pki_dir: Path, local_store: LocalStore
) -> None:
    faults = host.config.faults
    faults.latency, faults.error_rate, faults.drop_rate, faults.lost_answer_rate = 0.01, 0.25, 0.2, 0.25
    faults.rng.seed(11)
    ids = enqueue_reports(local_store.queue, 10, "Chaos")
    credentials = HostCredentials(settings_for(host, pki_dir), local_store)
    drain_until_done(local_store, credentials)
    faults.latency = faults.error_rate = faults.drop_rate = faults.lost_answer_rate = 0.0
    for entry_id in ids:
        entry = local_store.queue.get(entry_id)
        assert entry.state is State.SENT, (entry.reason_code, entry.reason)
        assert host_copies(host, "title", entry.title) == 1
    history = [s for i in ids for _, s, _ in local_store.queue.history(i)]
    assert history.count(State.SENDING) > len(ids)  # faults really happened
    credentials.invalidate(SendMode.STRUCTURE)


def test_base_locked_after_the_host_accepted_nothing_doubled(
    host: DmpHost, pki_dir: Path, local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    [entry_id] = enqueue_reports(local_store.queue, 1, "Verrou")
    credentials = HostCredentials(settings_for(host, pki_dir), local_store)
    original = UploadQueue.mark_sent

    def locked(self: UploadQueue, *args: object, **kwargs: object) -> None:
        raise StoreLocked()

    monkeypatch.setattr(UploadQueue, "mark_sent", locked)
    with pytest.raises(StoreLocked):
        local_store.sender(credentials).drain()
    assert local_store.queue.get(entry_id).state is State.SENDING
    monkeypatch.setattr(UploadQueue, "mark_sent", original)
    report = local_store.sender(credentials).drain()  # the next drain recovers and asks the host
    assert report.confirmed == [entry_id] and report.recovered == 1
    assert host_copies(host, "title", "Verrou 0") == 1
    credentials.invalidate(SendMode.STRUCTURE)


def test_the_sender_stops_cleanly_on_request(host: DmpHost, pki_dir: Path, local_store: LocalStore) -> None:
    import threading

    credentials = HostCredentials(settings_for(host, pki_dir), local_store)
    stop = threading.Event()
    sender: QueueSender = local_store.sender(credentials)
    thread = threading.Thread(target=sender.drain, kwargs={"follow": True, "stop": stop, "poll": 0.05})
    thread.start()
    local_store.queue.enqueue(request_for(title="Suivi 0"), io.BytesIO(b"suivi"))
    deadline = 100
    while local_store.queue.counts()[State.SENT] == 0 and deadline:
        stop.wait(0.05)
        deadline -= 1
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert local_store.queue.counts()[State.SENT] == 1
    credentials.invalidate(SendMode.STRUCTURE)
