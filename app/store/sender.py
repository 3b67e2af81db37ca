"""Draining the upload queue: exactly-once delivery over an unreliable network.

Rules (docs/store.md):
- one process drains at a time (``ProcessLock``); on taking the lock, entries left ``sending`` by a
  process that died are queued again and marked uncertain;
- the document's identity is pinned at enqueue time, so every attempt sends the same document;
- before sending an uncertain entry again, the host is asked whether it holds the document's
  uniqueId (an ObjectRef query, allowed in every authentication mode); a duplicate-uniqueId
  refusal after an uncertain attempt also means the host has it;
- transient faults (network, time-out, host unavailable) wait with exponential back-off and
  jitter, and the whole mode waits with them (one probe, not one failure per entry); the first
  success wakes every waiting entry of that mode;
- missing credentials (no card, card pulled out, PIN refused) make entries wait without counting
  an attempt; the PIN is never retried automatically;
- permanent refusals stop the entry in ``failed`` with the host's code, until a person acts.
"""

from __future__ import annotations

import errno
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from app.card.errors import CardError, PinCancelled, PinFormat, PinIncorrect, PinLocked
from app.dmp_client.core.errors import RemoteError
from app.dmp_client.errors import HostUnreachable, HttpError, Timeout
from app.errors import DmpClientError, IdentityNotQualified, traceback_frames
from app.ins import InsError
from app.store.errors import DiskFull, StoreError
from app.store.identities import IdentityRegistry
from app.store.lock import ProcessLock
from app.store.queue import Entry, UploadQueue
from app.store.request import SendMode

if TYPE_CHECKING:  # the client (httpx, the signature) loads with the first connection or drain
    from app.dmp_client.client import DmpClient

log = logging.getLogger(__name__)

# DMP / XDS codes after which trying again later may succeed [UNSURE: the DMPi guide's list of
# temporary errors is not public; configurable through ``Policy.transient_codes``].
TRANSIENT_CODES = frozenset(
    {
        "DMPServiceUnavailable",
        "DMPInternalError",
        "DMPTemporaryUnavailable",
        "XDSRegistryBusy",
        "XDSRepositoryBusy",
        "XDSRegistryOutOfResources",
        "XDSRepositoryOutOfResources",
    }
)
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})
ALREADY_THERE = "XDSDuplicateUniqueIdInRegistry"
# A send the host accepted with Warning-severity RegistryErrors (ITI-41 PartialSuccess or Success
# with warnings): the entry is sent, and the host's words are kept as its reason.
SENT_WITH_WARNINGS = "FILE-ENVOYE-AVERTISSEMENT"
MAX_WARNINGS_TEXT = 2000
# Faults worth waiting out. TLS failures are not among them: a certificate refused or expired
# needs a person (the entry goes to "failed" with DMP-TLS).
TransportErrors = (HostUnreachable, Timeout)


class CredentialsUnavailable(DmpClientError):
    """What an entry needs to be sent is not there now (no card, wrong card, refused PIN)."""

    code = "FILE-CARTE-NECESSAIRE"
    user_message = "La carte CPS du professionnel est nécessaire pour signer cet envoi."


class Credentials(Protocol):
    """Gives the client for a mode (and, in card mode, for the professional whose card it is)."""

    def client(self, mode: SendMode, professional: str | None) -> DmpClient: ...

    def invalidate(self, mode: SendMode) -> None: ...


@dataclass(frozen=True)
class Policy:
    base_delay: float = 5.0
    max_delay: float = 900.0
    credentials_retry: float = 10.0  # how often a missing card (or certificate) is looked for again
    transient_codes: frozenset[str] = TRANSIENT_CODES

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential back-off with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * float(2 ** max(0, attempts - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class DrainReport:
    sent: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)  # found on the host after an uncertain attempt
    waiting: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    recovered: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.sent) + len(self.confirmed)} envoyé(s) (dont {len(self.confirmed)} déjà reçu(s) "
            f"par le DMP), {len(self.waiting)} en attente, {len(self.failed)} en échec"
        )


class QueueSender:
    def __init__(
        self,
        queue: UploadQueue,
        credentials: Credentials,
        lock_path: Path,
        *,
        policy: Policy | None = None,
        rng: random.Random | None = None,
        on_change: Callable[[Entry], None] | None = None,
        on_error: Callable[[DmpClientError], None] | None = None,
        identities: IdentityRegistry | None = None,
    ) -> None:
        self.identities = identities  # the feeding gate, checked again at every attempt
        self.queue = queue
        self.credentials = credentials
        self.lock = ProcessLock(lock_path)
        self.policy = policy or Policy()
        self.rng = rng or random.Random()
        self.on_change = on_change
        self.on_error = on_error  # follow mode: a failing base is reported, then tried again

    def drain(
        self,
        modes: tuple[SendMode, ...] = (SendMode.STRUCTURE, SendMode.CARD),
        *,
        follow: bool = False,
        stop: threading.Event | None = None,
        poll: float = 5.0,
    ) -> DrainReport:
        """Send every due entry (once through, or until ``stop`` when ``follow``)."""
        stop = stop or threading.Event()
        report = DrainReport()
        with self.lock:
            report.recovered = self.queue.recover()
            self.queue.wake_credentials(modes)  # a drain starting: the card may be back, look now
            while not stop.is_set():
                try:
                    self._pass(modes, report, stop)
                except StoreError as error:
                    if not follow:
                        raise  # the entry stays "sending": the next drain recovers it as uncertain
                    if self.on_error is not None:
                        self.on_error(error)
                    stop.wait(poll)
                    report.recovered += self.queue.recover()
                    continue
                if not follow:
                    break
                due = self.queue.next_due(modes)
                wait = poll if due is None else max(0.05, min(poll, due - self.queue.clock()))
                stop.wait(wait)
        return report

    def _pass(self, modes: tuple[SendMode, ...], report: DrainReport, stop: threading.Event) -> None:
        blocked = Blocked()
        while not stop.is_set():
            entry = self.queue.claim_next([m for m in modes if m not in blocked.modes], blocked.professionals)
            if entry is None:
                return
            outcome = self._attempt(entry, blocked)
            getattr(report, outcome).append(entry.id)
            if self.on_change is not None:
                self.on_change(self.queue.get(entry.id))

    # -- one attempt ----------------------------------------------------------------------------

    def _attempt(self, entry: Entry, blocked: Blocked) -> str:
        """Try one claimed entry; return the report list it belongs to."""
        step = Step()
        try:
            if self.identities is not None:  # the status may have changed since the entry was queued
                self.identities.require_qualified(entry.request.ins, entry.request.traits)
            client = self.credentials.client(entry.mode, entry.professional)
            return self._send(entry, client, step)
        except IdentityNotQualified as error:
            return self._identity_waits(entry, error)
        except WrongCard as error:
            return self._no_credentials(entry, error, blocked, only_professional=True)
        except (CredentialsUnavailable, CardError) as error:
            if step.sending:
                self.credentials.invalidate(entry.mode)
            return self._no_credentials(entry, error, blocked)
        except TransportErrors as error:
            return self._transient(entry, error, blocked)
        except HttpError as error:
            status = int(error.code.rsplit("-", 1)[-1]) if error.code[-3:].isdigit() else 0
            if status in TRANSIENT_HTTP:
                return self._transient(entry, error, blocked)
            return self._failed(entry, error.code, error.user_message, answered=False)
        except RemoteError as error:
            if (error.subcode or error.dmp_code) in self.policy.transient_codes:
                return self._transient(entry, error, blocked)
            # A refusal of the document itself is an answer: it did not enter the DMP. A refusal of
            # the status check or of the uniqueId lookup says nothing about an earlier attempt.
            return self._failed(entry, error.code, error.user_message, answered=step.sending)
        except StoreError as error:
            if error.code == "FILE-CONTENU":
                return self._failed(entry, error.code, error.user_message, answered=False)
            raise  # the base itself is failing: the entry stays "sending" → uncertain at recovery
        except (DmpClientError, InsError) as error:
            return self._failed(entry, error.code, error.user_message, answered=False)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                return self._transient(entry, DiskFull(), blocked)
            log.error("queue entry %s: %s", entry.id, type(error).__name__)
            return self._failed(
                entry, "FILE-ERREUR-SYSTEME", "Erreur du système pendant l'envoi.", answered=False
            )
        except Exception as error:  # a bug must not loop or lose the entry
            # The type and file:line frames only: a message or locals could carry patient data.
            log.error("queue entry %s: unexpected %s", entry.id, traceback_frames(error))
            message = "Erreur interne du logiciel pendant l'envoi."
            return self._failed(entry, "FILE-ERREUR-INTERNE", message, answered=False)

    def _send(self, entry: Entry, client: DmpClient, step: Step) -> str:
        request = entry.request
        if entry.uncertain:
            reference = client.document_reference(request.ins, entry.unique_id)
            if reference is not None:
                self.queue.mark_sent(entry.id, reference, "FILE-DEJA-RECU")
                self.queue.wake(entry.mode)
                return "confirmed"
            self.queue.clear_uncertain(entry.id)  # the host answered: it does not hold it
        client.checked_status(request.ins, feeding=True)
        replaces = client.document_by_unique_id(request.ins, request.replaces) if request.replaces else None
        with EncryptedContent(self.queue, entry.id) as content:
            self.queue.mark_uncertain(entry.id)
            step.sending = True
            try:
                sent = client.send(request.ins, request.new_document(content), replaces=replaces)
            except RemoteError as error:
                if (error.subcode or error.dmp_code) == ALREADY_THERE:
                    # Same uniqueId and same bytes: the host already holds this very document.
                    self.queue.mark_sent(entry.id, None, "FILE-DEJA-RECU")
                    self.queue.wake(entry.mode)
                    return "confirmed"
                raise
        if sent.warnings:  # accepted, with Warning-severity RegistryErrors: kept on the entry, said
            said = " ; ".join(w.said() for w in sent.warnings)
            self.queue.mark_sent(entry.id, sent.entry_id, SENT_WITH_WARNINGS, said[:MAX_WARNINGS_TEXT])
        else:
            self.queue.mark_sent(entry.id, sent.entry_id)
        self.queue.wake(entry.mode)
        return "sent"

    # -- outcomes -------------------------------------------------------------------------------

    def _transient(self, entry: Entry, error: DmpClientError, blocked: Blocked) -> str:
        due = self.queue.clock() + self.policy.delay(entry.attempts, self.rng)
        self.queue.mark_waiting(entry.id, error.code, error.user_message, due)
        self.queue.defer_mode(entry.mode, due, error.code, error.user_message)
        blocked.modes.add(entry.mode)
        return "waiting"

    def _no_credentials(
        self, entry: Entry, error: DmpClientError, blocked: Blocked, *, only_professional: bool = False
    ) -> str:
        never_again = isinstance(error, PinIncorrect | PinLocked | PinCancelled | PinFormat)
        reason = error.user_message
        if not never_again and not only_professional:
            reason = f"{CredentialsUnavailable.user_message} ({error.user_message})"
        due = self.queue.clock() + self.policy.credentials_retry  # not a busy loop while the card is out
        self.queue.mark_waiting(entry.id, error.code, reason, due, attempt_counted=False)
        if only_professional and entry.professional:
            self.queue.defer_professional(entry.professional, due, error.code, reason)
            blocked.professionals.add(entry.professional)
        else:
            self.queue.defer_mode(entry.mode, due, error.code, reason)  # every entry of the mode says why
            blocked.modes.add(entry.mode)
        return "waiting"

    def _identity_waits(self, entry: Entry, error: IdentityNotQualified) -> str:
        """Never sent, never lost: the entry waits, saying why, until the identity is qualifiée."""
        due = self.queue.clock() + self.policy.credentials_retry
        self.queue.mark_waiting(entry.id, error.code, error.user_message, due, attempt_counted=False)
        return "waiting"

    def _failed(self, entry: Entry, code: str, reason: str, *, answered: bool) -> str:
        """Waits for a person. ``answered``: the host refused the document itself, so it is known not
        to hold it; otherwise the entry keeps its uncertainty (a retry asks the host first)."""
        self.queue.mark_failed(entry.id, code, reason)
        if answered:
            self.queue.clear_uncertain(entry.id)
        return "failed"


@dataclass
class Blocked:
    """What this pass stops trying: a mode (host down, no card), or one professional's entries (another
    professional's card is in the reader)."""

    modes: set[SendMode] = field(default_factory=set)
    professionals: set[str] = field(default_factory=set)


@dataclass
class Step:
    sending: bool = False  # the document has started to leave


class WrongCard(CredentialsUnavailable):
    code = "FILE-AUTRE-CARTE"
    user_message = (
        "Ce document doit être envoyé avec la carte du professionnel qui l'a confié : la carte insérée "
        "est celle d'un autre professionnel."
    )


class EncryptedContent:
    """The queued bytes, read back from the base into an encrypted spool (never a plaintext file)."""

    def __init__(self, queue: UploadQueue, entry_id: int) -> None:
        self.queue = queue
        self.entry_id = entry_id
        from app.dmp_client.spool import EncryptedSpool  # cryptography, with the first drain

        self.spool = EncryptedSpool()

    def __enter__(self) -> BinaryIO:
        try:
            self.queue.copy_content(self.entry_id, cast(BinaryIO, self.spool))
        except BaseException:
            self.spool.close()
            raise
        self.spool.seek(0)
        return cast(BinaryIO, self.spool)

    def __exit__(self, *exc: object) -> None:
        self.spool.close()
