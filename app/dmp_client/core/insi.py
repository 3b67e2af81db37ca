"""The INSi teleservice's messages: requests built, answers parsed, no I/O.

INSi (CNAM, GIE SESAM-Vitale) finds or checks a patient's INS. Its documentation is given to
homologated vendors only; everything here comes from the public WSDL ``DESIR_ICIR_EXP_1.5.0`` and its
XSDs (``resources/spec/insi/``, copied from the open-source repository ``padoa/tlsi-ins``, see its
SOURCES.md), that repository's example answers and request fixtures, and ins-and-cards.md §2.5.
What those sources leave open is marked [UNSURE] and can be changed by the caller.

Requests (SOAP 1.2, document/literal; WSDL ``ICIRServiceBinding``):
- ``rechercherInsAvecTraitsIdentite``: body ``insi_recsans:RECSANSVITALE{NomNaissance, Prenom*,
  Sexe, DateNaissance, LieuNaissance?}`` (INSi_RECSANS_INS.xsd);
- ``rechercherInsAvecCarteVitale``: body ``insi_recvit:RECVITALE{MatriculeIndividu?, MatriculeOD?,
  NomNaissance?, DateNaissance?, RangNaissance?}`` (INSi_RECVITALE_INS.xsd);
- headers (WSDL parts ``NO1_*``): ``ctxbam:ContexteBAM``, ``ctxlps:ContexteLPS``, ``wsa:Action``,
  ``wsa:MessageID`` and ``wsse:Security`` (the professional's signed assertion: a seam, see
  :func:`build_request`).

Verification of a known INS: RECSANSVITALE has no element for an INS (INSi_RECSANS_INS.xsd), so
the check is the same search by the traits, its answer compared here with the INS and traits held
(:func:`verify`) [UNSURE: the non-public documentation may name a dedicated operation].

Answer: ``insi_resultat:RESULTAT{CR{CodeCR, LibelleCR}, INDIVIDU?{INSACTIF, INSHISTO*, TIQ}}``
(INSi_RESULTAT_INS.xsd), CodeCR 00 one identity, 01 none, 02 several (ins-and-cards.md §2.5).
A fault is a SOAP 1.2 ``Fault`` whose detail may hold ``siram:Erreur`` (schema_faultSOAP_V01_01.xsd).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from lxml import etree

from app.dmp_client.core.errors import (
    HostileXml,
    InsiFault,
    InsiHostileXml,
    InsiMalformedResponse,
    InsiOtherPerson,
    InsiRequestInvalid,
    InsiUnknownReport,
    InsiVitaleObsolete,
    MalformedResponse,
)
from app.dmp_client.core.ns import DS, SAML2, SOAP11, SOAP12, WSA, WSSE, q
from app.dmp_client.core.signing import Signer
from app.dmp_client.core.soap import SoapRequest
from app.dmp_client.core.xml import parse_xml, serialize
from app.ins import BirthDate, IdentityTraits, Ins, InsError, Nir, Sex, parse_oid

# --- Namespaces: the targetNamespace of each XSD in resources/spec/insi/xsd/ (and the WSDL's xmlns) ---
NS_RECSANS = "http://www.cnamts.fr/INSiRecSans"  # INSi_RECSANS_INS.xsd
NS_RECVIT = "http://www.cnamts.fr/INSiRecVit"  # INSi_RECVITALE_INS.xsd
NS_RESULTAT = "http://www.cnamts.fr/INSiResultat"  # INSi_RESULTAT_INS.xsd
NS_CTXLPS = "urn:siram:lps:ctxlps"  # ROOT_ctxlps_CTXLPS_V01_00.xsd
NS_CTXBAM = "urn:siram:bam:ctxbam"  # ROOT_ctxbam_CTXBAM_V01_02.xsd
NS_SIRAM = "urn:siram"  # schema_faultSOAP_V01_01.xsd (siram:Erreur)

# --- Actions: DESIR_ICIR_EXP_1.5.0.wsdl, portType ICIRService, wsaw:Action of input/output ---
ACTION_SEARCH_TRAITS = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
ACTION_SEARCH_VITALE = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
RESPONSE_ACTIONS = {
    ACTION_SEARCH_TRAITS: ACTION_SEARCH_TRAITS + "Response",
    ACTION_SEARCH_VITALE: ACTION_SEARCH_VITALE + "Response",
}

# --- Header constants ---
# ContexteLPS@Nature: the XSD's only allowed value (pattern "CTXLPS"); @Version: the schema's version
# 01.00 written "01_00" as padoa/tlsi-ins src/class/lps-context.class.ts sends it [UNSURE: spelling].
CTXLPS_NATURE = "CTXLPS"
CTXLPS_VERSION = "01_00"
# ContexteBAM@Version "01_02" (tlsi-ins src/class/bam-context.class.ts; schema version 01.02). The
# XSD's Nature attribute is optional and tlsi-ins leaves it out; we send it (pattern "CTXBAM").
CTXBAM_NATURE = "CTXBAM"
CTXBAM_VERSION = "01_02"
# IDAM@R: tlsi-ins src/class/lps.class.ts always sends R="4"; its meaning is not public [UNSURE].
IDAM_R = "4"

# --- Bounds on an answer (an INSi answer is ~1-2 KB) ---
MAX_ANSWER_BYTES = 1024 * 1024
MAX_ANSWER_NODES = 20_000
MAX_HISTORY = 100  # INSHISTO entries kept; more is refused
MAX_TEXT = 200  # characters of any text field (a trait, a label, a code)

# A Vitale read is a key for the query that expires: "A Vitale assertion older than 20 minutes is
# obsolete" (issue 17, RNIV).
VITALE_MAX_AGE = timedelta(minutes=20)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MATRICULE = re.compile(r"\d{6}[A-Za-z0-9]\d{6}")  # INSi_RESULTAT_INS.xsd type NIR
_KEY = re.compile(r"\d{2}")  # INSi_RESULTAT_INS.xsd type CLE
_LUNAR_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # DateLunaire, INSi_RESULTAT_INS.xsd


# ---------------------------------------------------------------------------------------------------
# Who asks: the software (ContexteLPS) and the sender


@dataclass(frozen=True, slots=True)
class LpsIdentity:
    """The software as ContexteLPS/LPS names it (ins-and-cards.md §2.5, DmpConnect's public wrapper).

    ``idam``: the CNDA authorisation number; ``instance``: a UUID constant per installation;
    ``nom``: sent as ``urn:lps:<name>:<version>`` like tlsi-ins's request fixtures [UNSURE]."""

    idam: str
    version: str
    name: str
    instance: str
    idam_r: str = IDAM_R  # [UNSURE]

    def __post_init__(self) -> None:
        for label, value in (("IDAM", self.idam), ("version", self.version), ("nom", self.name)):
            if not value.strip() or len(value) > MAX_TEXT:
                raise InsiRequestInvalid(
                    f"Contexte du logiciel pour INSi invalide : {label} vide ou trop long."
                )
        if not _UUID.fullmatch(self.instance):
            raise InsiRequestInvalid(
                "Contexte du logiciel pour INSi invalide : l'instance doit être un UUID."
            )

    @property
    def nom(self) -> str:
        return f"urn:lps:{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class InsiContext:
    """What every request carries besides its body. ``emitter``: ContexteLPS/ContexteBAM ``Emetteur``
    (tlsi-ins sends the professional's identifier there) [UNSURE: which identifier INSi expects]."""

    lps: LpsIdentity
    emitter: str

    def __post_init__(self) -> None:
        if not self.emitter.strip() or len(self.emitter) > MAX_TEXT:
            raise InsiRequestInvalid("Contexte INSi invalide : émetteur vide ou trop long.")


# ---------------------------------------------------------------------------------------------------
# What is asked


@dataclass(frozen=True, slots=True)
class TraitsSearch:
    """A search by traits. ``first_names``: the birth first names sent, one ``Prenom`` element each
    (the XSD allows several) [UNSURE: whether INSi wants the list in one element]. ``birth_place``:
    sent only when set. Its repr shows no trait."""

    birth_name: str = field(repr=False)
    first_names: tuple[str, ...] = field(repr=False)
    sex: Sex = field(repr=False)
    birth_date: BirthDate = field(repr=False)
    birth_place: str | None = field(default=None, repr=False)

    @classmethod
    def first_step(cls, traits: IdentityTraits) -> TraitsSearch:
        """The first search: name, first birth first name, sex, birth date (ins-and-cards.md §2.5)."""
        return cls(traits.birth_name, (traits.first_name,), traits.sex, traits.birth_date)

    @classmethod
    def complete(cls, traits: IdentityTraits) -> TraitsSearch:
        """Every trait known: all the birth first names and the birthplace (used by verification)."""
        return cls(traits.birth_name, traits.first_names, traits.sex, traits.birth_date, traits.birth_place)

    def widened(self, traits: IdentityTraits) -> TraitsSearch | None:
        """The next search after a CR 02 (several identities): first add the other first names, then
        the birthplace code; None when nothing is left to add (issue 17, esante-bretagne.fr)."""
        if len(self.first_names) < len(traits.first_names):
            return TraitsSearch(
                self.birth_name, traits.first_names, self.sex, self.birth_date, self.birth_place
            )
        if self.birth_place is None and traits.birth_place is not None:
            return TraitsSearch(
                self.birth_name, self.first_names, self.sex, self.birth_date, traits.birth_place
            )
        return None


@dataclass(frozen=True, slots=True)
class VitaleBeneficiary:
    """SANDBOX ONLY: stands in for the SESAM-Vitale "Vitale assertion" of one chosen beneficiary.

    The real assertion is produced by the licensed SESAM-Vitale components from a real card and its
    format is not public; this client never reads a real Vitale card. In training, the sandbox's
    virtual Vitale card gives these fields, which fill RECVITALE (INSi_RECVITALE_INS.xsd) and the
    ContexteBAM's COUVERTURE/BENEFICIAIRE (ROOT_ctxbam_CTXBAM_V01_02.xsd) [UNSURE: which of the two
    the real teleservice reads]. Opaque to callers: built once from the card read, never edited.
    Its repr shows the rank only."""

    read_at: datetime
    rank: int
    birth_date: str = field(repr=False)  # DateLunaire AAAA-MM-JJ as on the card (00 = unknown)
    birth_name: str | None = field(default=None, repr=False)
    holder: Nir | None = field(default=None, repr=False)  # the ouvrant droit (MatriculeOD)
    own: Nir | None = field(default=None, repr=False)  # the beneficiary's own NIR (MatriculeIndividu)
    sandbox_only: bool = True

    def __post_init__(self) -> None:
        if self.read_at.tzinfo is None:
            raise InsiRequestInvalid("Lecture de la carte Vitale sans fuseau horaire (erreur du logiciel).")
        if not _LUNAR_DATE.fullmatch(self.birth_date):
            raise InsiRequestInvalid("Date de naissance de la carte Vitale invalide (AAAA-MM-JJ attendu).")
        if not 1 <= self.rank <= 99:
            raise InsiRequestInvalid("Rang du bénéficiaire de la carte Vitale invalide.")
        if self.holder is None and self.own is None:
            raise InsiRequestInvalid("Carte Vitale sans numéro d'assuré ni NIR du bénéficiaire.")

    def check_fresh(self, now: datetime) -> None:
        if now - self.read_at > VITALE_MAX_AGE or now < self.read_at - timedelta(minutes=1):
            raise InsiVitaleObsolete()


# ---------------------------------------------------------------------------------------------------
# Building


def _sub(parent: etree._Element, namespace: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, q(namespace, name))
    if text is not None:
        element.text = text
    return element


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lunar_date(value: BirthDate) -> str:
    """DateLunaire ``AAAA-MM-JJ`` with 00 for an unknown month or day."""
    return f"{value.year:04d}-{value.month or 0:02d}-{value.day or 0:02d}"


def _matricule(parent: etree._Element, name: str, nir: Nir) -> None:
    element = _sub(parent, NS_RECVIT, name)
    _sub(element, NS_RECVIT, "NumIdentifiant", nir.body)
    if nir.key:
        _sub(element, NS_RECVIT, "Cle", nir.key)


def search_body(search: TraitsSearch) -> etree._Element:
    """``RECSANSVITALE`` (INSi_RECSANS_INS.xsd, sequence order kept)."""
    body = etree.Element(q(NS_RECSANS, "RECSANSVITALE"), nsmap={"insi_recsans_ins": NS_RECSANS})
    _sub(body, NS_RECSANS, "NomNaissance", search.birth_name)
    if not search.first_names:
        raise InsiRequestInvalid("Recherche INSi sans prénom de naissance.")
    for first_name in search.first_names:
        _sub(body, NS_RECSANS, "Prenom", first_name)
    _sub(body, NS_RECSANS, "Sexe", search.sex.value)
    _sub(body, NS_RECSANS, "DateNaissance", lunar_date(search.birth_date))
    if search.birth_place is not None:
        _sub(body, NS_RECSANS, "LieuNaissance", search.birth_place)
    return body


def vitale_body(beneficiary: VitaleBeneficiary) -> etree._Element:
    """``RECVITALE`` (INSi_RECVITALE_INS.xsd, sequence order kept)."""
    body = etree.Element(q(NS_RECVIT, "RECVITALE"), nsmap={"insi_recvit_ins": NS_RECVIT})
    if beneficiary.own is not None:
        _matricule(body, "MatriculeIndividu", beneficiary.own)
    if beneficiary.holder is not None:
        _matricule(body, "MatriculeOD", beneficiary.holder)
    if beneficiary.birth_name:
        _sub(body, NS_RECVIT, "NomNaissance", beneficiary.birth_name)
    _sub(body, NS_RECVIT, "DateNaissance", beneficiary.birth_date)
    _sub(body, NS_RECVIT, "RangNaissance", str(beneficiary.rank))
    return body


def _contexte_lps(header: etree._Element, context: InsiContext, now: datetime) -> None:
    ctx = etree.SubElement(header, q(NS_CTXLPS, "ContexteLPS"), nsmap={"ctxlps": NS_CTXLPS})
    ctx.set("Nature", CTXLPS_NATURE)
    ctx.set("Version", CTXLPS_VERSION)
    _sub(ctx, NS_CTXLPS, "Id", str(uuid.uuid4()))
    _sub(ctx, NS_CTXLPS, "Temps", _timestamp(now))
    _sub(ctx, NS_CTXLPS, "Emetteur", context.emitter)
    lps = _sub(ctx, NS_CTXLPS, "LPS")
    _sub(lps, NS_CTXLPS, "IDAM", context.lps.idam).set("R", context.lps.idam_r)
    _sub(lps, NS_CTXLPS, "Version", context.lps.version)
    _sub(lps, NS_CTXLPS, "Instance", context.lps.instance)
    _sub(lps, NS_CTXLPS, "Nom", context.lps.nom)


def _contexte_bam(
    header: etree._Element, context: InsiContext, now: datetime, beneficiary: VitaleBeneficiary | None
) -> None:
    """ContexteBAM; its COUVERTURE is required and stays empty for a search by traits (tlsi-ins
    bam-context.class.ts: "should be included but empty since we don't use the Carte Vitale")."""
    ctx = etree.SubElement(header, q(NS_CTXBAM, "ContexteBAM"), nsmap={"ctxbam": NS_CTXBAM})
    ctx.set("Nature", CTXBAM_NATURE)
    ctx.set("Version", CTXBAM_VERSION)
    _sub(ctx, NS_CTXBAM, "Id", str(uuid.uuid4()))
    _sub(ctx, NS_CTXBAM, "Temps", _timestamp(now))
    _sub(ctx, NS_CTXBAM, "Emetteur", context.emitter)
    coverage = _sub(ctx, NS_CTXBAM, "COUVERTURE")
    if beneficiary is None:
        return
    if beneficiary.holder is not None:  # ASSURE/Id{Num, Cle}: the ouvrant droit [UNSURE]
        nir = _sub(_sub(coverage, NS_CTXBAM, "ASSURE"), NS_CTXBAM, "Id")
        _sub(nir, NS_CTXBAM, "Num", beneficiary.holder.body)
        if beneficiary.holder.key:
            _sub(nir, NS_CTXBAM, "Cle", beneficiary.holder.key)
    person = _sub(coverage, NS_CTXBAM, "BENEFICIAIRE")
    if beneficiary.own is not None:
        nir = _sub(person, NS_CTXBAM, "Nir")
        _sub(nir, NS_CTXBAM, "Num", beneficiary.own.body)
        if beneficiary.own.key:
            _sub(nir, NS_CTXBAM, "Cle", beneficiary.own.key)
    _sub(person, NS_CTXBAM, "DateNai", beneficiary.birth_date)
    _sub(person, NS_CTXBAM, "Rang", str(beneficiary.rank))


def build_request(
    action: str,
    body: etree._Element,
    context: InsiContext,
    now: datetime,
    *,
    security: etree._Element | None = None,
    beneficiary: VitaleBeneficiary | None = None,
) -> SoapRequest:
    """The SOAP 1.2 envelope: ContexteBAM, ContexteLPS, wsa:Action, wsa:MessageID (tlsi-ins's request
    fixture order), then ``wsse:Security`` holding ``security`` when given.

    ``security`` is the seam for the professional's signed assertion. The public sources show (tlsi-ins
    src/class/assertionPsSecurity.class.ts) a SAML 2.0 ``Assertion`` signed RSA-SHA256 with the
    authentication certificate (Issuer in X509SubjectName format, Subject/NameID, attributes
    ``identifiantFacturation``, ``codeSpecialiteAMO``, ``secteurActivite``); nothing public says INSi
    accepts the DMP's VIHF, so it is not reused; :func:`professional_assertion` builds tlsi-ins's shape.
    [UNSURE] Without it requests go with the mutual TLS (card or structure certificate) alone."""
    if action not in RESPONSE_ACTIONS:
        raise InsiRequestInvalid("Action INSi inconnue (erreur du logiciel).")
    message_id = f"urn:uuid:{uuid.uuid4()}"
    envelope = etree.Element(q(SOAP12, "Envelope"), nsmap={"soap": SOAP12, "wsa": WSA})
    header = _sub(envelope, SOAP12, "Header")
    _contexte_bam(header, context, now, beneficiary)
    _contexte_lps(header, context, now)
    _sub(header, WSA, "Action", action)
    _sub(header, WSA, "MessageID", message_id)
    if security is not None:
        wsse = etree.SubElement(header, q(WSSE, "Security"), nsmap={"wsse": WSSE})
        wsse.append(security)
    _sub(envelope, SOAP12, "Body").append(body)
    return SoapRequest(action, message_id, serialize(envelope))


def search_by_traits(
    search: TraitsSearch, context: InsiContext, now: datetime, *, security: etree._Element | None = None
) -> SoapRequest:
    """``rechercherInsAvecTraitsIdentite`` with RECSANSVITALE."""
    return build_request(ACTION_SEARCH_TRAITS, search_body(search), context, now, security=security)


def search_with_vitale(
    beneficiary: VitaleBeneficiary,
    context: InsiContext,
    now: datetime,
    *,
    security: etree._Element | None = None,
) -> SoapRequest:
    """``rechercherInsAvecCarteVitale`` with RECVITALE; refused when the card read is obsolete."""
    beneficiary.check_fresh(now)
    return build_request(
        ACTION_SEARCH_VITALE,
        vitale_body(beneficiary),
        context,
        now,
        security=security,
        beneficiary=beneficiary,
    )


# ---------------------------------------------------------------------------------------------------
# Parsing


class Report(StrEnum):
    """CodeCR (ins-and-cards.md §2.5, esante-bretagne.fr)."""

    FOUND = "00"
    NOT_FOUND = "01"
    SEVERAL = "02"


class NextStep(StrEnum):
    """What the user does after a 01 or 02 (issue 17)."""

    OTHER_CRITERIA = (
        "Aucune identité trouvée : vérifiez les traits saisis et réessayez avec d'autres critères."
    )
    ADD_FIRST_NAMES_THEN_BIRTHPLACE = (
        "Plusieurs identités trouvées : ajoutez les autres prénoms de naissance, puis le code du lieu de "
        "naissance, et relancez la recherche."
    )


@dataclass(frozen=True, slots=True)
class InsiTraits:
    """The strict traits as INSi returned them (TIQ), verbatim and stripped, to be shown as such."""

    birth_name: str = field(repr=False)
    first_name: str = field(repr=False)  # the first birth first name (Prenom, else ListePrenom's first)
    first_names: str = field(repr=False)  # ListePrenom, space-separated
    sex: str = field(repr=False)
    birth_date: str = field(repr=False)  # DateLunaire
    birth_place: str | None = field(repr=False)  # COG INSEE


@dataclass(frozen=True, slots=True)
class InsiIns:
    """One INS of an answer (INSACTIF or INSHISTO) with its validity dates when given."""

    ins: Ins = field(repr=False)
    type_matricule: str | None = field(default=None, repr=False)
    start: date | None = field(default=None, repr=False)
    end: date | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class InsiIdentity:
    """CR 00: the person's active INS, its history (kept), the strict traits (verbatim and parsed)."""

    active: InsiIns = field(repr=False)
    history: tuple[InsiIns, ...] = field(repr=False)
    strict: InsiTraits = field(repr=False)
    traits: IdentityTraits = field(repr=False)

    @property
    def ins(self) -> Ins:
        return self.active.ins

    @property
    def inconsistencies(self) -> tuple[str, ...]:
        """Traits that contradict what the active matricule encodes (sex, birth year and month): shown
        as a warning, never a refusal (a NIR may legitimately differ, e.g. a NIA or a pseudo-month)."""
        return tuple(t.value for t in self.traits.inconsistencies_with(self.active.ins.matricule))


@dataclass(frozen=True, slots=True)
class InsiResult:
    """One INSi answer. ``identity`` is set for FOUND only; ``next_step`` for NOT_FOUND and SEVERAL."""

    report: Report
    label: str
    identity: InsiIdentity | None = field(default=None, repr=False)

    @property
    def next_step(self) -> NextStep | None:
        if self.report is Report.NOT_FOUND:
            return NextStep.OTHER_CRITERIA
        if self.report is Report.SEVERAL:
            return NextStep.ADD_FIRST_NAMES_THEN_BIRTHPLACE
        return None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _text(element: etree._Element | None, what: str) -> str:
    if element is None:
        return ""
    if _elements(element):
        raise InsiMalformedResponse(f"Réponse INSi mal formée : {what} contient des éléments inattendus.")
    text = (element.text or "").strip()
    if len(text) > MAX_TEXT:
        raise InsiMalformedResponse(f"Réponse INSi mal formée : {what} trop long.")
    return text


class _Children:
    """The children of one element of RESULTAT, by local name, all in the INSiResultat namespace.

    Tolerant: prefixes, whitespace and comments are free. Never silent: an element in another
    namespace, an unknown one, a repeated singleton or a missing required one is refused."""

    def __init__(self, parent: etree._Element, allowed: Iterable[str], what: str) -> None:
        self.what = what
        self.found: dict[str, list[etree._Element]] = {}
        names = set(allowed)
        for child in _elements(parent):
            qname = etree.QName(child)
            if qname.namespace != NS_RESULTAT or qname.localname not in names:
                raise InsiMalformedResponse(
                    f"Réponse INSi mal formée : élément inattendu « {qname.localname[:40]} » dans {what}."
                )
            self.found.setdefault(qname.localname, []).append(child)

    def one(self, name: str, *, required: bool = True) -> etree._Element | None:
        items = self.found.get(name, [])
        if len(items) > 1:
            raise InsiMalformedResponse(f"Réponse INSi mal formée : {name} répété dans {self.what}.")
        if not items and required:
            raise InsiMalformedResponse(f"Réponse INSi mal formée : {name} absent de {self.what}.")
        return items[0] if items else None

    def text(self, name: str, *, required: bool = True) -> str:
        value = _text(self.one(name, required=required), name)
        if required and not value:
            raise InsiMalformedResponse(f"Réponse INSi mal formée : {name} vide dans {self.what}.")
        return value

    def many(self, name: str) -> list[etree._Element]:
        return self.found.get(name, [])


def _date(text: str, what: str) -> date | None:
    """An ``xsd:date`` (a time-zone suffix is allowed and dropped)."""
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:Z|[+-]\d{2}:\d{2})?", text):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise InsiMalformedResponse(f"Réponse INSi mal formée : {what} n'est pas une date.")


def _ins(element: etree._Element, what: str) -> InsiIns:
    children = _Children(element, ("IdIndividu", "OID", "DateDeb", "DateFin"), what)
    identifier = children.one("IdIndividu")
    assert identifier is not None
    matricule = _Children(identifier, ("NumIdentifiant", "Cle", "TypeMatricule"), f"{what}/IdIndividu")
    number = matricule.text("NumIdentifiant")
    key = matricule.text("Cle", required=False)
    if not _MATRICULE.fullmatch(number):
        raise InsiMalformedResponse(
            f"Réponse INSi mal formée : matricule de {what} invalide (13 caractères)."
        )
    if not _KEY.fullmatch(key):  # the XSD lets Cle out; without it the matricule cannot be checked
        raise InsiMalformedResponse(
            f"Réponse INSi mal formée : clé du matricule de {what} absente ou invalide."
        )
    oid = children.text("OID")
    try:
        ins = Ins(Nir.parse(number + key, require_key=True), parse_oid(oid))
    except InsError as error:
        raise InsiMalformedResponse(f"Réponse INSi : INS de {what} refusé ({error.code}).") from None
    return InsiIns(
        ins,
        matricule.text("TypeMatricule", required=False) or None,
        _date(children.text("DateDeb", required=False), f"DateDeb de {what}"),
        _date(children.text("DateFin", required=False), f"DateFin de {what}"),
    )


def _traits(element: etree._Element) -> tuple[InsiTraits, IdentityTraits]:
    tiq = _Children(
        element, ("NomNaissance", "Prenom", "ListePrenom", "Sexe", "DateNaissance", "LieuNaissance"), "TIQ"
    )
    first = tiq.text("Prenom", required=False)
    names = " ".join(tiq.text("ListePrenom", required=False).split()) or first
    if not names:
        raise InsiMalformedResponse("Réponse INSi mal formée : aucun prénom de naissance dans TIQ.")
    first = first or names.split(" ")[0]
    if names != first and not names.startswith(first + " "):
        raise InsiMalformedResponse("Réponse INSi incohérente : le prénom n'est pas le premier de la liste.")
    birth_date = tiq.text("DateNaissance")
    if not _LUNAR_DATE.fullmatch(birth_date):
        raise InsiMalformedResponse("Réponse INSi mal formée : date de naissance (AAAA-MM-JJ attendu).")
    strict = InsiTraits(
        tiq.text("NomNaissance"),
        first,
        names,
        tiq.text("Sexe"),
        birth_date,
        tiq.text("LieuNaissance", required=False) or None,
    )
    try:
        parsed = IdentityTraits.parse(
            strict.birth_name, strict.first_names, strict.sex, strict.birth_date, strict.birth_place
        )
    except InsError as error:
        raise InsiMalformedResponse(f"Réponse INSi : traits d'identité refusés ({error.code}).") from None
    return strict, parsed


def _individual(element: etree._Element) -> InsiIdentity:
    children = _Children(element, ("INSACTIF", "INSHISTO", "TIQ"), "INDIVIDU")
    active_element = children.one("INSACTIF")
    tiq = children.one("TIQ")
    assert active_element is not None and tiq is not None
    history_elements = children.many("INSHISTO")
    if len(history_elements) > MAX_HISTORY:
        raise InsiMalformedResponse("Réponse INSi refusée : historique d'INS trop long.")
    active = _ins(active_element, "INSACTIF")
    history = tuple(_ins(e, "INSHISTO") for e in history_elements)
    strict, traits = _traits(tiq)
    return InsiIdentity(active, history, strict, traits)


def _siram_error(fault: etree._Element) -> tuple[str, str]:
    """The host's code and text: siram:Erreur@code in the fault's detail, else the SOAP code/reason."""
    for element in fault.iter(q(NS_SIRAM, "Erreur")):
        return (element.get("code") or "")[:40], _text(element, "Erreur")[:MAX_TEXT]
    code = reason = ""
    for element in fault.iter():
        if not isinstance(element.tag, str) or element is fault:
            continue
        if _local(element) in ("Value", "faultcode") and not code:
            code = (element.text or "").strip().rsplit(":", 1)[-1][:40]
        if _local(element) in ("Text", "faultstring") and not reason:
            reason = (element.text or "").strip()[:MAX_TEXT]
    return code, reason


def parse_answer(data: bytes, request: SoapRequest) -> InsiResult:
    """Read an INSi answer to ``request``; raise an INSi error for a fault or anything unreadable."""
    try:
        envelope = parse_xml(data, max_bytes=MAX_ANSWER_BYTES, max_nodes=MAX_ANSWER_NODES)
    except HostileXml:
        raise InsiHostileXml() from None
    except MalformedResponse:
        raise InsiMalformedResponse() from None
    if envelope.tag not in (q(SOAP12, "Envelope"), q(SOAP11, "Envelope")):
        raise InsiMalformedResponse("La réponse d'INSi n'est pas une enveloppe SOAP.")
    soap = etree.QName(envelope).namespace or SOAP12
    for fault in envelope.iter(q(SOAP12, "Fault"), q(SOAP11, "Fault")):
        raise InsiFault(*_siram_error(fault))
    header = envelope.find(q(soap, "Header"))
    if header is not None:
        action = _text(header.find(q(WSA, "Action")), "Action")
        if action and action != RESPONSE_ACTIONS[request.action]:
            raise InsiMalformedResponse("Réponse INSi inattendue (action d'une autre opération).")
        relates = _text(header.find(q(WSA, "RelatesTo")), "RelatesTo")
        if relates and relates != request.message_id:
            raise InsiMalformedResponse(
                "La réponse d'INSi ne correspond pas à la requête envoyée (RelatesTo)."
            )
    body = envelope.find(q(soap, "Body"))
    payload = _elements(body) if body is not None else []
    if len(payload) != 1 or payload[0].tag != q(NS_RESULTAT, "RESULTAT"):
        raise InsiMalformedResponse("Réponse INSi mal formée : le corps ne contient pas un RESULTAT.")
    return parse_result(payload[0])


def parse_result(resultat: etree._Element) -> InsiResult:
    """``RESULTAT`` into a typed result: 00 with one identity, 01 and 02 with none."""
    children = _Children(resultat, ("CR", "INDIVIDU"), "RESULTAT")
    cr_element = children.one("CR")
    assert cr_element is not None
    cr = _Children(cr_element, ("CodeCR", "LibelleCR"), "CR")
    code = cr.text("CodeCR")
    label = cr.text("LibelleCR", required=False)
    try:
        report = Report(code)
    except ValueError:
        raise InsiUnknownReport(code[:10], label) from None
    individual = children.one("INDIVIDU", required=False)
    if report is Report.FOUND:
        if individual is None:
            raise InsiMalformedResponse("Réponse INSi incohérente : code 00 sans identité.")
        return InsiResult(report, label, _individual(individual))
    if individual is not None:  # never act on an identity the report says is absent or ambiguous
        raise InsiMalformedResponse(f"Réponse INSi incohérente : code {code} accompagné d'une identité.")
    return InsiResult(report, label)


# ---------------------------------------------------------------------------------------------------
# Verification of a known INS


class Verification(StrEnum):
    CONFIRMED = "confirmé"  # INSi returns this INS as active, with the same traits
    REPLACED = "remplacé"  # the INS held is in INSHISTO: the active one replaces it
    MISMATCH = "discordant"  # another INS, or traits that differ
    NOT_FOUND = "introuvable"  # 01
    SEVERAL = "plusieurs"  # 02


@dataclass(frozen=True, slots=True)
class VerificationResult:
    outcome: Verification
    result: InsiResult = field(repr=False)
    differences: tuple[str, ...] = ()  # the traits that differ (app.ins.Trait values), never their values


def verify(known: Ins, traits: IdentityTraits, result: InsiResult) -> VerificationResult:
    """Compare an INSi answer to a search by ``traits`` with the INS held for them."""
    if result.report is Report.NOT_FOUND:
        return VerificationResult(Verification.NOT_FOUND, result)
    if result.report is Report.SEVERAL or result.identity is None:
        return VerificationResult(Verification.SEVERAL, result)
    identity = result.identity
    differences = tuple(t.value for t in traits.differences(identity.traits))
    if identity.ins == known:
        outcome = Verification.MISMATCH if differences else Verification.CONFIRMED
    elif any(entry.ins == known for entry in identity.history):
        outcome = Verification.REPLACED
    else:
        outcome = Verification.MISMATCH
    return VerificationResult(outcome, result, differences)


def check_vitale_answer(beneficiary: VitaleBeneficiary, result: InsiResult) -> InsiResult:
    """Identity vigilance for a search with the Vitale card: the identity returned must have the chosen
    beneficiary's birth date (each known part: year, then month and day unless written 00)."""
    if result.identity is None:
        return result
    card = beneficiary.birth_date.split("-")
    returned = result.identity.strict.birth_date.split("-")
    if any(mine != "00" and mine != theirs for mine, theirs in zip(card, returned, strict=True)):
        raise InsiOtherPerson()
    return result


# ---------------------------------------------------------------------------------------------------
# The professional's assertion (wsse:Security) [UNSURE]

# tlsi-ins src/class/assertionPsSecurity.class.ts: Issuer Format, and the three attribute names.
ISSUER_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
ATTRIBUTE_BILLING_ID = "identifiantFacturation"
ATTRIBUTE_AMO_SPECIALTY = "codeSpecialiteAMO"
ATTRIBUTE_SECTOR = "secteurActivite"


@dataclass(frozen=True, slots=True)
class ProfessionalAssertion:
    """What the assertion names, as the public tlsi-ins client fills it [UNSURE: the real rules are
    not public]: ``name_id`` / ``name_qualifier`` (the professional or structure and the identifier's
    authority), the billing number (FINESS or AM number, DmpConnect's wrapper), the AMO specialty
    code and the activity sector."""

    name_id: str
    name_qualifier: str
    billing_id: str
    amo_specialty: str
    sector: str


def professional_assertion(who: ProfessionalAssertion, signer: Signer, now: datetime) -> etree._Element:
    """The SAML 2.0 assertion of tlsi-ins's ``assertionPsSecurity`` (Issuer = the signing certificate's
    subject, Subject/NameID, three attributes), signed enveloped RSA-SHA256 / SHA-256 / exclusive C14N
    like the VIHF (``vihf.sign_assertion``, the same algorithms tlsi-ins uses). The signature goes where
    the SAML schema puts it (after Issuer), not at the end as tlsi-ins does. For :func:`build_request`'s
    ``security``; whether INSi accepts it is [UNSURE]."""
    from app.dmp_client.core.vihf import issuer_dn, sign_assertion  # deferred: signxml (start-up)

    for value in (who.name_id, who.name_qualifier, who.billing_id, who.amo_specialty, who.sector):
        if not value.strip() or len(value) > MAX_TEXT:
            raise InsiRequestInvalid("Assertion du professionnel pour INSi incomplète.")
    assertion = etree.Element(
        q(SAML2, "Assertion"),
        nsmap={"saml": SAML2},
        ID=f"_{uuid.uuid4()}",
        IssueInstant=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        Version="2.0",
    )
    _sub(assertion, SAML2, "Issuer", issuer_dn(signer)).set("Format", ISSUER_FORMAT)
    etree.SubElement(assertion, q(DS, "Signature"), Id="placeholder", nsmap={"ds": DS})
    subject = _sub(assertion, SAML2, "Subject")
    _sub(subject, SAML2, "NameID", who.name_id).set("NameQualifier", who.name_qualifier)
    statement = _sub(assertion, SAML2, "AttributeStatement")
    for name, value in (
        (ATTRIBUTE_BILLING_ID, who.billing_id),
        (ATTRIBUTE_AMO_SPECIALTY, who.amo_specialty),
        (ATTRIBUTE_SECTOR, who.sector),
    ):
        attribute = _sub(statement, SAML2, "Attribute")
        attribute.set("Name", name)
        _sub(attribute, SAML2, "AttributeValue", value)
    return sign_assertion(assertion, signer)
