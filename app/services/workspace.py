"""The professional's working session, without Qt: who is connected (card or structure
certificate), which patient is open, and the DMP actions the desktop application offers. Every
method may block (card, network, disk): the GUI calls them off its thread (``app.ui.tasks``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.config.settings import Settings
from app.dmp_client.core.actions import Action, document_actions
from app.dmp_client.core.admin import OPPOSITION_BREAK_GLASS, OPPOSITION_CENTRE_15
from app.dmp_client.core.cda import extract_body, read_identity
from app.dmp_client.core.cda_render import STRUCTURED_BODY, has_structured_body
from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.hl7v3 import DmpStatus
from app.dmp_client.core.iti18 import DocumentInfo, FindDocuments
from app.dmp_client.core.metadata import Visibility
from app.errors import ActionUnavailable, InputFileError, LocalStoreUnavailable, UsageError
from app.ins import IdentityTraits, Ins, InsError
from app.services.session import (
    AttachedLogin,
    CardLogin,
    DmpSession,
    EcpsLogin,
    Opened,
    StructureLogin,
)
from app.services.session import Connection as Connection  # re-exported (the GUI imports it here)
from app.services.session import NotConnected as NotConnected
from app.store.errors import StoreError
from app.store.identities import IdentityEvent, IdentityStatus, StoredIdentity, not_qualified
from app.store.local_store import LocalStore, StoreOpening
from app.store.queue import Entry
from app.store.request import SendMode, UploadRequest
from app.store.sender import DrainReport

if TYPE_CHECKING:  # the card stack (pkcs11), the hot folder (watchdog) and the client (httpx, the
    # signature) are imported at first use
    from app.card.cps import PinPrompt
    from app.card.identity import SituationChooser
    from app.dmp_client.client import DmpClient
    from app.dmp_client.core.psc import PscSession
    from app.dmp_client.documents import HistoryBatch
    from app.dmp_client.psc_client import PscClient
    from app.services.identity import DocumentType, IdentityLifecycle
    from app.store.hotfolder import ErrorNote, HotFolder

log = logging.getLogger(__name__)
ALL_STATUSES = (Status.APPROVED, Status.ARCHIVED, Status.DEPRECATED)


@dataclass(frozen=True)
class Patient:
    """The open patient: the INS (what the DMP is keyed by), the traits (what documents carry), the
    INS status as the identity referential gives it, and where it came from."""

    ins: Ins
    traits: IdentityTraits | None
    ins_status: str  # as claimed by the source (EHR, sandbox): shown nowhere as the status (identity())
    source: str
    insc: str | None = None
    used_name: str | None = None  # nom utilisé (Vitale card, EHR), shown beside the strict traits
    used_first_name: str | None = None
    vitale_rank: int | None = None  # the beneficiary's rank on the Vitale card it was read from

    def __repr__(self) -> str:
        return f"Patient(source={self.source!r})"


@dataclass(frozen=True)
class IdentityState:
    """A patient identity as the lifecycle holds it on this workstation (app.services.identity), never
    the status a source claims. ``differs``: the traits (names, never values) in which the patient's
    traits differ from the recorded identity's, whose proofs then do not apply (status provisoire)."""

    status: IdentityStatus
    stored: StoredIdentity | None
    events: tuple[IdentityEvent, ...]
    differs: tuple[str, ...] = ()
    history: tuple[Ins, ...] = ()  # INSHISTO of the last INSi answer (earlier INS of the person)

    @property
    def qualified(self) -> bool:
        return self.status is IdentityStatus.QUALIFIEE

    def __repr__(self) -> str:
        return f"IdentityState(status={self.status.value!r})"


@dataclass(frozen=True)
class DmpOverview:
    status: DmpStatus
    opposition_break_glass: bool
    opposition_centre_15: bool


@dataclass(frozen=True)
class Retrieved:
    """A retrieved document: the CDA as stored and its body (PDF, text, image), in private temp files."""

    cda: Path
    body: Path
    media_type: str
    identity_title: str


class Workspace:
    def __init__(
        self, settings: Settings, store: LocalStore | None = None, *, opening: StoreOpening | None = None
    ) -> None:
        """``opening``: the base still being opened (dmp-gui, behind its shown window); the first
        reader of :attr:`store` waits for it (StoreError: no base, said in :attr:`store_error`)."""
        self.settings = settings
        self._store = store
        self._opening = opening
        self._opening_lock = threading.Lock()
        self.store_error: StoreError | None = None
        self.session = DmpSession(settings, store)
        self._lock = self.session.lock  # one lock for the connection (the session service's)
        self._folder = tempfile.TemporaryDirectory(prefix="dmp-gui-")
        self.hot_folder = HotFolderWatch(self)

    @property
    def store(self) -> LocalStore | None:
        opening = self._opening
        if opening is not None:
            store, error = None, None
            try:
                store = opening.result()  # (no lock held while waiting: every reader gets the same)
            except StoreError as failed:
                error = failed
            with self._opening_lock:
                if self._opening is opening:
                    self._store = self.session.store = store  # the session's journal too
                    self.store_error, self._opening = error, None
        return self._store

    @store.setter
    def store(self, store: LocalStore | None) -> None:
        self._store = self.session.store = store

    def _await_store(self) -> None:
        """Before a connection: its journal goes to the base, which may still be opening."""
        self.store  # noqa: B018 (the property waits for the opening)

    # -- connection -----------------------------------------------------------------------------

    @property
    def client(self) -> DmpClient | None:
        return self.session.client if self.session.connected else None

    @property
    def connection(self) -> Connection | None:
        return self.session.connection

    @connection.setter
    def connection(self, connection: Connection | None) -> None:
        self.session.connection = connection

    def connect_card(
        self, prompt: PinPrompt, situation: int | SituationChooser = 1, purpose: Purpose = Purpose.NORMAL
    ) -> Connection:
        self._await_store()
        return self.session.connect(CardLogin(prompt, situation), purpose)

    def connect_structure(self, purpose: Purpose = Purpose.NORMAL) -> Connection:
        self._await_store()
        return self.session.connect(StructureLogin(), purpose)

    def open_psc(self) -> PscClient:
        """The Pro Santé Connect client of the settings (the e-CPS login's first step; it may read
        key files: called off the GUI thread)."""
        from app.services import ecps

        return ecps.open_psc(self.settings)

    def connect_ecps(
        self, psc: PscClient, session: PscSession, situation: int | None, purpose: Purpose = Purpose.NORMAL
    ) -> Connection:
        """AIR: the professional logged in with e-CPS (``session``), the exercise chosen (1-based;
        None: the only one); the PSC session is refreshed before each exchange and ended (logout)
        at disconnection."""
        from app.services import ecps

        self._await_store()
        try:
            return self.session.connect(EcpsLogin(psc, session, situation), purpose)
        except BaseException:  # no session opened: the PSC session is not left behind
            ecps.abandon(psc, session)
            raise

    def remember_rpps(self, rpps: str) -> None:
        """The RPPS id kept as the workstation user's DMP_PSC_RPPS (offered at the next e-CPS
        login); a policy-locked or unwritable setting is left as it is (not an error of the login)."""
        from app.config.layers import ConfigError

        if rpps == self.settings.psc_rpps:
            return
        try:
            config = self.settings.config.save_user({"DMP_PSC_RPPS": rpps})
        except (ConfigError, OSError) as error:
            log.warning("RPPS id not remembered (%s)", getattr(error, "code", type(error).__name__))
            return
        self.settings = dataclasses.replace(self.settings, psc_rpps=rpps, config=config)

    def attach(self, client: DmpClient, connection: Connection) -> None:
        """Use a client built elsewhere (tests: software card keys; other authentication modes)."""
        mode = SendMode.CARD if connection.mode is AuthMode.DIRECT else SendMode.STRUCTURE
        self._await_store()
        self.session.connect(AttachedLogin(Opened(client, connection), mode), connection.purpose)

    def with_purpose(self, purpose: Purpose, prompt: PinPrompt) -> Connection:
        """Break-glass or centre-15 access (or back to normal) on the open session (no new PIN)."""
        del prompt  # the open session signs with the card already unlocked
        return self.session.with_purpose(purpose)

    def disconnect(self) -> None:
        self.session.disconnect()

    def _client(self) -> DmpClient:
        if self.client is None:
            raise NotConnected()
        return self.client

    # -- the DMP --------------------------------------------------------------------------------

    def overview(self, patient: Patient) -> DmpOverview:
        """TD0.2, then TD1.3a for the oppositions when the DMP exists."""
        client = self._client()
        client.forget_status(patient.ins)
        status = client.status(patient.ins)
        observations = client.admin_data(patient.ins).observations if status.exists else {}
        return DmpOverview(
            status,
            observations.get(OPPOSITION_BREAK_GLASS, False),
            observations.get(OPPOSITION_CENTRE_15, False),
        )

    def authorize(self, patient: Patient, add: bool = True) -> str:
        result = self._client().set_authorization(patient.ins, add)
        return f"{result.status} {result.context}".strip()

    def declare_treating_doctor(self, patient: Patient, declare: bool = True) -> str:
        result = self._client().set_treating_doctor(patient.ins, declare)
        return f"{result.status} {result.context}".strip()

    def documents(self, patient: Patient, since: dt.datetime | None = None) -> list[DocumentInfo]:
        """Every document of the DMP (approved, archived, replaced versions), newest first."""
        self._may_consult(patient)
        search = FindDocuments(patient.ins, statuses=ALL_STATUSES, creation_from=since)
        documents = self._client().find_documents(patient.ins, search)
        if self.store is not None:
            self.store.cache.put_list(patient.ins, [_summary(d) for d in documents])
        return documents

    def older_documents(
        self,
        patient: Patient,
        shown: list[DocumentInfo],
        on_batch: Callable[[HistoryBatch], None],
        stop: threading.Event | None = None,
    ) -> HistoryBatch:
        """The rest of the history behind the first search (``shown``): every status, the entries not
        already shown, in concurrent batches handed to ``on_batch`` (from this worker thread) as each
        is checked; ``stop`` ends it between batches. The whole list goes to the cache once complete."""
        self._may_consult(patient)
        search = FindDocuments(patient.ins, statuses=ALL_STATUSES)
        fetched: list[DocumentInfo] = []

        def batch(step: HistoryBatch) -> None:
            fetched.extend(step.documents)
            on_batch(step)

        known = [d.entry_id for d in shown]
        done = self._client().find_older(patient.ins, search, known, batch, stop)
        if self.store is not None and not done.stopped:
            self.store.cache.put_list(patient.ins, [_summary(d) for d in (*shown, *fetched)])
        return done

    def actions(self, document: DocumentInfo, treating_doctor: bool) -> frozenset[Action]:
        if self.connection is None:
            return frozenset()
        c = self.connection
        return document_actions(
            document,
            actor_id=c.actor_id,
            mode=c.mode,
            purpose=c.purpose,
            treating_doctor=treating_doctor,
            physician=c.physician,
            air_allowed=self.settings.air_transactions,
        )

    def retrieve(self, patient: Patient, document: DocumentInfo) -> Retrieved:
        """The CDA (from the cache when it holds it, after the rights check of the listing) and its
        body, in this session's private folder (removed when the application ends)."""
        self._may_consult(patient)
        folder = Path(self._folder.name)
        safe = private_file_stem(document.unique_id)
        cda, body = folder / f"{safe}.xml", folder / f"{safe}.corps"
        client = self._client()
        try:
            with cda.open("w+b") as handle:
                if self.store is None:
                    client.retrieve(patient.ins, document, handle)
                else:
                    _size, cached = self.store.cache.fetch_document(
                        patient.ins,
                        document.unique_id,
                        handle,
                        lambda out: client.retrieve(patient.ins, document, out),
                        lambda error, what: log.warning("cache %s (%s)", what, error.code),
                    )
                    if cached:
                        client.check_copy(patient.ins, document, handle)  # the entry's bytes
        except BaseException:
            cda.unlink(missing_ok=True)  # a refused or failed retrieval leaves no file behind
            raise
        with cda.open("rb") as source:
            structured = has_structured_body(source)
        if structured:  # no file inside: the viewer renders the CDA itself
            body.write_bytes(b"")
            media = STRUCTURED_BODY
        else:
            with cda.open("rb") as source, body.open("wb") as target:
                media = extract_body(source, target)
        with cda.open("rb") as source:
            identity = read_identity(source)
        return Retrieved(cda, body, media, identity.document_id)

    def apply(self, patient: Patient, document: DocumentInfo, action: Action) -> tuple[str, ...]:
        """One ITI-57 action; the host's warnings returned as ``text [code]`` lines to show."""
        client = self._client()
        if action is Action.MASK:
            warnings = client.set_visibility(patient.ins, document, add={Visibility.MASKED_FROM_PS})
        elif action is Action.UNMASK:
            warnings = client.set_visibility(patient.ins, document, remove={Visibility.MASKED_FROM_PS})
        elif action is Action.SHOW_TO_PATIENT:
            warnings = client.set_visibility(patient.ins, document, remove={Visibility.INVISIBLE_TO_PATIENT})
        elif action is Action.SHOW_TO_REPRESENTATIVES:
            warnings = client.set_visibility(
                patient.ins, document, remove={Visibility.INVISIBLE_TO_REPRESENTATIVES}
            )
        elif action is Action.ARCHIVE:
            warnings = client.set_status(patient.ins, document, Status.ARCHIVED)
        elif action is Action.UNARCHIVE:
            warnings = client.set_status(patient.ins, document, Status.APPROVED)
        elif action is Action.DELETE:
            warnings = client.set_status(patient.ins, document, Status.DELETED)
        else:
            raise ActionUnavailable(f"Action non disponible ici : {action}.")
        return tuple(w.said() for w in warnings)

    # -- feeding --------------------------------------------------------------------------------

    def enqueue(self, request: UploadRequest, path: Path) -> Entry:
        """Confide a document to the durable queue (sent by :meth:`drain`); the queue refuses an
        identity that is not qualifiée (IdentityNotQualified)."""
        if self.store is None:
            raise LocalStoreUnavailable("La base locale n'est pas disponible : envoi impossible.")
        with path.open("rb") as handle:
            return self.store.queue.enqueue(request, handle, source_name=path.name)

    def require_qualified(self, ins: Ins, traits: IdentityTraits) -> None:
        """Raise IdentityNotQualified unless this identity is qualifiée here (app.services.identity)."""
        if self.store is None:
            raise LocalStoreUnavailable("La base locale n'est pas disponible : statut de l'identité inconnu.")
        self.store.identities.require_qualified(ins, traits)

    # -- the identity (issue 17): read and changed through the lifecycle, off the GUI thread -----

    def _lifecycle(self) -> IdentityLifecycle:
        from app.services.identity import IdentityLifecycle

        if self.store is None:
            raise LocalStoreUnavailable("La base locale n'est pas disponible : statut de l'identité inconnu.")
        return IdentityLifecycle(self.store.db)

    def identity(self, ins: Ins, traits: IdentityTraits | None) -> IdentityState:
        """The identity's status here (never recorded: provisoire), its history, and whether the traits
        given are the recorded ones (other traits: provisoire, the proofs were about the others)."""
        life = self._lifecycle()
        stored = life.get(ins)
        if stored is None:
            return IdentityState(IdentityStatus.PROVISOIRE, None, ())
        events = tuple(life.history(ins))
        differs = tuple(str(t) for t in stored.traits.differences(traits)) if traits is not None else ()
        if traits is None or differs:
            return IdentityState(IdentityStatus.PROVISOIRE, stored, events, differs or ("traits",))
        return IdentityState(stored.status, stored, events, (), _ins_history(stored))

    def check_identity_document(
        self, ins: Ins, traits: IdentityTraits, document: DocumentType, checked_by: str
    ) -> IdentityState:
        """An identity document checked by ``checked_by`` (provisoire → validée, récupérée → qualifiée)."""
        from app.services.identity import DocumentCheck

        if not checked_by.strip():
            raise UsageError("Indiquez qui a vérifié la pièce d'identité.")
        check = DocumentCheck(document, checked_by.strip(), dt.datetime.now(dt.UTC))
        self._lifecycle().check_document(ins, traits, check)
        return self.identity(ins, traits)

    def checker(self) -> str:
        """Who checks an identity document by default: the professional connected with the card (with
        the structure's certificate nobody is named: the person who saw the document types a name)."""
        c = self.connection
        return c.display_name if c is not None and c.mode is AuthMode.DIRECT else ""

    def _may_consult(self, patient: Patient) -> None:
        """[UNSURE] DMP_IDENTITE_CONSULTATION_QUALIFIEE = 1: the DMP is read only for a qualifiée
        identity (off by default: the sources found forbid feeding only; docs/identity.md)."""
        if self.settings.consultation_needs_qualified:
            if patient.traits is None:
                raise not_qualified(None)
            self.require_qualified(patient.ins, patient.traits)

    def send_mode(self) -> tuple[SendMode, str | None]:
        c = self.connection
        if c is None:
            raise NotConnected()
        return (SendMode.CARD, c.actor_id) if c.mode is AuthMode.DIRECT else (SendMode.STRUCTURE, None)

    def drain(self, stop: threading.Event | None = None) -> DrainReport:
        """Send what the queue holds for this session's credentials (exactly once, docs/store.md);
        ``stop`` ends the pass between two documents (never in the middle of one)."""
        if self.store is None:
            raise LocalStoreUnavailable("La base locale n'est pas disponible : envoi impossible.")
        mode, _ = self.send_mode()
        return self.store.sender(self.session.credentials()).drain((mode,), stop=stop)

    def close(self) -> None:
        self.hot_folder.stop()
        self.disconnect()
        self._folder.cleanup()


def _ins_history(stored: StoredIdentity) -> tuple[Ins, ...]:
    """The INSHISTO kept with the INSi proof (``historique``: [matricule, OID] pairs, identity.py);
    an entry that no longer parses is not shown (the base keeps it)."""
    entries = (stored.insi or {}).get("historique")
    found = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            found.append(Ins.parse(str(entry[0]), str(entry[1])))
        except (IndexError, TypeError, KeyError, InsError):
            continue
    return tuple(found)


def private_file_stem(unique_id: str) -> str:
    """A file name for a retrieved document in the private folder: the host's uniqueId is not
    trusted as a path (an absolute value or ``..`` would leave the folder), so only letters, digits,
    ``-`` and ``_`` of it are kept (at most 64), with a digest of the whole value that keeps two
    documents apart."""
    digest = hashlib.sha256(unique_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    kept = re.sub(r"[^0-9A-Za-z_-]+", "_", unique_id)[:64]
    return f"{kept}-{digest}"


def _summary(document: DocumentInfo) -> dict[str, str]:
    when = document.creation_time.isoformat() if document.creation_time else ""
    kind = document.type_code.display_name if document.type_code else ""
    return {"unique_id": document.unique_id, "title": document.title, "type": kind, "created": when}


# -- the hot folder, watched for the GUI ------------------------------------------------------------
# One watcher thread owned by this object (no Qt in it). It uses the session's store: the store's
# Database serialises every use of its one SQLCipher connection with its own lock (each write a
# BEGIN IMMEDIATE transaction held under it), so the watcher, the GUI's reads and the background
# drain never run statements on the connection at once, and never wait on each other's SQLite lock
# (one connection). The GUI reads :meth:`HotFolderWatch.status`, a snapshot the thread builds after
# each pass: it never lists the folder (a network share) on the GUI thread.

HOT_FOLDER_WATCHED, HOT_FOLDER_STOPPED, HOT_FOLDER_ERROR = "surveillé", "arrêté", "erreur"


@dataclass(frozen=True)
class HotFolderStatus:
    state: str  # HOT_FOLDER_WATCHED, HOT_FOLDER_STOPPED or HOT_FOLDER_ERROR
    reason: str = ""  # French: why it is in error (or the last pass's problems)
    folder: Path | None = None
    waiting: tuple[str, ...] = ()
    in_progress: tuple[str, ...] = ()
    notes: tuple[ErrorNote, ...] = ()
    queued: int = 0  # entries queued since started (a change: the queue view reads again)
    passes: int = 0


class HotFolderWatch:
    """Start, stop and observe the watching of one hot folder (``app.store.hotfolder``)."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._lock = threading.Lock()  # guards the fields below
        self._pass = threading.Lock()  # one pass, or one retry, at a time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._folder: HotFolder | None = None
        self._status = HotFolderStatus(HOT_FOLDER_STOPPED)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> HotFolderStatus:
        with self._lock:
            return self._status

    def start(
        self,
        folder: Path,
        mode: SendMode = SendMode.STRUCTURE,
        stable_seconds: float = 2.0,
        rescan_interval: float = 10.0,
    ) -> HotFolderStatus:
        """Watch ``folder`` (stopping any previous watch). Raises a DmpClientError (French) if the
        folder is not one, the base is unavailable, or card mode has no card session."""
        store = self._workspace.store
        if store is None:
            raise LocalStoreUnavailable("La base locale n'est pas disponible : dossier de dépôt impossible.")
        professional = None
        if mode is SendMode.CARD:
            connection = self._workspace.connection
            if connection is None or connection.mode is not AuthMode.DIRECT:
                raise NotConnected(
                    "Le mode carte demande une carte CPS connectée : connectez-la, ou choisissez le mode "
                    "établissement."
                )
            professional = connection.actor_id
        from app.store.hotfolder import HotFolder

        hot = HotFolder.open(
            folder,
            store.queue,
            self._workspace.settings.structure,
            mode=mode,
            professional=professional,
            stable_seconds=stable_seconds,
        )
        self.stop()
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(hot, stop, rescan_interval), name="dossier-de-depot", daemon=True
        )
        with self._lock:
            self._folder, self._stop, self._thread = hot, stop, thread
            self._status = HotFolderStatus(HOT_FOLDER_WATCHED, folder=folder)
        thread.start()
        return self.status()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; returns once the thread has ended (a pass in progress finishes first)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # a pass stuck on a dead share: the daemon thread ends with it
                log.warning("hot folder: watcher thread still in a pass after %.0f s", timeout)
        with self._lock:
            if self._status.state == HOT_FOLDER_WATCHED:
                self._status = dataclasses.replace(self._status, state=HOT_FOLDER_STOPPED)

    def retry(self, document: str) -> None:
        """Put a corrected pair back from ``erreurs/`` (examined again by the next pass)."""
        with self._lock:
            hot = self._folder
        if hot is None:
            raise InputFileError("Choisissez et surveillez d'abord le dossier de dépôt.")
        try:
            with self._pass:
                hot.retry(document)
        except FileExistsError:
            raise InputFileError(
                f"« {document} » est déjà dans le dossier de dépôt : rien n'a été remplacé."
            ) from None
        except (OSError, ValueError) as error:
            raise InputFileError(
                f"« {document} » n'a pas pu être remis dans le dossier ({type(error).__name__})."
            ) from None
        with self._lock:
            if self._status.folder == hot.folder:
                notes = tuple(n for n in self._status.notes if n.document != document)
                self._status = dataclasses.replace(self._status, notes=notes)

    def _run(self, hot: HotFolder, stop: threading.Event, rescan_interval: float) -> None:
        from app.store.hotfolder import ScanReport, unreadable
        from app.store.watching import watch_folder

        queued = 0
        passes = 0

        def one_pass() -> bool:
            nonlocal queued, passes
            with self._pass:
                try:
                    report = hot.scan()
                except Exception as error:  # never seen by the user as a crash: shown as a state
                    log.error("hot folder: pass failed (%s)", type(error).__name__)
                    report = ScanReport(failures=[("", unreadable(error))])
                notes, in_progress = hot.error_notes(), hot.in_progress_names()
            passes += 1
            queued += len(report.queued)
            problems = [f"Base locale : {m} [{c}]" for c, m in report.store_errors]
            problems += [f"{name or 'Dossier'} : {message}" for name, message in report.failures]
            status = HotFolderStatus(
                HOT_FOLDER_ERROR if problems else HOT_FOLDER_WATCHED,
                "\n".join(problems),
                hot.folder,
                tuple(report.waiting),
                tuple(in_progress),
                tuple(notes),
                queued,
                passes,
            )
            with self._lock:
                if not stop.is_set():
                    self._status = status
            return bool(report.waiting)

        try:
            watch_folder(hot.folder, one_pass, stop, rescan_interval, hot.stable_seconds)
        except Exception as error:  # the watcher itself failed: shown, never raised into nothing
            log.error("hot folder: watcher failed (%s)", type(error).__name__)
            with self._lock:
                self._status = dataclasses.replace(
                    self._status, state=HOT_FOLDER_ERROR, reason=unreadable(error)
                )
