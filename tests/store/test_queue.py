"""The queue's states and people's actions (no network: the sender has its own tests)."""

from __future__ import annotations

import contextlib
import io

import pytest

from app.store.errors import EntryStateError
from app.store.queue import State, UploadQueue
from app.store.request import SendMode, UploadRequest
from tests.store.helpers import request_for


def test_enqueue_pins_the_document_identity_and_keeps_the_bytes(queue: UploadQueue) -> None:
    entry = queue.enqueue(request_for(title="Lettre"), io.BytesIO(b"abc" * 100_000), source_name="l.txt")
    assert entry.state is State.QUEUED and entry.size == 300_000 and entry.attempts == 0
    assert entry.unique_id.startswith("2.25.") and entry.request.document_id == entry.unique_id
    assert entry.request.set_id.startswith("2.25.") and entry.request.created is not None
    assert entry.patient.startswith("P-") and "150081505104018" not in entry.patient
    out = io.BytesIO()
    assert queue.copy_content(entry.id, out) == 300_000 and out.getvalue() == b"abc" * 100_000
    again = queue.get(entry.id)
    assert again.request == entry.request  # the JSON form round-trips
    assert [s for _, s, _ in queue.history(entry.id)] == [State.QUEUED]


def test_the_same_source_is_queued_once(queue: UploadQueue) -> None:
    first = queue.enqueue(request_for(), io.BytesIO(b"x"), source_digest="d1")
    second = queue.enqueue(request_for(), io.BytesIO(b"x"), source_digest="d1")
    assert first.id == second.id and len(queue.entries()) == 1


def test_request_round_trip_with_every_field() -> None:
    import datetime as dt

    from app.dmp_client.core.cda import Author, Organization, Person
    from app.dmp_client.core.metadata import Visibility
    from app.dmp_client.core.valuesets import Concept

    author = Author(
        Person("899900012342", "PAUL", "CARDIOLOGUE"),
        Concept("G15_10/SM04", "1.2.250.1.213.1.1.4.6", "Cardiologie"),
        Organization("1990000017", "CH"),
    )
    start = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC)
    request = request_for(
        mode=SendMode.CARD,
        professional="899900012342",
        service_start=start,
        visibility=frozenset({Visibility.MASKED_FROM_PS}),
        author=author,
        replaces="2.25.1",
    ).pinned(start)
    assert UploadRequest.from_json(request.to_json()) == request


def test_retry_and_cancel_follow_the_states(queue: UploadQueue) -> None:
    entry = queue.enqueue(request_for(), io.BytesIO(b"x"))
    claimed = queue.claim_next([SendMode.STRUCTURE])
    assert claimed is not None and claimed.state is State.SENDING and claimed.attempts == 1
    with pytest.raises(EntryStateError):
        queue.cancel(entry.id)  # being sent
    queue.mark_failed(entry.id, "DMP:XDSRegistryMetadataError", "refusé")
    assert queue.get(entry.id).state is State.FAILED
    retried = queue.retry(entry.id)
    assert retried.state is State.QUEUED
    cancelled = queue.cancel(entry.id)
    assert cancelled.state is State.CANCELLED
    assert queue.db.execute("SELECT count(*) FROM queue_blob")[0][0] == 0
    with pytest.raises(EntryStateError):
        queue.retry(entry.id)


def test_an_uncertain_entry_cannot_be_cancelled(queue: UploadQueue) -> None:
    entry = queue.enqueue(request_for(), io.BytesIO(b"x"))
    queue.claim_next([SendMode.STRUCTURE])
    queue.mark_uncertain(entry.id)
    queue.mark_waiting(entry.id, "DMP-DELAI", "délai", 0.0)
    with pytest.raises(EntryStateError) as caught:
        queue.cancel(entry.id)
    assert caught.value.code == "FILE-ENVOI-INCERTAIN"


def test_entries_left_sending_by_a_dead_process_come_back_uncertain(queue: UploadQueue) -> None:
    entry = queue.enqueue(request_for(), io.BytesIO(b"x"))
    queue.claim_next([SendMode.STRUCTURE])
    assert queue.recover() == 1
    back = queue.get(entry.id)
    assert back.state is State.QUEUED and back.uncertain and back.reason_code == "FILE-ENVOI-INTERROMPU"


def test_claims_go_by_due_time_and_mode(queue: UploadQueue) -> None:
    card = queue.enqueue(request_for(mode=SendMode.CARD, professional="8"), io.BytesIO(b"c"))
    later = queue.enqueue(request_for(), io.BytesIO(b"l"))
    now = queue.enqueue(request_for(), io.BytesIO(b"n"))
    queue.claim_next([SendMode.STRUCTURE])
    queue.mark_waiting(later.id, "DMP-INJOIGNABLE", "réseau", queue.clock() + 60)
    claimed = queue.claim_next([SendMode.STRUCTURE])
    assert claimed is not None and claimed.id == now.id
    assert queue.claim_next([SendMode.STRUCTURE]) is None
    claimed_card = queue.claim_next([SendMode.CARD])
    assert claimed_card is not None and claimed_card.id == card.id
    queue.wake(SendMode.STRUCTURE)
    again = queue.claim_next([SendMode.STRUCTURE])
    assert again is not None and again.id == later.id


def test_counts(queue: UploadQueue) -> None:
    queue.enqueue(request_for(), io.BytesIO(b"x"))
    assert queue.counts()[State.QUEUED] == 1 and queue.counts()[State.SENT] == 0


def test_what_the_document_builder_would_refuse_is_refused_at_enqueue(queue: UploadQueue) -> None:
    from dataclasses import replace

    from app.store.request import IncompleteRequest

    good = request_for()
    for bad, expected in (
        (replace(good, media_type="application/zip"), "format non admis"),
        (replace(good, traits=replace(good.traits, birth_place=None)), "lieu de naissance"),
        (replace(good, title="  "), "titre vide"),
        (replace(good, type_code="99999-9"), "type de document inconnu"),
        (replace(good, mode=SendMode.CARD), "professionnel"),
    ):
        with pytest.raises(IncompleteRequest) as caught:
            queue.enqueue(bad, io.BytesIO(b"x"))
        assert expected in caught.value.user_message
    assert queue.entries() == []


def test_the_pseudonym_secret_is_read_once_and_never_remembered_from_a_rolled_back_write(
    queue: UploadQueue,
) -> None:
    from app.store import pseudonym as module

    ins = request_for().ins
    with contextlib.suppress(RuntimeError), queue.db.write():
        inside = module.pseudonym(queue.db, ins)  # creates the secret inside a transaction…
        raise RuntimeError("…which is rolled back")
    assert queue.db not in module._known
    after = module.pseudonym(queue.db, ins)
    assert after.startswith("P-") and inside.startswith("P-")  # a new secret may be drawn: it is stored
    assert module._known[queue.db] == bytes(
        queue.db.execute("SELECT value FROM meta WHERE name = 'pseudonym-secret'")[0][0]
    )
    assert module.pseudonym(queue.db, ins) == after
