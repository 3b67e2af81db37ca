"""Document transactions of the facade: TD2.1 send (ITI-41), TD3.1 find (ITI-18), TD3.2 retrieve
(ITI-43), TD3.3 mask / visibility / archive / delete (ITI-57), with the DMPi integration rules
(dmp-interface.md §9): status checked before document transactions, first search limited to two
years and approved documents, GetDocumentsAndAssociations in batches of 20 fetched concurrently,
de-duplication by uniqueId.

File I/O happens here (the edge): the CDA is written to an encrypted temporary file
(app/dmp_client/spool.py: it carries the patient's traits) and streamed from it; a retrieved
document is streamed into the caller's file.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Concatenate, ParamSpec, TypeVar

from app.dmp_client.core import ebrim, iti18, iti41, iti43, iti57, rights
from app.dmp_client.core.cda import Author, DocumentHeader, new_oid, read_identity, write_cda
from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.errors import (
    AlteredDocument,
    LocalProtocolError,
    MalformedResponse,
    OtherPatientAnswer,
)
from app.dmp_client.core.hl7v3 import DmpState, DmpStatus
from app.dmp_client.core.iti18 import DocumentInfo, FindDocuments, QueryResult, ReturnType, StoredQuery
from app.dmp_client.core.metadata import SubmissionSet, Visibility, entry_for_document
from app.dmp_client.core.mtom import Part, build_mtom
from app.dmp_client.core.registry import RegistryErrorItem, parse_registry_response
from app.dmp_client.core.soap import uncertain_outcome
from app.dmp_client.core.structured.build import write_structured
from app.dmp_client.core.structured.documents import BuiltDocument, build_from_handoff
from app.dmp_client.core.structured.handoff import MAX_BYTES as MAX_HANDOFF_BYTES
from app.dmp_client.core.valuesets import value_sets
from app.dmp_client.errors import AuthorUnknown, DmpClosed, DocumentUnknown, NoDmp, NotAuthorized
from app.dmp_client.errors import DmpNotUsable as DmpNotUsable
from app.dmp_client.exchange import ClientBase, SendCancelled, WireSlots, _wire, journaled
from app.dmp_client.spool import spool
from app.ins import IdentityTraits, Ins

if TYPE_CHECKING:
    from lxml import etree

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
BATCH = 20
STATUS_TTL = 300.0
FIRST_SEARCH_YEARS = 2
# The journal's transaction name of an identity-vigilance refusal (docs/dmp-client.md): one row per
# refused answer, its result the refusal's code, its patient the queried one (pseudonymised by the
# store like every row); never the other patient's identity nor anything of the answer.
SAFETY_EVENT = "VIGILANCE"
SAFETY_ERRORS = (OtherPatientAnswer, AlteredDocument)
P = ParamSpec("P")
R = TypeVar("R")
PatientT = TypeVar("PatientT", bound="Ins | None")


@dataclass(frozen=True)
class NewDocument:
    """A document to send: the file, what it is, and for whom (the INS traits go into the CDA)."""

    path: Path
    media_type: str
    type_code: str  # JDV_J07, e.g. 11488-4
    title: str
    traits: IdentityTraits
    facility_type: str = "SA07"  # JDV_J02 (TRE_R02): cabinet individuel by default
    practice_setting: str = "AMBULATOIRE"  # JDV_J04 / J62
    service_start: dt.datetime | None = None
    service_stop: dt.datetime | None = None
    visibility: frozenset[Visibility] = field(default_factory=frozenset)
    author: Author | None = None  # defaults to the session's author
    # Pinned by the upload queue so that every attempt sends the same document (same uniqueId,
    # same bytes): a resend after an ambiguous failure is then detectable by the host.
    document_id: str | None = None
    set_id: str | None = None
    created: dt.datetime | None = None
    content: BinaryIO | None = None  # read instead of ``path`` (the queue's decrypted copy)
    # A structured document (issue 19): "VSM" or "VAC-NOTE"; the file is then the EHR's hand-off
    # JSON (docs/structured-documents.md), ``item`` which vaccination of it this note records.
    structured: str | None = None
    item: int = 0


@dataclass(frozen=True)
class Sent:
    unique_id: str
    entry_id: str
    set_id: str
    version: int
    size: int
    warnings: tuple[RegistryErrorItem, ...] = ()  # Warning-severity RegistryErrors of the answer


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


class Listing(list[DocumentInfo]):
    """A list of documents with the Warning-severity RegistryErrors of the answers it came from
    (ITI TF-3 4.2.4: a Success or PartialSuccess may carry them; the caller shows them)."""

    def __init__(self, documents: Iterable[DocumentInfo] = (), warnings: tuple[RegistryErrorItem, ...] = ()):
        super().__init__(documents)
        self.warnings = warnings


@dataclass(frozen=True)
class HistoryBatch:
    """One step of :meth:`DocumentTransactions.find_older`: this batch's documents (checked to be
    the patient's), how many entries are loaded so far out of the whole history (the first
    search's included), the warnings of this batch's answer; the last one says if it was stopped."""

    documents: tuple[DocumentInfo, ...]
    loaded: int
    total: int
    warnings: tuple[RegistryErrorItem, ...] = ()
    stopped: bool = False


def merge_unique(unique: dict[str, DocumentInfo], documents: Iterable[DocumentInfo]) -> None:
    """De-duplicate by uniqueId (else entryUUID), an Approved entry winning over another status."""
    for document in documents:
        key = document.unique_id or document.entry_id
        kept = unique.get(key)
        if kept is None or (document.status == Status.APPROVED and kept.status != Status.APPROVED):
            unique[key] = document


def check_entries(
    ins: Ins,
    documents: tuple[DocumentInfo, ...] | list[DocumentInfo],
    *,
    entry_ids: list[str] | None = None,
    unique_ids: list[str] | None = None,
) -> None:
    """Identity vigilance: every DocumentEntry of an answer is the queried patient's (patientId equal
    to the queried INS with its OID) and, when ids were asked, one of them (an entryUUID among
    ``entry_ids`` when asked by entryUUID, a uniqueId among ``unique_ids`` when asked by uniqueId).
    One mismatch refuses the whole answer (OtherPatientAnswer): nothing of it may be used."""
    expected = ins.to_cx()
    by_entry = set(entry_ids) if entry_ids is not None else None
    by_unique = set(unique_ids) if unique_ids is not None else None
    for document in documents:
        if document.patient_cx.strip() != expected:
            log.warning("Identity vigilance: the host answered with another patient's document entry")
            raise OtherPatientAnswer()
        asked = (by_entry is None and by_unique is None) or (
            (by_entry is not None and document.entry_id in by_entry)
            or (by_unique is not None and document.unique_id in by_unique)
        )
        if not asked:
            log.warning("Identity vigilance: the host answered with a document entry not asked for")
            raise OtherPatientAnswer()


def _vigilant(
    method: Callable[Concatenate[DocumentTransactions, PatientT, P], R],
) -> Callable[Concatenate[DocumentTransactions, PatientT, P], R]:
    """Journal an identity-vigilance refusal (OtherPatientAnswer, AlteredDocument) as a safety event
    (transaction ``VIGILANCE``, result the code, the queried patient), once per refusal however
    deep it was raised, then let it go on to the caller."""

    @functools.wraps(method)
    def run(self: DocumentTransactions, ins: PatientT, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, ins, *args, **kwargs)
        except SAFETY_ERRORS as error:
            if not getattr(error, "safety_journaled", False):
                error.safety_journaled = True  # type: ignore[union-attr]
                self._journal_event(SAFETY_EVENT, ins, error.code, 0.0)
            raise

    return run


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    handle.seek(0)
    while chunk := handle.read(CHUNK):
        yield chunk


def _check_bytes(document: DocumentInfo, size: int, sha1: str) -> None:
    """The retrieved bytes are those the registry describes: not empty, same size, same SHA-1 (both
    required of a DocumentEntry: ITI TF-3 Table 4.2.3.2-1, so an entry without them proves nothing)."""
    if size == 0:
        raise AlteredDocument("Le DMP a renvoyé un document vide : il a été écarté.")
    if document.size is None or document.sha1 is None:
        log.warning("Registry entry without size or hash: the retrieved bytes cannot be checked")
        raise AlteredDocument()
    if document.size != size:
        log.warning("Retrieved document size differs from its registry entry")
        raise AlteredDocument()
    if document.sha1.strip().lower() != sha1:
        log.warning("Retrieved document SHA-1 differs from its registry entry")
        raise AlteredDocument()


class DocumentTransactions(ClientBase):
    """Part of :class:`~app.dmp_client.client.DmpClient`."""

    # -- integration rules --------------------------------------------------------------------

    def checked_status(self, ins: Ins, *, feeding: bool = False) -> DmpStatus:
        """TD0.2 before document transactions (cached a few minutes per patient)."""
        key = ins.to_cx()
        cached = self._status_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < STATUS_TTL:
            status = cached[1]
        else:
            status = self.status(ins)
            self._status_cache[key] = (time.monotonic(), status)
        if status.state is DmpState.NONE:
            raise NoDmp()
        if status.state is DmpState.CLOSED:
            raise DmpClosed()
        if (
            not feeding
            and not status.authorized
            and self.session.purpose is Purpose.NORMAL
            and self.session.mode is AuthMode.DIRECT
        ):
            raise NotAuthorized()
        return status

    def forget_status(self, ins: Ins) -> None:
        self._status_cache.pop(ins.to_cx(), None)

    # -- TD3.1 ----------------------------------------------------------------------------------

    def query(
        self,
        ins: Ins | None,
        query: StoredQuery,
        parameters: dict[str, list[str]],
        return_type: ReturnType,
    ) -> QueryResult:
        """One ITI-18 stored query (retried once if the connection fails: queries are idempotent).
        Every DocumentEntry of a LeafClass answer is checked against ``ins`` (which it then needs)."""
        rights.check_query(self.session.mode, query)  # plain indirect: references only
        if ins is None and return_type is ReturnType.LEAF_CLASS:
            raise LocalProtocolError("Requête de métadonnées sans patient : réponse invérifiable.")
        response = self._exchange(
            "registry",
            iti18.ACTION,
            iti18.ACTION_RESPONSE,
            iti18.build_query(query, parameters, return_type),
            ins,
            self.transport.timeouts.find,
            idempotent=True,
        )
        result = iti18.parse_query_response(response.payload)
        if ins is not None:
            check_entries(ins, result.documents)
        return result

    @journaled("TD3.1")
    @_vigilant
    def find_documents(self, ins: Ins, search: FindDocuments | None = None, *, check: bool = True) -> Listing:
        """FindDocuments as references, then their metadata in batches of 20 fetched concurrently,
        de-duplicated by uniqueId, newest first. Without a query: the last two years, approved only."""
        if check:
            self.checked_status(ins)
        if search is None:
            since = _now() - dt.timedelta(days=365 * FIRST_SEARCH_YEARS)
            search = FindDocuments(ins, statuses=(Status.APPROVED,), creation_from=since)
        if search.patient != ins:
            raise LocalProtocolError("Recherche préparée pour un autre patient que celui demandé.")
        refs = self.query(ins, StoredQuery.FIND_DOCUMENTS, search.parameters(), ReturnType.OBJECT_REF)
        listing = self.get_documents(ins, list(dict.fromkeys(refs.object_refs)))
        return Listing(listing, (*refs.warnings, *listing.warnings))

    @_vigilant
    def get_documents(self, ins: Ins, entry_ids: list[str]) -> Listing:
        """The metadata of these entries (GetDocumentsAndAssociations in batches of 20, up to
        ``transport.concurrency`` in flight), each batch's answer checked to be this patient's and
        its own batch's entries; de-duplicated by uniqueId, newest first; the answers' warnings kept."""
        unique: dict[str, DocumentInfo] = {}
        warnings: list[RegistryErrorItem] = []
        for _batch, result in self.iter_batches(ins, entry_ids):
            warnings.extend(result.warnings)
            merge_unique(unique, result.documents)
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        ordered = sorted(unique.values(), key=lambda d: d.creation_time or epoch, reverse=True)
        return Listing(ordered, tuple(warnings))

    def iter_batches(
        self, ins: Ins, entry_ids: list[str], stop: threading.Event | None = None
    ) -> Iterator[tuple[list[str], QueryResult]]:
        """GetDocumentsAndAssociations of ``entry_ids`` in batches of 20, at most
        ``transport.concurrency`` in flight, yielded in order, each answer already checked against
        the patient and its own batch (identity vigilance). Once ``stop`` is set no further batch
        is sent and nothing more is yielded (the batches in flight are waited for, then dropped)."""
        batches = [entry_ids[i : i + BATCH] for i in range(0, len(entry_ids), BATCH)]
        width = max(1, self.transport.concurrency)
        slots = WireSlots(width, stop)

        def fetch(batch: list[str]) -> QueryResult:
            _wire.slots = slots
            try:
                result = self.query(
                    ins,
                    StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS,
                    iti18.by_uuid_or_unique_id("$XDSDocumentEntry", batch, []),
                    ReturnType.LEAF_CLASS,
                )
            finally:
                _wire.slots = None
            check_entries(ins, result.documents, entry_ids=batch)  # this batch's entries only
            return result

        def stopped() -> bool:
            return stop is not None and stop.is_set()

        if width == 1 or len(batches) <= 1:
            for batch in batches:
                if stopped():
                    return
                result = fetch(batch)
                if stopped():
                    return
                yield batch, result
            return
        # ``width`` requests on the wire all the time (WireSlots), each slot taken again as soon as
        # its answer is in: twice as many threads, so that building and signing the next request and
        # reading an answer's XML happen while other requests are on the wire. Answers are yielded
        # in order; at most ``3 * width`` are held (done, waiting for an older one).
        with ThreadPoolExecutor(2 * width, thread_name_prefix="dmp-iti18") as pool:
            pending: dict[int, Future[QueryResult]] = {}
            sent = 0
            try:
                for index, batch in enumerate(batches):
                    while True:
                        running = [f for f in pending.values() if not f.done()]
                        while (
                            sent < len(batches)
                            and len(running) < 2 * width
                            and len(pending) < 3 * width
                            and not stopped()
                        ):
                            future = pool.submit(fetch, batches[sent])
                            pending[sent] = future
                            running.append(future)
                            sent += 1
                        head = pending.get(index)
                        if head is None or stopped():
                            return
                        if head.done():
                            break
                        wait(running, return_when=FIRST_COMPLETED)
                    try:
                        result = pending.pop(index).result()
                    except SendCancelled:  # stopped while it waited for a slot: never sent
                        return
                    if stopped():
                        return
                    yield batch, result
            finally:  # stopped, failed or abandoned: nothing more is sent
                for future in pending.values():
                    future.cancel()

    @journaled("TD3.1")
    @_vigilant
    def find_older(
        self,
        ins: Ins,
        search: FindDocuments,
        known: Collection[str],
        on_batch: Callable[[HistoryBatch], None],
        stop: threading.Event | None = None,
    ) -> HistoryBatch:
        """The rest of the history behind a first search: FindDocuments ``search`` (the whole
        history) as references, minus the entries already shown (``known``: their entryUUIDs), then
        their metadata batch by batch (:meth:`iter_batches`), each batch handed to ``on_batch`` as
        soon as it is checked. Exact: an entry is either known or fetched once, whatever its
        creation time (entries without one included). Returns the final count (``stopped`` when
        ``stop`` ended it early)."""
        if search.patient != ins:
            raise LocalProtocolError("Recherche préparée pour un autre patient que celui demandé.")
        refs = self.query(ins, StoredQuery.FIND_DOCUMENTS, search.parameters(), ReturnType.OBJECT_REF)
        seen = set(known)
        rest = [r for r in dict.fromkeys(refs.object_refs) if r not in seen]
        total = len(seen) + len(rest)
        loaded = len(seen)
        warnings = list(refs.warnings)
        last = HistoryBatch((), loaded, total, tuple(warnings))
        for batch, result in self.iter_batches(ins, rest, stop):
            loaded += len(batch)
            last = HistoryBatch(result.documents, loaded, total, result.warnings)
            warnings.extend(result.warnings)
            on_batch(last)
        stopped = loaded < total
        return HistoryBatch((), loaded, total, tuple(warnings), stopped=stopped)

    @journaled("TD3.1")
    def document_reference(self, ins: Ins, unique_id: str) -> str | None:
        """The entryUUID of the document with this uniqueId, or None when the DMP does not hold it.

        An ObjectRef query: allowed in every mode, indirect included ("find the reference of a
        document", dmp-interface.md §3.1). The upload queue asks it before sending again after an
        ambiguous failure."""
        result = self.query(
            ins,
            StoredQuery.GET_DOCUMENTS,
            iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [], [unique_id]),
            ReturnType.OBJECT_REF,
        )
        return result.object_refs[0] if result.object_refs else None

    @journaled("TD3.1")
    @_vigilant
    def document_by_unique_id(self, ins: Ins, unique_id: str) -> DocumentInfo:
        result = self.query(
            ins,
            StoredQuery.GET_DOCUMENTS,
            iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [], [unique_id]),
            ReturnType.LEAF_CLASS,
        )
        check_entries(ins, result.documents, unique_ids=[unique_id])
        current = [d for d in result.documents if d.status != Status.DEPRECATED] or list(result.documents)
        if not current:
            raise DocumentUnknown()
        return current[-1]

    # -- TD3.2 ----------------------------------------------------------------------------------

    @journaled("TD3.2")
    @_vigilant
    def retrieve(self, ins: Ins, document: DocumentInfo, out: BinaryIO) -> int:
        """Stream the document's bytes (the CDA as stored) into ``out``; returns the size. Nothing is
        written to ``out`` unless the bytes match the entry (ids, size, SHA-1) and are not empty."""
        check_entries(ins, [document])
        self.checked_status(ins)
        request = iti43.build_retrieve(
            [iti43.DocumentRequest(document.repository_id or self.repository_id, document.unique_id)]
        )
        response, raw = self._exchange_raw(
            "repository",
            iti43.ACTION,
            iti43.ACTION_RESPONSE,
            request,
            ins,
            self.transport.timeouts.retrieve,
            idempotent=True,
        )
        repository = document.repository_id or self.repository_id
        try:
            result = iti43.parse_retrieve_response(response.payload)
            found = next((d for d in result.documents if d.unique_id == document.unique_id), None)
            if found is None:
                raise MalformedResponse("Le DMP n'a pas renvoyé le document demandé.")
            if any(
                d.unique_id != document.unique_id or d.repository_id != repository for d in result.documents
            ):
                log.warning("Identity vigilance: the repository answered for another document")
                raise AlteredDocument()
            if found.content_id is not None:
                part = raw.parts.get(found.content_id)
                if part is None:
                    raise MalformedResponse("Pièce MTOM du document absente de la réponse.")
                # Check first (size and SHA-1 of the whole part), write to the caller's sink after.
                part.file.seek(0)
                digest, size = hashlib.sha1(), 0
                while chunk := part.file.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                _check_bytes(document, size, digest.hexdigest())
                part.file.seek(0)
                while chunk := part.file.read(CHUNK):
                    out.write(chunk)
                return size
            try:
                data = base64.b64decode("".join((found.inline_base64 or "").split()), validate=True)
            except (binascii.Error, ValueError) as error:
                raise MalformedResponse("Document du DMP mal encodé (base64 invalide).") from error
            _check_bytes(document, len(data), hashlib.sha1(data).hexdigest())
            out.write(data)
            return len(data)
        finally:
            for part in raw.parts.values():
                part.file.close()

    @_vigilant
    def check_copy(self, ins: Ins, document: DocumentInfo, handle: BinaryIO) -> None:
        """A copy of the document not retrieved just now (the local cache's) is used only when it is
        this patient's entry and its bytes are the entry's (size, SHA-1), as a retrieval's must be:
        else refused (AlteredDocument, journaled as a safety event like any refusal)."""
        check_entries(ins, [document])
        handle.seek(0)
        digest, size = hashlib.sha1(), 0
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        handle.seek(0)
        _check_bytes(document, size, digest.hexdigest())

    # -- TD2.1 / TD2.2 --------------------------------------------------------------------------

    @journaled("TD2.1")
    @_vigilant
    def send(self, ins: Ins, document: NewDocument, *, replaces: DocumentInfo | None = None) -> Sent:
        """Wrap the file in a level-1 CDA, sign the submission set (XAdES) and send it over MTOM. A
        replacement only ever replaces an entry of this patient whose stored CDA passed the checks."""
        if replaces is not None:
            check_entries(ins, [replaces])
        self.checked_status(ins, feeding=True)
        author = document.author or self.session.author
        if author is None:
            raise AuthorUnknown()
        sets = value_sets()
        set_id, version, previous_id = document.set_id or new_oid(), 1, None
        if replaces is not None:
            set_id, version, previous_id = self._previous_version(ins, replaces)
        now = document.created or _now()
        structured = self._structured(ins, document, set_id, version, previous_id, now, author)
        header = structured.header if structured else DocumentHeader(
            document_id=document.document_id or new_oid(),
            set_id=set_id,
            version=version,
            type_code=sets.type_code(document.type_code),
            title=document.title,
            created=now,
            service_start=document.service_start or now,
            service_stop=document.service_stop,
            patient=ins,
            traits=document.traits,
            author=author,
            legal_authenticator=author.person,
            custodian=author.organization,
            practice_setting=sets.lookup(sets.practice_settings, document.practice_setting, "JDV_J04"),
            facility_type=sets.lookup(sets.facility_types, document.facility_type, "JDV_J02"),
            media_type=document.media_type,
            replaces=previous_id,
        )  # fmt: skip
        with spool("dmp-cda-") as cda:
            if structured is not None:
                written = write_structured(structured.element, cda)
            elif document.content is not None:
                document.content.seek(0)
                written = write_cda(header, document.content, cda)
            else:
                with document.path.open("rb") as content:
                    written = write_cda(header, content, cda)
            entry = entry_for_document(
                header,
                written,
                visibility=document.visibility,
                replaces_entry=replaces.entry_id if replaces else None,
                format_code=structured.volet.format_code if structured else None,
            )
            from app.dmp_client.core.xades import SignedDocument, sign_submission  # deferred: signxml

            signature = sign_submission([SignedDocument(entry.unique_id, written.sha256)], self.signer)
            signature_entry = iti41.signature_entry(
                ins,
                author,
                header.facility_type,
                header.practice_setting,
                now,
                len(signature),
                hashlib.sha1(signature).hexdigest(),
            )
            submission = SubmissionSet(
                ebrim.new_id(), new_oid(), self.session.sender_oid, ins, author, now, self.content_type
            )
            built = iti41.build_provide_and_register(submission, [entry], signature_entry)
            envelope = self._envelope(iti41.ACTION, built.payload, ins, "repository")
            mtom = build_mtom(
                envelope.body,
                iti41.ACTION,
                [
                    Part(built.content_ids[entry.entry_id], written.size, lambda: _file_chunks(cda)),
                    Part(
                        built.content_ids[signature_entry.entry_id],
                        len(signature),
                        lambda: iter((signature,)),
                        "text/xml",
                    ),
                ],
            )
            raw = self.transport.post("repository", mtom, self.transport.timeouts.send, idempotent=False)
        try:
            with uncertain_outcome():  # the document may be registered although the answer is unreadable
                response = self._read(raw, (iti41.ACTION_RESPONSE,), envelope.message_id)
                warnings = parse_registry_response(response.payload)
        finally:
            for part in raw.parts.values():  # a multipart answer's spool files
                part.file.close()
        return Sent(entry.unique_id, entry.entry_id, set_id, version, written.size, warnings)

    @staticmethod
    def _structured(
        ins: Ins,
        document: NewDocument,
        set_id: str,
        version: int,
        previous_id: str | None,
        now: dt.datetime,
        author: Author,
    ) -> BuiltDocument | None:
        """A structured document built from its hand-off (None for a level-1 one)."""
        if document.structured is None:
            return None
        if document.content is not None:
            document.content.seek(0)
            data = document.content.read(MAX_HANDOFF_BYTES + 1)
        else:
            with document.path.open("rb") as handle:
                data = handle.read(MAX_HANDOFF_BYTES + 1)
        return build_from_handoff(
            document.structured,
            data,
            item=document.item,
            ins=ins,
            traits=document.traits,
            document_id=document.document_id or new_oid(),
            set_id=set_id,
            version=version,
            created=now,
            replaces=previous_id,
            practice_setting=document.practice_setting,
            facility_type=document.facility_type,
            author=author,
        )

    def _previous_version(self, ins: Ins, replaced: DocumentInfo) -> tuple[str, int, str]:
        """setId, next version number and id of the CDA being replaced, read from the stored CDA."""
        with spool("dmp-old-") as old:
            self.retrieve(ins, replaced, old)
            old.seek(0)
            identity = read_identity(old)
        return identity.set_id, identity.version + 1, identity.document_id

    # -- TD3.3 ----------------------------------------------------------------------------------

    def _update(
        self, ins: Ins, payload_builder: Callable[[SubmissionSet], etree._Element]
    ) -> tuple[RegistryErrorItem, ...]:
        """Send one ITI-57 update; its answer's Warning-severity RegistryErrors are returned."""
        author = self.session.author
        if author is None:
            raise AuthorUnknown(
                "Auteur de la mise à jour inconnu : une carte de personnel n'est pas auteure ; en mode "
                "structure, réglez l'auteur par défaut (DMP_STRUCTURE_AUTEUR)."
            )
        submission = SubmissionSet(
            ebrim.new_id(), new_oid(), self.session.sender_oid, ins, author, _now(), self.content_type
        )
        with uncertain_outcome():  # the update may be applied although the answer is unreadable
            response = self._exchange(
                "registry",
                iti57.ACTION,
                iti57.ACCEPTED_RESPONSES,
                payload_builder(submission),
                ins,
                self.transport.timeouts.send,
                idempotent=False,
            )
            return tuple(parse_registry_response(response.payload))

    @journaled("TD3.3")
    @_vigilant
    def set_visibility(
        self,
        ins: Ins,
        document: DocumentInfo,
        *,
        add: set[Visibility] | None = None,
        remove: set[Visibility] | None = None,
    ) -> tuple[RegistryErrorItem, ...]:
        """TD3.3a/b: mask or unmask for professionals, make visible to the patient / representatives;
        the host's warnings returned."""
        check_entries(ins, [document])
        self.checked_status(ins)
        codes = iti57.new_visibility(document, add or set(), remove or set())
        return self._update(ins, lambda ss: iti57.build_metadata_update(ss, document, codes))

    @journaled("TD3.3")
    @_vigilant
    def set_status(self, ins: Ins, document: DocumentInfo, new_status: str) -> tuple[RegistryErrorItem, ...]:
        """TD3.3c/d: archive, unarchive or delete; the host's warnings returned."""
        check_entries(ins, [document])
        self.checked_status(ins)
        if not document.status.strip():  # never OriginalStatus="": fetch the entry's status
            document = self.document_by_unique_id(ins, document.unique_id)
        return self._update(ins, lambda ss: iti57.build_availability_update(ss, document, new_status))
