"""What every DMP transaction of the facade shares: the session (who, how, from which software), the
exchange (VIHF, envelope, transport, response checks) and TD0.2 / TD1.3a / TD0.3."""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from cryptography.hazmat.primitives import hashes
from lxml import etree

from app.dmp_client.core import rights
from app.dmp_client.core.cda import Author
from app.dmp_client.core.context import AccessContext, Actor, AirAuthn, AuthMode, Purpose, Software
from app.dmp_client.core.habilitations import (
    ACTION_SET_AUTHORIZATION,
    ACTION_SET_AUTHORIZATION_RESPONSE,
    AuthorizationAction,
    AuthorizationResult,
    build_set_authorization,
    parse_set_authorization_response,
)
from app.dmp_client.core.hl7v3 import (
    ACTION_GET_DEMOGRAPHICS,
    ACTION_GET_DEMOGRAPHICS_RESPONSE,
    DmpStatus,
    Reason,
    build_get_demographics,
    parse_get_demographics_response,
)
from app.dmp_client.core.signing import Signer
from app.dmp_client.core.soap import SoapRequest, SoapResponse, build_envelope, parse_envelope
from app.dmp_client.core.valuesets import Concept
from app.dmp_client.transport import RawResponse, Transport
from app.errors import DmpClientError
from app.ins import Ins, InsError


@dataclass(frozen=True)
class Session:
    actor: Actor
    mode: AuthMode
    software: Software
    sender_oid: str
    purpose: Purpose = Purpose.NORMAL
    author: Author | None = None  # who documents sent in this session are by
    air: AirAuthn | None = None  # AIR sessions: the VIHF's authentication context and validity
    air_transactions: tuple[str, ...] = rights.AIR_DEFAULT  # DMP_AIR_TRANSACTIONS [UNSURE]


@dataclass(frozen=True)
class JournalEvent:
    """One DMP transaction as the local journal records it: never any document content."""

    transaction: str  # TD0.2, TD2.1, TD3.1…
    patient: Ins | None
    actor_id: str
    structure_id: str
    mode: AuthMode
    purpose: Purpose
    result: str  # "OK" or the error's stable code
    duration: float


class Journal(Protocol):
    def record(self, event: JournalEvent) -> None: ...


log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound="ClientBase")


def journaled(
    transaction: str,
) -> Callable[[Callable[Concatenate[C, P], R]], Callable[Concatenate[C, P], R]]:
    """Record the call in the session's journal (if any): who, which transaction, which patient
    (the first argument), the outcome."""

    def wrap(method: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
        @functools.wraps(method)
        def run(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
            # rights before sending (app/dmp_client/core/rights.py): refused, nothing is sent
            rights.check_transaction(self.session.mode, transaction, self.session.air_transactions)
            if self.journal is None:
                return method(self, *args, **kwargs)
            patient = _patient_of(args, kwargs)
            start = time.monotonic()
            result = "OK"
            try:
                return method(self, *args, **kwargs)
            except (DmpClientError, InsError) as error:
                result = error.code
                raise
            except BaseException:
                result = "INTERROMPU"
                raise
            finally:
                self._journal_event(transaction, patient, result, time.monotonic() - start)

        return run

    return wrap


def _patient_of(args: tuple[object, ...], kwargs: dict[str, object]) -> Ins | None:
    """The patient a transaction is about: an ``Ins`` argument, or the ``ins`` of a DmpPatient."""
    first = args[0] if args else kwargs.get("ins", kwargs.get("patient"))
    if isinstance(first, Ins):
        return first
    ins = getattr(first, "ins", None)
    return ins if isinstance(ins, Ins) else None


class SendCancelled(Exception):
    """A request of a stopped listing that was still waiting for a wire slot: never sent."""


class WireSlots:
    """At most ``width`` requests on the wire at once, shared by the threads of one listing
    (``DocumentTransactions.iter_batches``): each thread builds and signs its request before taking
    a slot and reads the answer's XML after giving it back, so a slot is busy only while its
    request is on the wire. Once ``stop`` is set a request still waiting for a slot is not sent."""

    def __init__(self, width: int, stop: threading.Event | None = None) -> None:
        self._free = threading.Semaphore(width)
        self._stop = stop

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._free:
            if self._stop is not None and self._stop.is_set():
                raise SendCancelled()
            yield


_wire = threading.local()  # ``slots``: the WireSlots of the listing this thread works for, if any


# The sandbox's repository (the real host returns its own in every DocumentEntry).
DEFAULT_REPOSITORY_ID = "1.2.250.1.213.4.1.1.1.2"
DEFAULT_CONTENT_TYPE = Concept("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")  # [UNSURE] JDV_J59


class ClientBase:
    def __init__(
        self,
        transport: Transport,
        signer: Signer,
        session: Session,
        *,
        content_type: Concept = DEFAULT_CONTENT_TYPE,
        repository_id: str = DEFAULT_REPOSITORY_ID,
    ) -> None:
        self.transport = transport
        self.signer = signer
        self.session = session
        self.content_type = content_type
        self.repository_id = repository_id
        self._status_cache: dict[str, tuple[float, DmpStatus]] = {}  # TD0.2 per patient (documents)
        self.journal: Journal | None = None
        self.on_journal_failure: Callable[[Exception], None] | None = None  # e.g. warn the user
        # [UNSURE] VIHF reuse (see _vihf): off unless configured (DMP_VIHF_REUTILISATION_S).
        self.vihf_reuse_seconds = 0.0
        self._vihf_cache: dict[tuple[bytes, AccessContext], tuple[float, etree._Element]] = {}
        self._vihf_lock = threading.Lock()
        # Called before every exchange (AIR: the e-CPS session refreshed or PSC-SESSION-EXPIREE).
        self.before_exchange: Callable[[], None] | None = None

    def _journal_event(self, transaction: str, patient: Ins | None, result: str, duration: float) -> None:
        if self.journal is None:
            return
        s = self.session
        event = JournalEvent(
            transaction,
            patient,
            s.actor.national_id,
            s.actor.structure_id,
            s.mode,
            s.purpose,
            result,
            duration,
        )
        try:
            self.journal.record(event)
        except Exception as error:  # the journal must never change the outcome of a DMP transaction
            log.warning("journal entry not recorded (%s)", type(error).__name__)
            if self.on_journal_failure is not None:
                self.on_journal_failure(error)

    def _context(self, patient: Ins | None) -> AccessContext:
        s = self.session
        return AccessContext(s.actor, s.mode, s.purpose, patient, s.software, s.air)

    def _exchange(
        self,
        service: str,
        action: str,
        expected: str | tuple[str, ...],
        payload: etree._Element,
        patient: Ins | None,
        timeout: float,
        *,
        idempotent: bool,
    ) -> SoapResponse:
        response, raw = self._exchange_raw(
            service, action, expected, payload, patient, timeout, idempotent=idempotent
        )
        for part in raw.parts.values():
            part.file.close()
        return response

    def _exchange_raw(
        self,
        service: str,
        action: str,
        expected: str | tuple[str, ...],
        payload: etree._Element,
        patient: Ins | None,
        timeout: float,
        *,
        idempotent: bool,
    ) -> tuple[SoapResponse, RawResponse]:
        """Like :meth:`_exchange`, keeping the MTOM attachments (the caller closes their files)."""
        request = self._envelope(action, payload, patient, service)
        slots: WireSlots | None = getattr(_wire, "slots", None)
        with slots.held() if slots is not None else contextlib.nullcontext():
            raw = self.transport.post(service, request, timeout, idempotent=idempotent)
        expected_actions = (expected,) if isinstance(expected, str) else expected
        try:
            return self._read(raw, expected_actions, request.message_id), raw
        except BaseException:
            for part in raw.parts.values():
                part.file.close()
            raise

    def _envelope(
        self, action: str, payload: etree._Element, patient: Ins | None, service: str
    ) -> SoapRequest:
        """The signed envelope, its ``wsa:To`` the service's endpoint URL (WS-Addressing 1.0 Core §3.1)."""
        from app.dmp_client.core.vihf import build_signed_vihf  # deferred: signxml only at the first exchange

        if self.before_exchange is not None:
            self.before_exchange()
        vihf = self._vihf(build_signed_vihf, patient)
        to = f"{self.transport.endpoint.base_url.rstrip('/')}/{service}"
        return build_envelope(action, payload, vihf, to=to)

    def _vihf(
        self, build: Callable[[AccessContext, Signer], etree._Element], patient: Ins | None
    ) -> etree._Element:
        """A VIHF for this request. [UNSURE] No reference document says whether a signed VIHF may be
        reused across requests (the official examples carry no Conditions, so no validity window):
        by default one is built and signed per request (``vihf_reuse_seconds`` = 0,
        DMP_VIHF_REUTILISATION_S). When set, a signed assertion is reused for that many seconds for
        exactly the same context only: the same signer, professional, structure and sector (the
        card's situation), mode, purpose (mode d'accès), patient (resource-id INS) and software;
        any change builds a new one (identity vigilance: never another patient's or mode's VIHF)."""
        context = self._context(patient)
        if self.vihf_reuse_seconds <= 0 or context.mode is AuthMode.INDIRECT_REINFORCED:  # AIR: never reused
            return build(context, self.signer)
        key = (self.signer.certificate.fingerprint(hashes.SHA256()), context)
        now = time.monotonic()
        with self._vihf_lock:
            cached = self._vihf_cache.get(key)
            if cached is not None and now - cached[0] < self.vihf_reuse_seconds:
                return copy.deepcopy(cached[1])  # the envelope takes the element in: a copy each time
        signed = build(context, self.signer)
        with self._vihf_lock:
            for stale in [
                k for k, (at, _) in self._vihf_cache.items() if now - at >= self.vihf_reuse_seconds
            ]:
                del self._vihf_cache[stale]
            self._vihf_cache[key] = (now, copy.deepcopy(signed))
        return signed

    @staticmethod
    def _read(raw: RawResponse, expected: tuple[str, ...], message_id: str) -> SoapResponse:
        return parse_envelope(raw.body, expected, message_id)

    @journaled("TD0.2")
    def status(self, ins: Ins) -> DmpStatus:
        """TD0.2: does the DMP exist, is it open, am I authorised, am I the médecin traitant."""
        return self._demographics(ins, Reason.TEST_EXISTENCE)

    @journaled("TD1.3a")
    def admin_data(self, ins: Ins) -> DmpStatus:
        """TD1.3a: the DMP's administrative data (oppositions included)."""
        return self._demographics(ins, Reason.READ_ADMIN_DATA)

    def _demographics(self, ins: Ins, reason: Reason) -> DmpStatus:
        payload = build_get_demographics(ins, self.session.sender_oid, reason)
        response = self._exchange(
            "patients",
            ACTION_GET_DEMOGRAPHICS,
            ACTION_GET_DEMOGRAPHICS_RESPONSE,
            payload,
            ins,
            self.transport.timeouts.query,
            idempotent=True,
        )
        return parse_get_demographics_response(response.payload)

    @journaled("TD0.3")
    def set_authorization(self, ins: Ins, add: bool = True) -> AuthorizationResult:
        """TD0.3: add (or remove) my authorisation on the patient's DMP."""
        payload = build_set_authorization(AuthorizationAction.ADD if add else AuthorizationAction.REMOVE)
        response = self._exchange(
            "habilitations",
            ACTION_SET_AUTHORIZATION,
            ACTION_SET_AUTHORIZATION_RESPONSE,
            payload,
            ins,
            self.transport.timeouts.query,
            idempotent=False,
        )
        return parse_set_authorization_response(response.payload)

    def close(self) -> None:
        self.transport.close()
