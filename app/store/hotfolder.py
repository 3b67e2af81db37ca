"""The hot folder: documents dropped into a folder (often a network share), each with a sidecar
``<document>.dmp.json`` naming the patient, the document type and the author, go into the upload queue.

Polling is the authority (shares miss events); watchdog only triggers an early pass. A pair is claimed
once both files are stable. Valid: queued (durable), then moved to ``.en-cours/<id>-<name>``; invalid:
moved to ``erreurs/`` beside a French ``<name>.erreur.txt``. Files are deleted only once the host has
acknowledged their entry. A crash between queueing and moving is harmless: the same bytes give the
same source digest, and the queue returns the entry it already has. Ids start again at 1 after
``dmp store quarantine``: nothing in ``.en-cours/`` is replaced by other bytes, nor taken for an entry
with another source digest. Documents are read in chunks, never whole. The sidecar's format and
check: app/store/sidecar.py; both: docs/hot-folder.md.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from app.errors import DmpClientError, IdentityNotQualified, InputFileError
from app.ins import InsError
from app.store.database import CHUNK
from app.store.errors import StoreError
from app.store.queue import State, UploadQueue
from app.store.request import SendMode, UploadRequest
from app.store.sidecar import ADVICE, MAX_SIDECAR, Problem, check_sidecar, problem
from app.store.watching import watch_folder

log = logging.getLogger(__name__)
IDENTITY_ADVICE = (
    "Qualifiez l'identité du patient dans le logiciel (réponse du téléservice INSi et pièce d'identité "
    "vérifiée), puis déposez à nouveau les deux fichiers ensemble dans le dossier de dépôt."
)

SIDECAR = ".dmp.json"
IN_PROGRESS = ".en-cours"
ERRORS = "erreurs"
NOTE = ".erreur.txt"
IGNORED_SUFFIXES = (".tmp", ".part", "~")
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
_IN_PROGRESS_NAME = re.compile(r"(\d+)-(.+)")
CONFLICT = (  # the hot folder's own code: the pair stays where it is, nothing goes to erreurs/
    "Un autre document occupe sa place dans « .en-cours » (même numéro d'entrée : base locale remplacée "
    "?). Rien n'a été écrasé : la paire reste ici, reprise quand la place sera libre. [DEPOT-CONFLIT]"
)


def read_digest(file: BinaryIO, size: int, sidecar: bytes) -> str | None:
    """The pair's identity in the queue: SHA-256 over the document's length ``size``, its bytes read
    from ``file`` in chunks, then the sidecar's bytes; None unless ``file`` holds ``size`` bytes."""
    digest = hashlib.sha256(size.to_bytes(8, "big"))
    seen = 0
    while seen <= size and (chunk := file.read(CHUNK)):
        digest.update(chunk)
        seen += len(chunk)
    digest.update(sidecar)
    return digest.hexdigest() if seen == size else None


def source_digest(document: bytes, sidecar: bytes) -> str:
    """``read_digest`` of a document held in memory."""
    return cast(str, read_digest(io.BytesIO(document), len(document), sidecar))


def _file_digest(path: Path, sidecar: bytes = b"") -> str | None:
    with open(path, "rb") as file:
        return read_digest(file, os.fstat(file.fileno()).st_size, sidecar)


class _Taken(Exception):
    """``.en-cours/<id>-<name>`` holds other bytes: another pair's, never to be replaced."""


class _Changed(Exception):
    """The document is not the one found stable: it changed since, or while it was being read."""


class _Replay:
    """The document as the queue reads it: exactly the bytes whose digest was taken, else _Changed
    (raised inside the queue's transaction, which is rolled back: nothing is queued)."""

    def __init__(self, file: BinaryIO, size: int, sidecar: bytes, digest: str) -> None:
        self.file, self.size, self.sidecar, self.digest = file, size, sidecar, digest
        self.hash, self.seen = hashlib.sha256(size.to_bytes(8, "big")), 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.file.read(n)
        self.hash.update(chunk)
        self.seen += len(chunk)
        if self.seen > self.size:
            raise _Changed()
        if not chunk:
            final = self.hash.copy()
            final.update(self.sidecar)
            if self.seen != self.size or final.hexdigest() != self.digest:
                raise _Changed()
        return chunk


@dataclass
class ScanReport:
    """What one pass did, for a summary (file names are for the user's eyes, never for logs)."""

    queued: list[int] = field(default_factory=list)  # entry ids (new, or recognised after a crash)
    rejected: list[str] = field(default_factory=list)  # document names moved to erreurs/
    waiting: list[str] = field(default_factory=list)  # not yet stable, or waiting for their pair
    deleted: list[int] = field(default_factory=list)  # acknowledged entries whose files were deleted
    returned: list[int] = field(default_factory=list)  # cancelled or unknown entries, back in erreurs/
    store_errors: list[Problem] = field(default_factory=list)  # the pairs concerned stay where they are
    failures: list[tuple[str, str]] = field(default_factory=list)  # (name, French message)

    def summary(self) -> str:
        lines = [
            f"Dossier de dépôt : {len(self.queued)} mis en file, {len(self.rejected)} refusé(s), "
            f"{len(self.waiting)} en attente, {len(self.deleted)} supprimé(s) après envoi."
        ]
        lines += [f"Base locale : {message} [{code}]" for code, message in self.store_errors]
        return "\n".join(lines + [f"{name or 'Dossier'} : {message}" for name, message in self.failures])


def _ignored(name: str) -> bool:
    lower = name.lower()
    return name.startswith((".", "~$")) or lower.endswith(IGNORED_SUFFIXES) or lower in IGNORED_NAMES


def _document_of(name: str) -> str:
    return name[: -len(SIDECAR)] if name.endswith(SIDECAR) else name


def unreadable(error: Exception) -> str:
    return f"Fichier inaccessible ou erreur inattendue ({type(error).__name__}) : nouvel essai plus tard."


class StructureNames(Protocol):
    """What the hot folder needs of the structure's settings (``Settings.structure``)."""

    @property
    def structure_id(self) -> str: ...

    @property
    def structure_name(self) -> str: ...


class HotFolder:
    @classmethod
    def open(
        cls,
        folder: Path,
        queue: UploadQueue,
        structure: StructureNames | None,
        *,
        mode: SendMode = SendMode.STRUCTURE,
        professional: str | None = None,
        stable_seconds: float = 2.0,
    ) -> HotFolder:
        """The one way the GUI and the command line build a hot folder: the folder must exist; its
        documents are attributed to the configured structure (none configured: left empty)."""
        if not folder.is_dir():
            raise InputFileError(f"Dossier de dépôt introuvable : {folder}")
        return cls(
            folder,
            queue,
            mode=mode,
            professional=professional,
            structure_id=structure.structure_id if structure else "",
            structure_name=structure.structure_name if structure else "",
            stable_seconds=stable_seconds,
        )

    def __init__(
        self,
        folder: Path,
        queue: UploadQueue,
        *,
        mode: SendMode = SendMode.STRUCTURE,
        professional: str | None = None,
        structure_id: str = "",
        structure_name: str = "",
        stable_seconds: float = 2.0,
        orphan_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder, self.queue, self.mode, self.professional = folder, queue, mode, professional
        self.structure_id, self.structure_name = structure_id, structure_name
        self.stable_seconds, self.clock = stable_seconds, clock
        self.orphan_seconds = 10 * stable_seconds if orphan_seconds is None else orphan_seconds
        self._seen: dict[str, tuple[tuple[int, int], float, float]] = {}  # signature, since, first seen
        self._digests: dict[tuple[str, int, int, bytes], str] = {}  # .en-cours/: path, size, mtime, sidecar

    def request_for(self, name: str, sidecar: bytes) -> tuple[UploadRequest | None, list[Problem]]:
        """The upload request a sidecar describes, or every problem found in it (in French)."""
        structure = {"structure_id": self.structure_id, "structure_name": self.structure_name}
        return check_sidecar(name, sidecar, mode=self.mode, professional=self.professional, **structure)

    # -- one pass -------------------------------------------------------------------------------

    def scan(self) -> ScanReport:
        """One pass over the folder: claim the stable pairs, then tidy ``.en-cours/``."""
        report = ScanReport()
        try:
            files = self._listing()
        except OSError:
            report.failures.append(("", "Dossier de dépôt inaccessible (partage réseau déconnecté ?)."))
            return report
        now = self.clock()
        stable = {name for name, signature in files.items() if self._stable(name, signature, now)}
        self._seen = {k: v for k, v in self._seen.items() if k in files}
        for name in self._resume_moves(set(files), report):
            del files[name]
        store_down = False
        for name in sorted(files):
            document = _document_of(name)
            sidecar = document + SIDECAR
            if name == sidecar and document in files:
                continue  # handled with its document
            try:
                if document in files and sidecar in files:
                    if store_down or not {document, sidecar} <= stable:
                        report.waiting.append(document)
                    else:
                        self._claim(document, files[document][0], report)
                elif name in stable and now - self._seen[name][2] >= self.orphan_seconds:
                    missing = "fichier d'accompagnement" if name == document else "document"
                    orphan = problem("DEPOT-ORPHELIN", what=missing)
                    self._to_errors(document, [self.folder / name], [orphan], ADVICE["DEPOT-ORPHELIN"])
                    report.rejected.append(document)
                else:
                    report.waiting.append(document)
            except StoreError as error:
                report.store_errors.append((error.code, error.user_message))
                store_down = True  # every pair would meet the same error: the next pass tries again
            except _Taken:  # checked before either file moved: the pair is still here, whole
                report.failures.append((document, CONFLICT))
            except Exception as error:  # never stop on one bad file (OSError, or a bug)
                log.warning("hot folder: one pair skipped (%s)", type(error).__name__)
                report.failures.append((document, unreadable(error)))
        if not store_down:
            self._tidy(report)
        if report.queued or report.rejected or report.store_errors:
            log.info("hot folder pass: %d queued, %d rejected", len(report.queued), len(report.rejected))
        return report

    def _listing(self) -> dict[str, tuple[int, int]]:
        """{name: (size, mtime)} of the candidate files (not hidden, temporary, a folder or a link)."""
        files = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                try:
                    if not _ignored(entry.name) and entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        files[entry.name] = (st.st_size, st.st_mtime_ns)
                except OSError:
                    continue  # gone meanwhile (renamed by the program writing it)
        return files

    def _stable(self, name: str, signature: tuple[int, int], now: float) -> bool:
        """Size and mtime unchanged for ``stable_seconds``, as seen by successive passes."""
        seen = self._seen.get(name)
        if seen is None or seen[0] != signature:
            self._seen[name] = (signature, now, seen[2] if seen else now)
            return self.stable_seconds <= 0
        return now - seen[1] >= self.stable_seconds

    def _claim(self, name: str, size: int, report: ScanReport) -> None:
        with open(self.folder / (name + SIDECAR), "rb") as file:
            sidecar = file.read(MAX_SIDECAR + 1)
        request, problems = self.request_for(name, sidecar)
        if size == 0:
            problems.append(problem("DEPOT-VIDE"))
        entry = None
        try:
            with open(self.folder / name, "rb") as document:  # closed before any move (Windows)
                # Read in chunks, twice (its digest, then its bytes): both times the size found stable.
                same = os.fstat(document.fileno()).st_size == size
                if not same or (digest := read_digest(document, size, sidecar)) is None:
                    raise _Changed()
                if request is not None and not problems:
                    document.seek(0)
                    replay = cast(BinaryIO, _Replay(document, size, sidecar, digest))
                    try:
                        entry = self.queue.enqueue(request, replay, source_digest=digest, source_name=name)
                    except StoreError:
                        raise
                    except (DmpClientError, InsError) as error:  # refused by the queue's own checks
                        problems.append((error.code, error.user_message))
        except _Changed:  # not the file found stable: wait again
            self._seen.pop(name, None)
            report.waiting.append(name)
            return
        if entry is None:
            paths = [self.folder / name, self.folder / (name + SIDECAR)]
            advice = ADVICE["DEPOT-ACCOMPAGNEMENT"].format(name=name)
            if any(code == IdentityNotQualified.code for code, _ in problems):
                advice = IDENTITY_ADVICE
            self._to_errors(name, paths, problems, advice)
            report.rejected.append(name)
            return
        # Durable from here on: after a crash, the next pass finds the pair and the queue its entry.
        for each in (name, name + SIDECAR):  # both checked before either moves: a pair is never split
            self._destination(entry.id, each)
        self._move_in(entry.id, name)
        self._move_in(entry.id, name + SIDECAR)
        report.queued.append(entry.id)

    def _destination(self, entry_id: int, name: str) -> Path:
        """``.en-cours/<id>-<name>``, free or holding the very bytes of ``name`` (the pair dropped
        again, or a crash after the move: replacing it loses nothing); else _Taken."""
        target = self.folder / IN_PROGRESS / f"{entry_id}-{name}"
        if os.path.lexists(target):
            mine = _file_digest(self.folder / name)
            if mine is None or mine != _file_digest(target):
                raise _Taken()
        return target

    def _move_in(self, entry_id: int, name: str) -> None:
        (self.folder / IN_PROGRESS).mkdir(exist_ok=True)
        os.replace(self.folder / name, self._destination(entry_id, name))

    def _resume_moves(self, files: set[str], report: ScanReport) -> list[str]:
        """Complete the pairs that a crash left half moved into ``.en-cours/`` (failures reported)."""
        moved = []
        for (entry_id, document), present in self._in_progress(report).items():
            try:
                for name, partner in ((document, document + SIDECAR), (document + SIDECAR, document)):
                    if name not in present and name in files and partner not in files:
                        self._move_in(entry_id, name)
                        moved.append(name)
            except _Taken:
                report.failures.append((document, CONFLICT))
            except OSError as error:
                report.failures.append((document, unreadable(error)))
        return moved

    def _in_progress(self, report: ScanReport) -> dict[tuple[int, str], set[str]]:
        """``.en-cours/`` as {(entry id, document name): names of the pair's files present}, or {}
        if it cannot be listed (reported once per pass)."""
        groups: dict[tuple[int, str], set[str]] = {}
        folder = self.folder / IN_PROGRESS
        try:
            for path in folder.iterdir() if folder.is_dir() else ():
                if (match := _IN_PROGRESS_NAME.fullmatch(path.name)) and path.is_file():
                    groups.setdefault((int(match[1]), _document_of(match[2])), set()).add(match[2])
        except OSError as error:
            if (failure := ("", unreadable(error))) not in report.failures:
                report.failures.append(failure)
            return {}
        return groups

    def _tidy(self, report: ScanReport) -> None:
        """Delete the pairs the host acknowledged; cancelled or unknown ones go back to erreurs/.
        Failed or waiting entries keep their files here until a person retries or cancels them."""
        groups = [key for key, names in self._in_progress(report).items() if len(names) == 2]
        cache, self._digests = self._digests, {}  # only the pairs still here are kept
        for entry_id, document in groups:
            paths = [self.folder / IN_PROGRESS / f"{entry_id}-{n}" for n in (document, document + SIDECAR)]
            try:
                code = self._verdict(entry_id, paths, cache)
                if code == "SUPPRIMER":
                    for path in paths:
                        path.unlink()
                    report.deleted.append(entry_id)
                elif code is not None:
                    self._to_errors(document, paths, [problem(code)], ADVICE[code])
                    report.returned.append(entry_id)
            except StoreError as error:
                report.store_errors.append((error.code, error.user_message))
                return
            except OSError as error:
                report.failures.append((document, unreadable(error)))

    def _verdict(self, entry_id: int, paths: list[Path], cache: dict[Any, str]) -> str | None:
        """What to do with a pair in ``.en-cours/``: delete it, send it back (a code), or keep it. In
        every state, the pair is the entry's only if it has its source digest (the id may be another
        pair's after a quarantine); else it is unknown, sent back."""
        # The queue has no reader for one entry's source digest: read it here, in the same base.
        rows = self.queue.db.execute("SELECT state, source_digest FROM queue_entry WHERE id = ?", (entry_id,))
        st, sidecar = paths[0].stat(), paths[1].read_bytes()
        key = (str(paths[0]), st.st_size, st.st_mtime_ns, sidecar)  # hashed again once changed
        if (digest := cache.get(key) or _file_digest(paths[0], sidecar)) is None:
            return None  # changing while read: the next pass looks again
        self._digests[key] = digest
        if not rows or digest != rows[0][1]:
            return "DEPOT-ENTREE-INCONNUE"
        state = State(rows[0][0])
        return "SUPPRIMER" if state is State.SENT else "DEPOT-ANNULE" if state is State.CANCELLED else None

    def _to_errors(self, document: str, paths: list[Path], problems: list[Problem], advice: str) -> None:
        """Move a pair (or what there is of it) into erreurs/ beside a French explanation. Nothing
        is overwritten there: a name already taken gets « (2) », « (3) »… before its extension."""
        folder = self.folder / ERRORS
        folder.mkdir(exist_ok=True)
        stem, suffix = os.path.splitext(document)
        n, target = 1, document
        while any((folder / (target + end)).exists() for end in ("", SIDECAR, NOTE)):
            n += 1
            target = f"{stem} ({n}){suffix}"
        lines = [f"Le document « {document} » n'a pas été envoyé au DMP.", "", "Problèmes relevés :"]
        lines += [f"- {message} [{code}]" for code, message in problems]
        (folder / (target + NOTE)).write_text("\n".join([*lines, "", "Que faire :", advice, ""]), "utf-8")
        for path in paths:
            os.replace(path, folder / (target + (SIDECAR if path.name.endswith(SIDECAR) else "")))

    # -- what the folder shows -----------------------------------------------------------------

    def error_notes(self) -> list[ErrorNote]:
        """The explanations in ``erreurs/``, newest first (empty if the folder cannot be listed)."""
        notes = []
        try:
            for path in (self.folder / ERRORS).iterdir() if (self.folder / ERRORS).is_dir() else ():
                if path.name.endswith(NOTE) and path.is_file():
                    with open(path, "rb") as file:
                        text = file.read(MAX_NOTE).decode("utf-8", "replace")
                    notes.append(ErrorNote(path.name[: -len(NOTE)], path.stat().st_mtime, text))
        except OSError:
            return notes
        return sorted(notes, key=lambda note: (-note.modified, note.document))

    def in_progress_names(self) -> list[str]:
        """The files in ``.en-cours/`` (queued, waiting for the host's acknowledgement)."""
        folder = self.folder / IN_PROGRESS
        try:
            return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        except OSError:
            return []

    def retry(self, document: str) -> None:
        """Put a pair from ``erreurs/`` back into the folder (once corrected: the next pass examines
        it again) and remove its explanation. Nothing in the folder is overwritten (FileExistsError)."""
        if document != os.path.basename(document) or document in ("", ".", ".."):
            raise ValueError("not a file name")
        errors = self.folder / ERRORS
        names = [n for n in (document, document + SIDECAR) if (errors / n).exists()]
        if taken := [n for n in names if os.path.lexists(self.folder / n)]:
            raise FileExistsError(taken[0])
        for name in names:
            os.replace(errors / name, self.folder / name)
        (errors / (document + NOTE)).unlink(missing_ok=True)
        self._seen.pop(document, None)
        self._seen.pop(document + SIDECAR, None)

    # -- watching -------------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        rescan_interval: float = 10.0,
        on_report: Callable[[ScanReport], None] | None = None,
    ) -> None:
        """Scan until ``stop`` is set: on watchdog's hints and every ``rescan_interval`` seconds
        (``app.store.watching``), sooner while files are settling."""

        def one_pass() -> bool:
            try:
                report = self.scan()
            except Exception as error:  # the loop outlives any one pass
                log.error("hot folder: pass failed (%s)", type(error).__name__)
                report = ScanReport(failures=[("", unreadable(error))])
            if on_report is not None:
                on_report(report)
            return bool(report.waiting)

        watch_folder(self.folder, one_pass, stop, rescan_interval, self.stable_seconds)


MAX_NOTE = 64 * 1024  # an explanation is a few lines; a bigger file is shown cut


@dataclass(frozen=True)
class ErrorNote:
    """One ``erreurs/<document>.erreur.txt``: the document's name, when it was written, its text."""

    document: str
    modified: float  # time.time() scale
    text: str
