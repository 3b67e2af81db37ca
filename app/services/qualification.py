"""The identity qualification flows (issue 17 item 4), in the service layer: the command line
(``dmp insi …``, ``dmp identite …``) and the GUI call these; the rules of the statuses stay in
:mod:`app.services.identity` (IdentityLifecycle), the INSi exchanges in
:mod:`app.dmp_client.insi_client` (InsiClient). No Qt here; every call may block (network, card):
the GUI calls them off its thread.

API
---
Opening INSi for the session's mode (:func:`open_insi`, :func:`insi_access`):

- ``open_insi(settings, session=None, access=None) -> InsiClient``: the INSi address and CNDA
  number from the settings (``DMP_INSI_URL``, ``DMP_INSI_IDAM``, ``DMP_INSI_DELAI_S``), the software's
  name and version, the installation's ``Instance`` UUID (kept beside the local store). The TLS
  credential is ``access`` when given (tests: card-shaped software keys), else
  ``insi_access(settings, session)``: a card session (``AuthMode.DIRECT`` with its card) goes with
  the CPS card (a new card TLS transport over the same card session, made by the factory), the
  ``Emetteur`` being the professional's national identifier; anything else (a structure session, no
  session) with the structure's ORG AUTH_CLI certificate, the ``Emetteur`` being the structure's
  identifier (FINESS) [UNSURE: whether INSi allows the structure certificate for a given use].
  The caller closes the client. ``card_access(settings, card, national_id)``: the same for a
  logged-in card alone (the command line: INSi needs no DMP connection).

The flows, on :class:`Qualification` (``Qualification(lifecycle, client, by)``; ``by``: who acts,
written in the identity's history and the journal):

- (a) :meth:`Qualification.from_vitale` ``(card: VitaleRead, rank) -> InsiOutcome``: the INSi search
  with the Vitale card for the chosen beneficiary (a read older than 20 minutes is refused,
  ``INSI-VITALE-PERIMEE``; an answer for another person, ``INSI-AUTRE-PERSONNE``); on CR 00 the
  identity is recorded (``record_insi``) with the INS and the strict traits INSi returned: récupérée
  (qualifiée when a document had been checked for these traits). :func:`read_vitale` reads the
  sandbox's virtual card (training mode only; a real card is read by the EHR).
- (b) :meth:`Qualification.from_handoff` ``(ins, traits, claimed) -> InsiOutcome``: an INS handed
  over by the EHR with the status it claims is verified by INSi before use. Confirmed: recorded
  (récupérée, or qualifiée when a document was checked *on this workstation*). Decision: an EHR's
  claimed "qualifiée" or "validée" is not a document check done here (it names neither the
  document nor who checked it): the identity is récupérée here and the outcome says so
  (``warnings``) [UNSURE: an EHR and this client in one structure may share one identity
  repository under the RNIV; configurable later]. The INS held being an old one (INSHISTO): the
  old one steps back with the reason and the active one is recorded (``replaced``). Another INS or
  other traits: refused, the identity steps back with the reason (``refused``). 01/02: nothing
  recorded, the next step said.
- (c) :meth:`Qualification.from_traits` ``(traits) -> InsiOutcome``: a manual entry (provisoire: an
  identity without an INS is never recorded, there is no key to record it under) searched by
  traits with the prescribed steps (01: other criteria; 02: the other birth first names, then the
  birthplace code, done by itself as far as the traits typed allow); on 00, recorded with the
  INSi traits (récupérée); the traits INSi completed or corrected are named in ``warnings``.
- (d) :func:`check_document` ``(lifecycle, ins, document, checked_by, traits=None) ->
  IdentityView``: the identity document checked (CNI, passeport, titre de séjour, livret de
  famille / acte de naissance for a minor) and who checked it: validée, or qualifiée after INSi.
  The identity must be known here (an INSi answer recorded) unless ``traits`` are given.
- :func:`identity_view` ``(lifecycle, ins) -> IdentityView``: the status, the strict traits kept,
  the INS history (INSHISTO) of the last INSi answer, the lifecycle's events.

Results are typed (:class:`InsiOutcome`, :class:`IdentityView`, :class:`StrictTraits`); their reprs
show no identity. Refusals are project errors with French messages (``INSI-*``, ``IDENTITE-*``,
``VITALE-*``; docs/errors.md). Nothing here logs a trait or an INS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import httpx

from app.card.patient_sources import Beneficiary
from app.config.settings import Settings
from app.dmp_client.core import insi
from app.dmp_client.core.context import AuthMode
from app.dmp_client.insi_client import InsiClient, installation_instance
from app.errors import IdentityUnknownHere, VitaleBeneficiaryUnknown
from app.ins import IdentityTraits, Ins, InsError, Nir
from app.services.identity import (
    DocumentCheck,
    DocumentType,
    IdentityLifecycle,
    IdentityStatus,
    InsiAnswer,
    StoredIdentity,
)
from app.store.identities import IdentityEvent

if TYPE_CHECKING:
    from app.card.session import CardSession
    from app.services.session import DmpSession

__all__ = [
    "DocumentType",
    "IdentityView",
    "InsiAccess",
    "InsiOutcome",
    "Outcome",
    "Qualification",
    "StrictTraits",
    "VitaleRead",
    "card_access",
    "check_document",
    "identity_view",
    "insi_access",
    "open_insi",
    "parse_claimed_status",
    "read_vitale",
    "vitale_beneficiary",
]


# ---------------------------------------------------------------------------------------------------
# Opening INSi for the session's mode


@dataclass(frozen=True)
class InsiAccess:
    """How this workstation reaches INSi: the mutual-TLS credential (an ``ssl.SSLContext`` for a
    certificate file, or the card's TLS transport) and the ``Emetteur`` of the request headers."""

    tls: ssl.SSLContext | httpx.BaseTransport = field(repr=False)
    emitter: str
    mode: AuthMode


def insi_access(settings: Settings, session: DmpSession | None = None) -> InsiAccess:
    """The credential of ``session``'s mode: the CPS card of a card session, else the structure's
    certificate (no session: the structure's)."""
    from app.dmp_client import factory  # deferred: the card and TLS stacks

    connection = session.connection if session is not None else None
    if session is not None and connection is not None and connection.mode is AuthMode.DIRECT:
        card = session.card
        if card is not None:
            return card_access(settings, card, connection.actor_id)
    context, structure_id = factory.insi_structure_tls(settings)
    return InsiAccess(context, structure_id, AuthMode.INDIRECT)


def card_access(settings: Settings, card: CardSession, national_id: str) -> InsiAccess:
    """INSi with a logged-in CPS card (no DMP connection needed): a card TLS transport of its own,
    the ``Emetteur`` being the card holder's national identifier."""
    from app.dmp_client import factory  # deferred: the card and TLS stacks

    return InsiAccess(factory.insi_card_transport(settings, card), national_id, AuthMode.DIRECT)


def open_insi(
    settings: Settings, session: DmpSession | None = None, access: InsiAccess | None = None
) -> InsiClient:
    """An INSi client from the settings for the session's mode (see the module's docstring)."""
    settings.insi.check()  # INSI-NON-CONFIGURE before any card or key is touched
    access = access or insi_access(settings, session)
    instance = installation_instance(settings.store.folder)
    lps = (settings.software.name, settings.software.version, instance)
    return InsiClient.open(
        settings.insi,
        access.tls,
        settings.trust_files,
        lps,
        access.emitter,
        proxy=settings.proxy,
        connect_timeout=settings.timeouts.connect,
    )


# ---------------------------------------------------------------------------------------------------
# What is shown: the strict traits, the INS history


@dataclass(frozen=True)
class HistoryEntry:
    """One INSHISTO entry: an earlier INS of the person, with its validity dates when INSi gave them."""

    ins: Ins = field(repr=False)
    start: str | None = field(default=None, repr=False)  # AAAA-MM-JJ
    end: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StrictTraits:
    """The strict traits to show (INSi's TIQ when INSi answered, verbatim), the INS matricule and OID,
    the INS history, and the used name and first name beside them (never compared, never sent)."""

    birth_name: str = field(repr=False)
    first_name: str = field(repr=False)  # the first birth first name
    first_names: str = field(repr=False)  # the birth first names, space-separated
    birth_date: str = field(repr=False)  # AAAA-MM-JJ, 00 for an unknown month or day
    sex: str = field(repr=False)
    birth_place: str | None = field(repr=False)  # INSEE code (COG)
    matricule: str = field(repr=False)
    oid: str = field(repr=False)
    history: tuple[HistoryEntry, ...] = field(default=(), repr=False)
    used_name: str | None = field(default=None, repr=False)
    used_first_name: str | None = field(default=None, repr=False)
    from_insi: bool = True  # False: the traits recorded here (typed or received), not an INSi answer

    @classmethod
    def of_insi(
        cls, identity: insi.InsiIdentity, used_name: str | None = None, used_first_name: str | None = None
    ) -> StrictTraits:
        tiq = identity.strict
        return cls(
            tiq.birth_name,
            tiq.first_name,
            tiq.first_names,
            tiq.birth_date,
            tiq.sex,
            tiq.birth_place,
            identity.ins.matricule.value,
            identity.ins.oid.value,
            tuple(
                HistoryEntry(
                    h.ins,
                    h.start.isoformat() if h.start else None,
                    h.end.isoformat() if h.end else None,
                )
                for h in identity.history
            ),
            used_name,
            used_first_name,
        )

    @classmethod
    def of_stored(cls, stored: StoredIdentity, history: tuple[HistoryEntry, ...] = ()) -> StrictTraits:
        t = stored.traits
        return cls(
            t.birth_name,
            t.first_name,
            " ".join(t.first_names),
            insi.lunar_date(t.birth_date),
            str(t.sex),
            t.birth_place,
            stored.ins.matricule.value,
            stored.ins.oid.value,
            history,
            from_insi=stored.insi is not None,
        )


class Outcome(StrEnum):
    """What a flow came to."""

    FOUND = "trouvée"  # INSi gave one identity, recorded here
    CONFIRMED = "confirmée"  # the INS handed over is confirmed by INSi, recorded here
    REPLACED = "remplacée"  # the INS handed over is an old one: the active one is recorded
    REFUSED = "refusée"  # INSi contradicts the INS or traits handed over: not to be used
    NOT_FOUND = "aucune identité"  # 01
    SEVERAL = "plusieurs identités"  # 02


@dataclass(frozen=True)
class InsiOutcome:
    """One flow's result. ``ins`` is the INS to use from now on (None when INSi gave none or
    contradicted it); ``status`` the identity's status here afterwards (provisoire when nothing is
    recorded); ``message`` says in French what happened and what to do next; ``next_step`` is INSi's
    prescribed next step after a 01/02; ``warnings``: inconsistencies, traits INSi completed, a
    claimed status not taken over. ``differences``: the traits that differ (names, never values)."""

    outcome: Outcome
    status: IdentityStatus
    message: str
    ins: Ins | None = field(default=None, repr=False)
    strict: StrictTraits | None = field(default=None, repr=False)
    stored: StoredIdentity | None = field(default=None, repr=False)
    next_step: str | None = None
    warnings: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    result: insi.InsiResult | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        """Whether the identity may index health data (qualifiée)."""
        return self.ins is not None and self.status is IdentityStatus.QUALIFIEE


@dataclass(frozen=True)
class IdentityView:
    """An identity as this workstation knows it (``dmp identite statut``, the patient panel)."""

    status: IdentityStatus
    known: bool  # False: never recorded here (provisoire by definition)
    strict: StrictTraits | None = field(default=None, repr=False)
    stored: StoredIdentity | None = field(default=None, repr=False)
    events: tuple[IdentityEvent, ...] = field(default=(), repr=False)
    document: str | None = field(default=None, repr=False)  # the document checked, by whom, when
    reason: str | None = field(default=None, repr=False)  # the reason of the last step back

    @property
    def missing(self) -> str | None:
        """What is left to do to qualify it (French), None when qualifiée."""
        return {
            IdentityStatus.PROVISOIRE: "interroger le téléservice INSi et vérifier une pièce d'identité",
            IdentityStatus.RECUPEREE: "vérifier une pièce d'identité du patient",
            IdentityStatus.VALIDEE: "interroger le téléservice INSi",
        }.get(self.status)


# ---------------------------------------------------------------------------------------------------
# The Vitale card (sandbox only)


@dataclass(frozen=True)
class VitaleRead:
    """One read of a Vitale card: its beneficiaries, when it was read (an INSi search with it is
    refused after 20 minutes) and the holder's NIR (the "ouvrant droit", for a beneficiary without
    his own NIR on the card) when the card gives it."""

    beneficiaries: tuple[Beneficiary, ...]
    read_at: dt.datetime
    holder: Nir | None = field(default=None, repr=False)

    def beneficiary(self, rank: int | None = None) -> Beneficiary:
        """The chosen beneficiary (by rank; the only one when the card has one)."""
        if rank is None:
            if len(self.beneficiaries) == 1:
                return self.beneficiaries[0]
            ranks = ", ".join(str(b.rank) for b in self.beneficiaries)
            raise VitaleBeneficiaryUnknown(
                f"La carte Vitale porte plusieurs bénéficiaires (rangs {ranks}) : choisissez-en un."
            )
        chosen = next((b for b in self.beneficiaries if b.rank == rank), None)
        if chosen is None:
            raise VitaleBeneficiaryUnknown(f"La carte Vitale n'a pas de bénéficiaire de rang {rank}.")
        return chosen


def read_vitale(
    settings: Settings, reader: str | None = None, clock: Callable[[], dt.datetime] | None = None
) -> VitaleRead:
    """The sandbox's virtual Vitale card (training mode only: ``VITALE-LOGICIEL-METIER`` elsewhere)."""
    from app.services.training import vitale_card

    source = vitale_card(settings.is_sandbox, reader)
    beneficiaries = tuple(source.beneficiaries())
    holder_of = getattr(source, "holder", None)  # the sandbox card's header (ouvrant droit)
    holder = holder_of() if callable(holder_of) else None
    now = clock() if clock is not None else dt.datetime.now(dt.UTC)
    return VitaleRead(beneficiaries, now, holder if isinstance(holder, Nir) else None)


_CARD_DATE = re.compile(r"\d{6}")


def _card_date(card: str, today: dt.date) -> str:
    """The card's AAMMJJ as a DateLunaire AAAA-MM-JJ: the century is the latest that does not put the
    birth after this year [UNSURE: a centenarian born in a year ending like this one's or later is
    read a century late; the real Vitale assertion carries its own date]. 00 kept."""
    if not _CARD_DATE.fullmatch(card):
        raise VitaleBeneficiaryUnknown("Date de naissance de la carte Vitale illisible.")
    yy = int(card[:2])
    century = today.year // 100 * 100
    year = century + yy if century + yy <= today.year else century - 100 + yy
    return f"{year:04d}-{card[2:4]}-{card[4:6]}"


def vitale_beneficiary(card: VitaleRead, chosen: Beneficiary) -> insi.VitaleBeneficiary:
    """SANDBOX ONLY: the stand-in of the Vitale assertion for the chosen beneficiary."""
    return insi.VitaleBeneficiary(
        card.read_at,
        chosen.rank,
        _card_date(chosen.birth_date, card.read_at.date()),
        birth_name=chosen.surname or None,
        holder=card.holder,
        own=chosen.own_nir,
    )


# ---------------------------------------------------------------------------------------------------
# The flows


_CLAIMS = {
    "provisoire": IdentityStatus.PROVISOIRE,
    "recuperee": IdentityStatus.RECUPEREE,
    "validee": IdentityStatus.VALIDEE,
    "qualifiee": IdentityStatus.QUALIFIEE,
}


def parse_claimed_status(text: str | None) -> IdentityStatus | None:
    """The status an EHR claims (``statut_ins``), accents optional; None when not given or unknown."""
    if not text:
        return None
    plain = text.strip().lower().replace("é", "e").replace("è", "e")
    return _CLAIMS.get(plain)


def _answer(result: insi.InsiResult, operation: str, at: dt.datetime) -> InsiAnswer:
    """The lifecycle's record of a CR 00: the INS and traits returned, a reference (the operation,
    the compte rendu and the time: InsiClient does not surface the request's MessageID) and the
    INS history (INSHISTO, kept with the proof)."""
    identity = result.identity
    assert identity is not None  # CR 00 only
    reference = f"INSi {operation} CR {result.report.value} {at.isoformat(timespec='seconds')}"
    history = tuple(h.ins for h in identity.history)
    return InsiAnswer(identity.ins, identity.traits, reference, at, history)


class Qualification:
    """The flows (a)–(c) over one INSi client; ``by`` is who acts (the professional, the
    secretariat). ``clock`` dates the answers recorded."""

    def __init__(
        self,
        lifecycle: IdentityLifecycle,
        client: InsiClient,
        by: str,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.lifecycle = lifecycle
        self.client = client
        self.by = by
        self.clock = clock

    # (a) ---------------------------------------------------------------------------------------

    def from_vitale(self, card: VitaleRead, rank: int | None = None) -> InsiOutcome:
        chosen = card.beneficiary(rank)
        beneficiary = vitale_beneficiary(card, chosen)
        beneficiary.check_fresh(self.clock())
        result = self.client.search_with_vitale(beneficiary)
        if result.identity is None:
            return self._nothing(result, "La recherche INSi avec la carte Vitale n'a pas abouti.")
        return self._found(result, "carte Vitale")

    # (b) ---------------------------------------------------------------------------------------

    def from_handoff(self, ins: Ins, traits: IdentityTraits, claimed: IdentityStatus | None) -> InsiOutcome:
        verified = self.client.verify(ins, traits)
        result = verified.result
        outcome = verified.outcome
        if outcome in (insi.Verification.NOT_FOUND, insi.Verification.SEVERAL):
            return self._nothing(
                result,
                "INSi ne confirme pas l'INS transmis par le logiciel métier : il ne peut pas être utilisé.",
                self.lifecycle.status(ins),
            )
        answer = _answer(result, "vérification", self.clock())
        strict = StrictTraits.of_insi(result.identity) if result.identity else None
        if outcome is insi.Verification.MISMATCH:
            stored = self.lifecycle.record_insi(ins, traits, answer, self.by)
            what = (
                "d'autres traits (" + ", ".join(verified.differences) + ") que ceux"
                if answer.ins == ins
                else "un autre INS que celui"
            )
            return InsiOutcome(
                Outcome.REFUSED,
                stored.status,
                f"Identité refusée : INSi renvoie {what} transmis par le logiciel métier. "
                "Vérifiez l'identité du patient avec lui et corrigez-la dans le logiciel métier.",
                None,
                strict,
                stored,
                differences=verified.differences,
                result=result,
            )
        warnings = list(self._inconsistencies(result))
        if outcome is insi.Verification.REPLACED:
            self.lifecycle.record_insi(ins, traits, answer, self.by)  # the old INS steps back
            stored = self.lifecycle.record_insi(answer.ins, answer.traits, answer, self.by)
            message = (
                "L'INS transmis est un ancien INS du patient (historique INSi) : l'INS actif le "
                "remplace. Mettez à jour le logiciel métier."
            )
            kind = Outcome.REPLACED
            if verified.differences:
                warnings.append(
                    "Les traits d'INSi diffèrent de ceux transmis ("
                    + ", ".join(verified.differences)
                    + ") : ce sont ceux d'INSi qui sont enregistrés ; vérifiez-les avec le patient."
                )
        else:
            stored = self.lifecycle.record_insi(ins, traits, answer, self.by)
            message = "INS confirmé par le téléservice INSi."
            kind = Outcome.CONFIRMED
        if claimed in (IdentityStatus.QUALIFIEE, IdentityStatus.VALIDEE) and stored.document is None:
            warnings.append(
                f"Le logiciel métier indique une identité « {claimed.value} » : aucune pièce d'identité "
                "n'ayant été vérifiée sur ce poste, elle est « récupérée » ici. Vérifiez une pièce "
                "d'identité du patient pour la qualifier."
            )
        return InsiOutcome(
            kind,
            stored.status,
            f"{message} Statut de l'identité : {stored.status.value}.",
            stored.ins,
            strict,
            stored,
            warnings=tuple(warnings),
            differences=verified.differences,
            result=result,
        )

    # (c) ---------------------------------------------------------------------------------------

    def from_traits(self, traits: IdentityTraits) -> InsiOutcome:
        result, _search = self.client.search_guided(traits)
        if result.identity is None:
            return self._nothing(result, "Identité provisoire : INSi n'a pas rendu une identité unique.")
        outcome = self._found(result, "traits")
        completed = tuple(t.value for t in traits.differences(result.identity.traits))
        if not completed:
            return outcome
        note = (
            "INSi a rendu des traits qui diffèrent de ceux saisis ("
            + ", ".join(completed)
            + ") : ce sont les siens qui font foi ; vérifiez-les avec le patient."
        )
        return dataclasses.replace(outcome, warnings=(*outcome.warnings, note), differences=completed)

    # internals ---------------------------------------------------------------------------------

    def _found(self, result: insi.InsiResult, operation: str) -> InsiOutcome:
        identity = result.identity
        assert identity is not None
        answer = _answer(result, operation, self.clock())
        stored = self.lifecycle.record_insi(answer.ins, answer.traits, answer, self.by)
        status = stored.status
        message = f"Identité trouvée par le téléservice INSi. Statut de l'identité : {status.value}."
        if status is IdentityStatus.RECUPEREE:
            message += " Il reste à vérifier une pièce d'identité du patient pour la qualifier."
        return InsiOutcome(
            Outcome.FOUND,
            status,
            message,
            stored.ins,
            StrictTraits.of_insi(identity),
            stored,
            warnings=self._inconsistencies(result),
            result=result,
        )

    def _nothing(
        self, result: insi.InsiResult, message: str, status: IdentityStatus = IdentityStatus.PROVISOIRE
    ) -> InsiOutcome:
        step = result.next_step
        kind = Outcome.SEVERAL if result.report is insi.Report.SEVERAL else Outcome.NOT_FOUND
        text = f"{message} {step.value}" if step is not None else message
        return InsiOutcome(kind, status, text, next_step=step.value if step else None, result=result)

    @staticmethod
    def _inconsistencies(result: insi.InsiResult) -> tuple[str, ...]:
        if result.identity is None or not result.identity.inconsistencies:
            return ()
        return (
            "Traits INSi incohérents avec le matricule ("
            + ", ".join(result.identity.inconsistencies)
            + ") : vérifiez-les avec le patient.",
        )


# ---------------------------------------------------------------------------------------------------
# (d) the document check, and the identity as known here


def _history_of(stored: StoredIdentity | None) -> tuple[HistoryEntry, ...]:
    proof = stored.insi if stored is not None else None
    entries = proof.get("historique", []) if proof else []
    out = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            out.append(HistoryEntry(Ins.parse(str(entry[0]), str(entry[1]))))
        except (IndexError, TypeError, KeyError, InsError):
            continue  # a history row that no longer parses is not shown (the base keeps it)
    return tuple(out)


def identity_view(lifecycle: IdentityLifecycle, ins: Ins) -> IdentityView:
    stored = lifecycle.get(ins)
    if stored is None:
        return IdentityView(IdentityStatus.PROVISOIRE, False)
    document = None
    if stored.document:
        d = stored.document
        document = f"{d.get('piece', '?')}, vérifiée par {d.get('par', '?')} le {d.get('le', '?')}"
    return IdentityView(
        stored.status,
        True,
        StrictTraits.of_stored(stored, _history_of(stored)),
        stored,
        tuple(lifecycle.history(ins)),
        document,
        stored.reason,
    )


def check_document(
    lifecycle: IdentityLifecycle,
    ins: Ins,
    document: DocumentType,
    checked_by: str,
    traits: IdentityTraits | None = None,
    at: dt.datetime | None = None,
) -> IdentityView:
    """The identity document checked against the patient: validée, or qualifiée after INSi. The
    traits are the ones recorded here (INSi's) unless given; given traits that differ from the
    recorded ones reset the identity first (both proofs concerned the old traits)."""
    stored = lifecycle.get(ins)
    if traits is None:
        if stored is None:
            raise IdentityUnknownHere()
        traits = stored.traits
    when = at or dt.datetime.now(dt.UTC)
    lifecycle.check_document(ins, traits, DocumentCheck(document, checked_by, when))
    return identity_view(lifecycle, ins)
