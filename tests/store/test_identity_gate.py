"""Feeding refused unless the identity is qualifiée (issue 17), at the store's entry points: the
queue (every caller: CLI, GUI, batch), the hot folder (the pair goes to erreurs/ with the
explanation) and the drain (an entry queued before the status changed waits, never sent, never lost)."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.errors import IdentityNotQualified
from app.ins import IdentityTraits
from app.services.identity import DocumentCheck, DocumentType, IdentityLifecycle, InsiAnswer
from app.store.keys import KeyStore
from app.store.local_store import LocalStore, StoreSettings
from app.store.queue import State
from app.store.request import SendMode
from app.store.sender import Policy
from tests.identity_helpers import qualify
from tests.store.helpers import request_for
from tests.store.test_hotfolder import ERRORS, drop, hot
from tests.store.test_sender import FakeClient, FakeCredentials, FakeHost

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path, memory_keys: KeyStore) -> Iterator[LocalStore]:
    from app.store.database import Database

    settings = StoreSettings(tmp_path / "store", retry=Policy(0.01, 0.05, credentials_retry=0.05))
    with LocalStore(Database.open(settings.folder, memory_keys), settings) as opened:
        yield opened


def test_the_queue_refuses_a_provisoire_identity(store: LocalStore) -> None:
    request = request_for("P03")
    with pytest.raises(IdentityNotQualified) as refused:
        store.queue.enqueue(request, io.BytesIO(b"x"))
    assert refused.value.code == "IDENTITE-NON-QUALIFIEE" and "INSi" in refused.value.user_message
    assert store.queue.entries() == []  # nothing queued, no bytes staged
    assert store.db.execute("SELECT COUNT(*) FROM queue_blob") == [(0,)]


def test_the_queue_refuses_a_recuperee_identity_and_takes_a_qualifiee_one(store: LocalStore) -> None:
    request = request_for("P03")
    life = IdentityLifecycle(store.db)
    life.record_insi(request.ins, request.traits, InsiAnswer(request.ins, request.traits, "R1", NOW), "a")
    with pytest.raises(IdentityNotQualified, match="pièce d'identité"):
        store.queue.enqueue(request, io.BytesIO(b"x"))
    life.check_document(request.ins, request.traits, DocumentCheck(DocumentType.TITRE_SEJOUR, "a", NOW))
    assert store.queue.enqueue(request, io.BytesIO(b"x")).state is State.QUEUED


def test_an_entry_queued_before_the_status_changed_waits_never_sent_never_lost(store: LocalStore) -> None:
    request = request_for("P03")
    qualify(store.db, request.ins, request.traits)
    entry = store.queue.enqueue(request, io.BytesIO(b"compte rendu"))
    changed = IdentityTraits(
        request.traits.birth_name, ("AUTRE",), request.traits.sex, request.traits.birth_date, "75056"
    )
    IdentityLifecycle(store.db).change_traits(request.ins, changed, "secretariat", "prénom corrigé")
    host = FakeHost()
    credentials = FakeCredentials({SendMode.STRUCTURE: FakeClient(host, [])})
    report = store.sender(credentials).drain((SendMode.STRUCTURE,))
    assert report.waiting == [entry.id] and not report.sent and host.sends == 0
    waiting = store.queue.get(entry.id)
    assert waiting.state is State.QUEUED and waiting.reason_code == "IDENTITE-NON-QUALIFIEE"
    assert waiting.reason is not None and "INSi" in waiting.reason
    assert waiting.attempts == 0  # waiting for a person, not a failed attempt
    # Qualified again (with the traits the document carries): it leaves, once.
    qualify(store.db, request.ins, request.traits)
    time.sleep(0.1)  # the entry looks again after credentials_retry (0.05 s here)
    report = store.sender(credentials).drain((SendMode.STRUCTURE,))
    assert report.sent == [entry.id] and host.sends == 1


def test_the_hot_folder_sends_a_non_qualified_pair_to_errors_with_the_explanation(
    store: LocalStore, tmp_path: Path
) -> None:
    inbox = tmp_path / "depot"
    inbox.mkdir()
    drop(inbox)  # P01, never qualified here
    report = hot(inbox, store.queue).scan()
    assert report.rejected == ["cr-123.pdf"] and store.queue.entries() == []
    note = (inbox / ERRORS / "cr-123.pdf.erreur.txt").read_text(encoding="utf-8")
    assert "IDENTITE-NON-QUALIFIEE" in note and "téléservice INSi" in note and "pièce d'identité" in note
    assert "Qualifiez l'identité du patient" in note
    assert (inbox / ERRORS / "cr-123.pdf").exists() and (inbox / ERRORS / "cr-123.pdf.dmp.json").exists()
