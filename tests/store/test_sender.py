"""Draining with a scripted client: exactly once whatever fails, and when it fails."""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.card.errors import CardRemoved, NoCard, PinIncorrect
from app.dmp_client.core.errors import MalformedResponse, RemoteError
from app.dmp_client.core.registry import RegistryErrorItem, RegistryFailure
from app.dmp_client.documents import Sent
from app.dmp_client.errors import HostUnreachable, Timeout, TlsError
from app.store.errors import DrainBusy, EntryStateError
from app.store.lock import ProcessLock
from app.store.queue import State, UploadQueue
from app.store.request import SendMode
from app.store.sender import Policy, QueueSender
from tests.store.helpers import request_for


@dataclass
class FakeHost:
    documents: dict[str, str] = field(default_factory=dict)  # uniqueId → sha256 of the content
    sends: int = 0


class FakeClient:
    """Plays the facade's part; ``script`` says what each send does: "ok", "lost" (stored, then no
    answer), "down" (not stored), "busy" (transient DMP fault), "refused", "card-out"."""

    def __init__(self, host: FakeHost, script: list[str], actor: str = "3990000017/secretariat") -> None:
        self.host = host
        self.script = script
        self.checks = 0
        self.session = type("S", (), {"actor": type("A", (), {"national_id": actor})()})()

    def document_reference(self, ins: Any, unique_id: str) -> str | None:
        self.checks += 1
        return f"urn:uuid:{unique_id}" if unique_id in self.host.documents else None

    def checked_status(self, ins: Any, *, feeding: bool = False) -> None:
        return None

    def document_by_unique_id(self, ins: Any, unique_id: str) -> Any:
        raise AssertionError("no replacement in these tests")

    def send(self, ins: Any, document: Any, *, replaces: Any = None) -> Sent:
        action = self.script.pop(0) if self.script else "ok"
        document.content.seek(0)
        digest = hashlib.sha256(document.content.read()).hexdigest()
        self.host.sends += 1
        if action == "down":
            raise HostUnreachable()
        if action == "busy":
            raise RemoteError("DMPServiceUnavailable", "indisponible", subcode="DMPServiceUnavailable")
        if action == "refused":
            raise RegistryFailure((RegistryErrorItem("XDSRegistryMetadataError", "typeCode", "Error", ""),))
        if action == "card-out":
            raise CardRemoved()
        if action == "tls":
            raise TlsError()
        if action == "garbled":  # stored, then an answer nobody can read
            self.host.documents[document.document_id] = digest
            raise MalformedResponse()
        if document.document_id in self.host.documents:
            raise RegistryFailure((RegistryErrorItem("XDSDuplicateUniqueIdInRegistry", "déjà", "Error", ""),))
        self.host.documents[document.document_id] = digest
        if action == "lost":
            raise Timeout()
        return Sent(document.document_id, f"urn:uuid:{document.document_id}", document.set_id, 1, 1)


class FakeCredentials:
    def __init__(self, clients: dict[SendMode, Any], unavailable: dict[SendMode, Exception] | None = None):
        self.clients = clients
        self.unavailable = unavailable or {}
        self.calls = 0
        self.invalidated: list[SendMode] = []

    def client(self, mode: SendMode, professional: str | None) -> Any:
        self.calls += 1
        if mode in self.unavailable:
            raise self.unavailable[mode]
        return self.clients[mode]

    def invalidate(self, mode: SendMode) -> None:
        self.invalidated.append(mode)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(queue: UploadQueue) -> Clock:
    c = Clock()
    queue.clock = c
    return c


def sender(queue: UploadQueue, credentials: Any, tmp_path: Path) -> QueueSender:
    return QueueSender(
        queue, credentials, tmp_path / "envoi.lock", policy=Policy(1.0, 60.0), rng=random.Random(1)
    )


def enqueue(queue: UploadQueue, n: int, mode: SendMode = SendMode.STRUCTURE) -> list[int]:
    professional = "899900018" if mode is SendMode.CARD else None
    return [
        queue.enqueue(
            request_for(title=f"Doc {i}", mode=mode, professional=professional), io.BytesIO(b"%d" % i)
        ).id
        for i in range(n)
    ]


def test_everything_sent_once_and_the_bytes_erased(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    host = FakeHost()
    ids = enqueue(queue, 3)
    report = sender(queue, FakeCredentials({SendMode.STRUCTURE: FakeClient(host, [])}), tmp_path).drain()
    assert report.sent == ids and host.sends == 3 and len(host.documents) == 3
    assert all(queue.get(i).state is State.SENT for i in ids)
    assert queue.db.execute("SELECT count(*) FROM queue_blob")[0][0] == 0


def test_a_lost_answer_is_resolved_by_asking_the_host(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    client = FakeClient(host, ["lost"])
    [entry_id] = enqueue(queue, 1)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: client}), tmp_path)
    first = drain.drain()
    waiting = queue.get(entry_id)
    assert first.waiting == [entry_id] and waiting.uncertain and waiting.reason_code == "DMP-DELAI"
    assert waiting.next_attempt_at > clock.now
    clock.now = waiting.next_attempt_at
    second = drain.drain()
    assert second.confirmed == [entry_id] and client.checks == 1
    assert host.sends == 1 and queue.get(entry_id).state is State.SENT
    assert queue.get(entry_id).reason_code == "FILE-DEJA-RECU"


def test_a_failure_before_the_host_stored_it_sends_again_after_checking(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    client = FakeClient(host, ["down"])
    [entry_id] = enqueue(queue, 1)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: client}), tmp_path)
    drain.drain()
    clock.now += 120
    assert drain.drain().sent == [entry_id]
    assert client.checks == 1 and len(host.documents) == 1


def test_a_duplicate_refusal_after_an_uncertain_attempt_means_delivered(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    [entry_id] = enqueue(queue, 1)
    entry = queue.get(entry_id)
    host.documents[entry.unique_id] = entry.sha256

    class Blind(FakeClient):  # cannot see the document (e.g. rights), the registry still refuses
        def document_reference(self, ins: Any, unique_id: str) -> str | None:
            return None

    queue.claim_next([SendMode.STRUCTURE])
    queue.recover()
    report = sender(queue, FakeCredentials({SendMode.STRUCTURE: Blind(host, [])}), tmp_path).drain()
    assert report.confirmed == [entry_id] and len(host.documents) == 1


def test_host_down_makes_the_whole_mode_wait_then_a_success_wakes_it(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    client = FakeClient(host, ["down"])
    ids = enqueue(queue, 5)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: client}), tmp_path)
    report = drain.drain()
    assert report.waiting == [ids[0]] and host.sends == 1  # one probe, not five failures
    assert all(queue.get(i).reason_code == "DMP-INJOIGNABLE" for i in ids)
    assert drain.drain().sent == []  # nothing due yet
    clock.now = queue.get(ids[0]).next_attempt_at
    report = drain.drain()
    assert sorted(report.sent) == ids and len(host.documents) == 5


def test_back_off_grows_with_jitter_and_a_cap() -> None:
    policy = Policy(base_delay=5.0, max_delay=100.0)
    rng = random.Random(3)
    delays = [policy.delay(n, rng) for n in range(1, 10)]
    assert 2.5 <= delays[0] <= 5.0 and 5.0 <= delays[1] <= 10.0
    assert all(50.0 <= d <= 100.0 for d in delays[5:])
    assert len({round(policy.delay(3, rng), 6) for _ in range(20)}) > 1  # jittered


def test_transient_dmp_fault_waits_permanent_refusal_waits_for_a_person(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    client = FakeClient(host, ["busy"])
    [busy, refused] = enqueue(queue, 2)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: client}), tmp_path)
    drain.drain()
    assert (
        queue.get(busy).state is State.QUEUED and queue.get(busy).reason_code == "DMP:DMPServiceUnavailable"
    )
    clock.now += 1000
    client.script = ["ok", "refused"]
    drain.drain()
    failed = queue.get(refused)
    assert failed.state is State.FAILED and failed.reason_code == "DMP:XDSRegistryMetadataError"
    assert not failed.uncertain  # a refusal is an answer
    clock.now += 1000
    assert drain.drain().sent == []  # failed entries wait for a person
    queue.retry(refused)
    assert drain.drain().sent == [refused]


def test_tls_failure_needs_a_person(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    [entry_id] = enqueue(queue, 1)
    sender(queue, FakeCredentials({SendMode.STRUCTURE: FakeClient(FakeHost(), ["tls"])}), tmp_path).drain()
    assert queue.get(entry_id).state is State.FAILED and queue.get(entry_id).reason_code == "DMP-TLS"


def test_no_card_entries_wait_without_counting_attempts_and_structure_ones_go(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()
    card_ids = enqueue(queue, 2, SendMode.CARD)
    [structure_id] = enqueue(queue, 1)
    credentials = FakeCredentials({SendMode.STRUCTURE: FakeClient(host, [])}, {SendMode.CARD: NoCard()})
    report = sender(queue, credentials, tmp_path).drain()
    assert report.sent == [structure_id]
    for entry_id in card_ids:
        entry = queue.get(entry_id)
        assert entry.state is State.QUEUED and entry.attempts == 0 and entry.reason_code == "CARTE-ABSENTE"
        assert "carte CPS" in (entry.reason or "")
    assert credentials.calls == 2  # one per mode: the second card entry was not tried


def test_card_pulled_out_during_the_send(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    host = FakeHost()
    card_client = FakeClient(host, ["card-out"], actor="899900018")
    [entry_id] = enqueue(queue, 1, SendMode.CARD)
    credentials = FakeCredentials({SendMode.CARD: card_client})
    drain = sender(queue, credentials, tmp_path)
    drain.drain()
    entry = queue.get(entry_id)
    assert entry.state is State.QUEUED and entry.uncertain and entry.reason_code == "CARTE-RETIREE"
    assert credentials.invalidated == [SendMode.CARD]
    assert entry.next_attempt_at >= clock.now + 10  # the card is looked for again later, not in a loop
    clock.now += 11
    assert drain.drain().sent == [entry_id] and card_client.checks == 1


def test_a_refused_pin_is_never_retried_by_the_sender(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    enqueue(queue, 3, SendMode.CARD)
    credentials = FakeCredentials({}, {SendMode.CARD: PinIncorrect(2)})
    report = sender(queue, credentials, tmp_path).drain()
    assert credentials.calls == 1 and len(report.waiting) == 1
    assert all(e.reason_code == "CARTE-CODE-FAUX" for e in queue.entries([State.QUEUED]))


def test_one_drainer_at_a_time(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    enqueue(queue, 1)
    with ProcessLock(tmp_path / "envoi.lock"), pytest.raises(DrainBusy):
        sender(queue, FakeCredentials({}), tmp_path).drain()
    assert queue.entries()[0].state is State.QUEUED


def test_a_bug_in_a_send_stops_that_entry_not_the_queue(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    host = FakeHost()

    class Buggy(FakeClient):
        def send(self, ins: Any, document: Any, *, replaces: Any = None) -> Sent:
            if document.title == "Doc 0":
                raise KeyError("bug")
            return super().send(ins, document, replaces=replaces)

    ids = enqueue(queue, 2)
    report = sender(queue, FakeCredentials({SendMode.STRUCTURE: Buggy(host, [])}), tmp_path).drain()
    assert report.failed == [ids[0]] and report.sent == [ids[1]]
    assert queue.get(ids[0]).reason_code == "FILE-ERREUR-INTERNE"


def test_a_refused_lookup_keeps_the_entry_uncertain(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    host = FakeHost()

    class Refusing(FakeClient):
        refuse = True

        def document_reference(self, ins: Any, unique_id: str) -> str | None:
            self.checks += 1
            if self.refuse:
                raise RemoteError(
                    "DMPAccessDeniedByRightsService", "refus", subcode="DMPAccessDeniedByRightsService"
                )
            return super().document_reference(ins, unique_id)

    client = Refusing(host, ["lost"])
    [entry_id] = enqueue(queue, 1)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: client}), tmp_path)
    drain.drain()
    clock.now += 120
    drain.drain()
    failed = queue.get(entry_id)
    assert failed.state is State.FAILED and failed.uncertain  # nobody knows whether the host holds it
    with pytest.raises(EntryStateError):
        queue.cancel(entry_id)
    client.refuse = False
    queue.retry(entry_id)
    assert drain.drain().confirmed == [entry_id] and host.sends == 1 and client.checks == 3


def test_an_unreadable_answer_is_not_a_refusal(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    host = FakeHost()
    [entry_id] = enqueue(queue, 1)
    sender(queue, FakeCredentials({SendMode.STRUCTURE: FakeClient(host, ["garbled"])}), tmp_path).drain()
    entry = queue.get(entry_id)
    assert entry.state is State.FAILED and entry.uncertain and entry.reason_code == "DMP-REPONSE-ILLISIBLE"
    with pytest.raises(EntryStateError) as caught:
        queue.cancel(entry_id)
    assert caught.value.code == "FILE-ENVOI-INCERTAIN"
    forced = queue.cancel(entry_id, force=True)
    assert forced.state is State.CANCELLED
    assert [c for _, _, c in queue.history(entry_id)][-1] == "ANNULATION-FORCEE"


def test_another_professional_s_card_does_not_block_the_holder_s_entries(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    from app.store.sender import WrongCard

    host = FakeHost()
    other = queue.enqueue(request_for(title="B", mode=SendMode.CARD, professional="B"), io.BytesIO(b"b")).id
    mine = [
        queue.enqueue(request_for(title=f"A{i}", mode=SendMode.CARD, professional="A"), io.BytesIO(b"a")).id
        for i in range(3)
    ]
    client = FakeClient(host, [], actor="A")

    class CardOfA(FakeCredentials):
        def client(self, mode: SendMode, professional: str | None) -> Any:
            self.calls += 1
            if professional != "A":
                raise WrongCard()
            return client

    report = sender(queue, CardOfA({}), tmp_path).drain()
    assert sorted(report.sent) == mine and report.waiting == [other]
    assert queue.get(other).reason_code == "FILE-AUTRE-CARTE"


def test_waiting_for_a_card_does_not_fill_the_history(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    [entry_id] = enqueue(queue, 1, SendMode.CARD)
    drain = sender(queue, FakeCredentials({}, {SendMode.CARD: NoCard()}), tmp_path)
    for _ in range(5):
        drain.drain()
        clock.now += 11
    codes = [c for _, _, c in queue.history(entry_id)]
    assert codes.count("CARTE-ABSENTE") == 1 and queue.get(entry_id).attempts == 0


def test_damaged_bytes_or_broken_credentials_fail_the_entry_not_the_drain(
    queue: UploadQueue, clock: Clock, tmp_path: Path
) -> None:
    from app.errors import DmpClientError

    host = FakeHost()
    [damaged, fine] = enqueue(queue, 2)
    with queue.db.write() as cx:
        cx.execute(
            "UPDATE queue_blob SET data = x'00' "
            "WHERE token = (SELECT content_token FROM queue_entry WHERE id = ?)",
            (damaged,),
        )
    report = sender(queue, FakeCredentials({SendMode.STRUCTURE: FakeClient(host, [])}), tmp_path).drain()
    assert report.failed == [damaged] and report.sent == [fine]
    assert queue.get(damaged).reason_code == "FILE-CONTENU"

    [config] = enqueue(queue, 1)
    broken = FakeCredentials({}, {SendMode.STRUCTURE: DmpClientError("pas de certificat", code="DMP-CONFIG")})
    assert sender(queue, broken, tmp_path).drain().failed == [config]
    assert queue.get(config).reason_code == "DMP-CONFIG"

    [system] = enqueue(queue, 1)
    missing = FakeCredentials({}, {SendMode.STRUCTURE: FileNotFoundError(2, "clé absente")})
    assert sender(queue, missing, tmp_path).drain().failed == [system]
    assert queue.get(system).reason_code == "FILE-ERREUR-SYSTEME"


def test_follow_mode_survives_a_failing_base(queue: UploadQueue, clock: Clock, tmp_path: Path) -> None:
    import threading

    from app.store.errors import StoreLocked

    host = FakeHost()
    [entry_id] = enqueue(queue, 1)
    drain = sender(queue, FakeCredentials({SendMode.STRUCTURE: FakeClient(host, [])}), tmp_path)
    errors: list[object] = []
    stop = threading.Event()
    real_claim = queue.claim_next
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreLocked()
        result = real_claim(*args, **kwargs)
        if result is None:
            stop.set()
        return result

    queue.claim_next = flaky  # type: ignore[method-assign]
    drain.on_error = errors.append
    drain.drain(follow=True, stop=stop, poll=0.01)
    assert len(errors) == 1 and queue.get(entry_id).state is State.SENT
