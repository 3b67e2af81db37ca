"""The lying registry (sandbox/host/lies.py) against the facade: every lie is refused with its own code,
nothing is written to the caller's sink, no update or replacement goes out."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import BinaryIO

import pytest

from app.dmp_client.client import DmpClient
from app.dmp_client.core import iti18
from app.dmp_client.core.errors import AlteredDocument, LocalProtocolError, OtherPatientAnswer
from app.dmp_client.core.iti18 import FindDocuments, ReturnType, StoredQuery
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.documents import BATCH, SAFETY_EVENT, check_entries
from app.dmp_client.exchange import JournalEvent
from app.errors import DmpClientError
from app.ins import Ins
from app.services.workspace import ALL_STATUSES
from app.store.local_store import LocalStore, StoreSettings
from sandbox.host import lies
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient, report
from tests.host_fixture import DirectClient
from tests.keyring_fixture import SystemKeyring


@pytest.fixture
def client(host: DmpHost, direct_client: DirectClient) -> DmpClient:
    return direct_client(host, "generaliste")


def _sent(client: DmpClient, tmp_path: Path):  # type: ignore[no-untyped-def]
    ins, traits = patient("P03")
    sent = client.send(ins, report(tmp_path, traits, "Compte rendu"))
    return ins, traits, sent, client.document_by_unique_id(ins, sent.unique_id)


@pytest.mark.parametrize("lie", ["autre-patient", "patient-double"])
def test_another_patients_entry_is_refused_everywhere(
    client: DmpClient, host: DmpHost, tmp_path: Path, lie: str
) -> None:
    ins, traits, sent, entry = _sent(client, tmp_path)
    host.config.faults.lie = lie
    for call in (
        lambda: client.find_documents(ins),
        lambda: client.document_by_unique_id(ins, sent.unique_id),
        lambda: client.get_documents(ins, [entry.entry_id]),
        lambda: client.send(
            ins, report(tmp_path, traits, "v2"), replaces=client.document_by_unique_id(ins, sent.unique_id)
        ),
    ):
        with pytest.raises(OtherPatientAnswer) as caught:
            call()
        assert caught.value.code == "DMP-REPONSE-AUTRE-PATIENT"
        assert "autre patient" in caught.value.user_message
    host.config.faults.lie = None
    assert client.document_by_unique_id(ins, sent.unique_id).version == "1"  # nothing replaced


def test_entry_of_another_patient_is_never_acted_on(client: DmpClient, tmp_path: Path) -> None:
    _ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    other, _ = patient("P04")
    for call in (
        lambda: client.set_visibility(other, entry, add={Visibility.MASKED_FROM_PS}),
        lambda: client.set_status(other, entry, "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"),
        lambda: client.retrieve(other, entry, io.BytesIO()),
    ):
        with pytest.raises(OtherPatientAnswer):
            call()


@pytest.mark.parametrize("mode", ["autres-octets", "document-vide"])
def test_altered_or_empty_document_is_never_written(
    client: DmpClient, host: DmpHost, tmp_path: Path, mode: str
) -> None:
    ins, traits, sent, entry = _sent(client, tmp_path)
    host.config.faults.lie = mode
    sink = io.BytesIO()
    with pytest.raises(AlteredDocument) as caught:
        client.retrieve(ins, entry, sink)
    assert caught.value.code == "DMP-DOCUMENT-ALTERE"
    assert sink.getvalue() == b""
    with pytest.raises(AlteredDocument):  # the replacement reads the old CDA first: refused too
        client.send(ins, report(tmp_path, traits, "v2"), replaces=entry)
    host.config.faults.lie = None
    assert client.document_by_unique_id(ins, sent.unique_id).version == "1"


def test_success_carrying_an_error_is_a_failure(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    """An Error-severity RegistryError under Success is a failure carrying its code (core/registry.py)."""
    ins, _traits, _sent_doc, _entry = _sent(client, tmp_path)
    host.config.faults.lie = "succes-avec-erreur"
    with pytest.raises(DmpClientError) as caught:
        client.find_documents(ins)
    assert lies.ERROR_CODE in caught.value.code or lies.ERROR_CODE in str(caught.value)


def test_soap11_children_keep_the_servers_text(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    """A SOAP 1.2 Fault with SOAP 1.1 children keeps the host's text (core/soap.py)."""
    ins, _traits, _sent_doc, _entry = _sent(client, tmp_path)
    host.config.faults.lie = "faute-soap11"
    with pytest.raises(DmpClientError) as caught:
        client.find_documents(ins)
    assert lies.FAULT_TEXT in str(caught.value)


class _Journal:
    """The facade's Journal protocol, in memory."""

    def __init__(self) -> None:
        self.events: list[JournalEvent] = []

    def record(self, event: JournalEvent) -> None:
        self.events.append(event)


def test_each_refusal_is_journaled_once_as_a_safety_event(
    client: DmpClient, host: DmpHost, tmp_path: Path
) -> None:
    ins, traits, _sent_doc, entry = _sent(client, tmp_path)
    journal = _Journal()
    client.journal = journal
    host.config.faults.lie = "autre-patient"
    with pytest.raises(OtherPatientAnswer):
        client.find_documents(ins)
    host.config.faults.lie = "autres-octets"
    with pytest.raises(AlteredDocument):  # refused deep inside (retrieve of the old CDA): one event
        client.send(ins, report(tmp_path, traits, "v2"), replaces=entry)
    safety = [e for e in journal.events if e.transaction == SAFETY_EVENT]
    assert [(e.result, e.patient) for e in safety] == [
        ("DMP-REPONSE-AUTRE-PATIENT", ins),
        ("DMP-DOCUMENT-ALTERE", ins),
    ]
    # The transactions themselves are journaled with the same code (TD3.1 find, TD3.2 + TD2.1 send).
    assert ("TD3.1", "DMP-REPONSE-AUTRE-PATIENT") in [(e.transaction, e.result) for e in journal.events]
    assert ("TD2.1", "DMP-DOCUMENT-ALTERE") in [(e.transaction, e.result) for e in journal.events]
    host.config.faults.lie = None
    client.find_documents(ins)
    assert len([e for e in journal.events if e.transaction == SAFETY_EVENT]) == 2  # none when all is well


def test_an_entry_is_asked_by_its_own_kind_of_id(client: DmpClient, tmp_path: Path) -> None:
    """Asked by entryUUID, an entry is matched on its entryUUID only (and by uniqueId on its
    uniqueId): a host cannot pass another document by echoing the requested id in the other slot."""
    ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    check_entries(ins, [entry], entry_ids=[entry.entry_id])
    check_entries(ins, [entry], unique_ids=[entry.unique_id])
    echoed = dataclasses.replace(entry, entry_id="urn:uuid:00000000-0000-4000-8000-000000000001")
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [echoed], entry_ids=[entry.entry_id])
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [entry], entry_ids=[entry.unique_id])  # a uniqueId is no entryUUID
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [entry], unique_ids=[entry.entry_id])
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [entry], entry_ids=[])  # nothing asked: nothing may come back
    no_patient = dataclasses.replace(entry, patient_cx="")
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [no_patient])
    other_oid = dataclasses.replace(
        entry, patient_cx=entry.patient_cx.replace("1.2.250.1.213.1.4.10", "1.2.3")
    )
    with pytest.raises(OtherPatientAnswer):
        check_entries(ins, [other_oid])


def test_an_entry_without_size_or_hash_proves_nothing(client: DmpClient, tmp_path: Path) -> None:
    ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    for unchecked in (dataclasses.replace(entry, size=None), dataclasses.replace(entry, sha1=None)):
        sink = io.BytesIO()
        with pytest.raises(AlteredDocument):
            client.retrieve(ins, unchecked, sink)
        assert sink.getvalue() == b""
    sink = io.BytesIO()
    assert client.retrieve(ins, entry, sink) == entry.size and len(sink.getvalue()) == entry.size


def test_a_search_for_another_patient_is_never_sent(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    ins, _traits, sent, _entry = _sent(client, tmp_path)
    other, _ = patient("P04")
    with pytest.raises(LocalProtocolError):
        client.find_documents(ins, FindDocuments(other))
    with pytest.raises(LocalProtocolError):  # a LeafClass answer without a patient to check it against
        client.query(
            None,
            StoredQuery.GET_DOCUMENTS,
            iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [], [sent.unique_id]),
            ReturnType.LEAF_CLASS,
        )


def test_each_batch_answers_for_its_own_ids(
    client: DmpClient, host: DmpHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetDocumentsAndAssociations in batches: an entry asked in another batch is not an answer to
    this one (a registry answering every batch with the same entries is refused)."""
    ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    ids = [entry.entry_id] + [f"urn:uuid:00000000-0000-4000-8000-{n:012d}" for n in range(BATCH)]
    real = client.query

    def same_answer(ins_: Ins | None, query: StoredQuery, parameters: dict[str, list[str]], kind: ReturnType):  # type: ignore[no-untyped-def]
        return real(ins_, query, iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [entry.entry_id], []), kind)

    monkeypatch.setattr(client, "query", same_answer)
    with pytest.raises(OtherPatientAnswer):
        client.get_documents(ins, ids)
    assert [d.entry_id for d in client.get_documents(ins, ids[:BATCH])] == [entry.entry_id]


def test_a_cached_copy_is_used_only_when_it_is_the_checked_entrys(client: DmpClient, tmp_path: Path) -> None:
    ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    good = io.BytesIO()
    client.retrieve(ins, entry, good)
    client.check_copy(ins, entry, good)  # the entry's own bytes: accepted
    with pytest.raises(AlteredDocument):
        client.check_copy(ins, entry, io.BytesIO(good.getvalue()[:-1] + b"!"))
    with pytest.raises(AlteredDocument):
        client.check_copy(ins, entry, io.BytesIO(b""))
    other, _ = patient("P04")
    with pytest.raises(OtherPatientAnswer):
        client.check_copy(other, entry, good)


def test_the_cache_never_serves_another_patients_copy(system_keyring: SystemKeyring, tmp_path: Path) -> None:
    ins, _ = patient("P03")
    other, _ = patient("P04")
    with LocalStore.open(StoreSettings(tmp_path / "store")) as store:
        store.cache.put_document(other, "1.2.3.4", io.BytesIO(b"<ClinicalDocument>P04</ClinicalDocument>"))
        fetched: list[bool] = []

        def fetch(out: BinaryIO) -> int:
            fetched.append(True)
            return out.write(b"<ClinicalDocument>P03</ClinicalDocument>")

        out = io.BytesIO()
        size, cached = store.cache.fetch_document(ins, "1.2.3.4", out, fetch, lambda *_: None)
        assert (cached, fetched, out.getvalue()) == (
            False,
            [True],
            b"<ClinicalDocument>P03</ClinicalDocument>",
        )
        again = io.BytesIO()
        assert store.cache.fetch_document(ins, "1.2.3.4", again, fetch, lambda *_: None)[1] is True
        assert again.getvalue() == out.getvalue() and size == len(out.getvalue())


def test_the_sandbox_command_offers_every_lie() -> None:
    from sandbox.cli import build_parser

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    option = next(a for a in serve._actions if a.dest == "mensonge")
    assert tuple(option.choices) == lies.MODES


def test_a_refused_list_of_many_batches_is_one_safety_event(client: DmpClient, host: DmpHost) -> None:
    """P01's list spans many GetDocumentsAndAssociations batches fetched concurrently: every batch
    is refused, the user gets one refusal and the journal one VIGILANCE row."""
    ins, _ = patient("P01")
    journal = _Journal()
    client.journal = journal
    host.config.faults.lie = "autre-patient"
    with pytest.raises(OtherPatientAnswer):
        client.find_documents(ins, FindDocuments(ins, statuses=ALL_STATUSES))
    assert [e.result for e in journal.events if e.transaction == SAFETY_EVENT] == [OtherPatientAnswer.code]


def test_warnings_of_an_update_are_passed_on(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    """A Success carrying a Warning-severity RegistryError is a success whose warning reaches the
    caller (ITI-57: mask, archive), which the CLI and the GUI show."""
    ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    host.config.faults.lie = "succes-avec-avertissement"
    warnings = client.set_visibility(ins, entry, add={Visibility.MASKED_FROM_PS})
    assert [w.code for w in warnings] == [lies.WARNING_CODE]
    assert "Avertissement du registre" in warnings[0].context
    host.config.faults.lie = None
    current = client.document_by_unique_id(ins, entry.unique_id)  # the update made a new version
    assert client.set_visibility(ins, current, remove={Visibility.MASKED_FROM_PS}) == ()
