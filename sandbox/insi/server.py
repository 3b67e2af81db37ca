"""The sandbox INSi host's HTTPS server: mutual TLS, SOAP 1.2 + WS-Addressing, at ``/lps``.

Per the WSDL DESIR_ICIR_EXP_1.5.0 (resources/spec/insi/): two operations,
``urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite`` (body ``RECSANSVITALE``,
namespace ``http://www.cnamts.fr/INSiRecSans``) and
``urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale`` (body ``RECVITALE``,
``http://www.cnamts.fr/INSiRecVit``); headers ``wsse:Security``, ``ctxlps:ContexteLPS``,
``wsa:MessageID``, ``ctxbam:ContexteBAM``; answer ``RESULTAT`` (``http://www.cnamts.fr/INSiResultat``)
with the output action ``…Response``; fault detail ``siram:Erreur``. The endpoint path ``/lps`` is the
WSDL's ``soap12:address``. Everything the sandbox checks beyond the schemas is listed in
docs/sandbox.md (section INSi) with its source or an [UNSURE] mark.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from sandbox.host import safexml
from sandbox.host.server import server_context
from sandbox.https_server import ConnectionFaults, QuietHandler, TlsServer
from sandbox.insi import faults, schemas
from sandbox.insi.faults import SOAP, WSA, InsiFault
from sandbox.insi.referential import (
    MatchRules,
    Person,
    Referential,
    TraitsQuery,
    VitaleQuery,
    load_referential,
)

PATH = "/lps"
ACTION_TRAITS = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
ACTION_VITALE = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
ACTIONS = {ACTION_TRAITS: "RECSANSVITALE", ACTION_VITALE: "RECVITALE"}
BODY_NS = {ACTION_TRAITS: schemas.RECSANS, ACTION_VITALE: schemas.RECVIT}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
MAX_BODY = 1024 * 1024  # an INSi request is a few kilobytes
LABELS = {  # LibelleCR as in the public example answers of padoa/tlsi-ins (tests/insi/fixtures/)
    "00": "OK",  # src/fixtures/TEST_2.04_cas2.xml
    "01": "Aucune identite trouvee",  # src/fixtures/REP_CR01.xml
    "02": "Plusieurs identites trouvees",  # getCR02XmlResponse() in src/fixtures/insi-client.fixture.ts
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_UTF8_PARSER = etree.XMLParser(encoding="utf-8", resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class InsiFaults(ConnectionFaults):
    """Injected faults: latency (time-outs), the documented siram_40 fault (``error_rate``),
    dropped connections."""


@dataclass
class InsiConfig:
    pki_dir: Path
    faults: InsiFaults = field(default_factory=InsiFaults)
    rules: MatchRules = field(default_factory=MatchRules)
    # The structure's ORG AUTH_CLI certificate is allowed beside the CPS card (ins-and-cards.md §2.5).
    allow_structure: bool = True
    # [UNSURE] the signed PS assertion of card mode (wsse:Security) is not public: when True the
    # header must be present (its content is not verified by the sandbox).
    require_security_header: bool = False
    # [UNSURE] the recorded public answers (and the siram_40 fault) carry no SOAP header at all;
    # the WSDL names an output action (wsaw:Action "...Response"). Default: as recorded.
    answer_addressing: bool = False
    # TIQ/Prenom (the first birth first name) beside ListePrenom, as in the recorded answers
    # (ADRTROIS DOMINIQUE, TEST_2.08_cas1); TEST_2.04_cas2 has ListePrenom only.
    tiq_prenom: bool = True


@dataclass(frozen=True)
class Exchange:
    """What the host journals: no traits, no INS (patient data is never logged)."""

    action: str
    caller: str
    outcome: str  # "00" / "01" / "02" or the fault subcode


class InsiHost(TlsServer):
    def __init__(self, address: tuple[str, int], config: InsiConfig) -> None:
        super().__init__(address, InsiHandler)
        self.config = config
        self.context = server_context(config.pki_dir)
        self.organisations = x509.load_pem_x509_certificate(
            (config.pki_dir / "ca-organisations.pem").read_bytes()
        )
        self.personnes = x509.load_pem_x509_certificate((config.pki_dir / "ca-personnes.pem").read_bytes())
        self.referential: Referential = load_referential(config.rules)
        self.journal: list[Exchange] = []
        self._journal_lock = threading.Lock()

    def note(self, exchange: Exchange) -> None:
        with self._journal_lock:
            self.journal.append(exchange)

    def read_timeout(self) -> float:
        return self.config.faults.read_timeout


def caller_of(host: InsiHost, der: bytes | None) -> str:
    """``CPS:<national id>`` or ``ORG:<FINESS>``; other certificates are refused."""
    if not der:
        raise InsiFault(faults.UNAUTHORISED, "Certificat client absent.")
    cert = x509.load_der_x509_certificate(der)
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        client_auth = ExtendedKeyUsageOID.CLIENT_AUTH in eku
    except x509.ExtensionNotFound:
        client_auth = False
    if not client_auth:
        raise InsiFault(faults.UNAUTHORISED, "Certificat client sans usage d'authentification.")
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    if cert.issuer == host.personnes.subject:
        return f"CPS:{cn}"
    if cert.issuer == host.organisations.subject and cn.endswith("ORG AUTH_CLI"):
        if not host.config.allow_structure:
            raise InsiFault(faults.UNAUTHORISED, "Authentification par certificat de structure non admise.")
        return f"ORG:{cn.split(' ', 1)[0]}"
    raise InsiFault(faults.UNAUTHORISED, "Certificat client non admis pour INSi.")


def _child(parent: etree._Element, namespace: str, name: str) -> etree._Element | None:
    return parent.find(f"{{{namespace}}}{name}")


def _text(parent: etree._Element | None, namespace: str, name: str) -> str:
    node = parent.find(f"{{{namespace}}}{name}") if parent is not None else None
    return (node.text or "").strip() if node is not None else ""


def check_headers(header: etree._Element | None, config: InsiConfig) -> tuple[str, str]:
    """Action and MessageID, after the ContexteLPS / ContexteBAM checks."""
    if header is None:
        raise InsiFault(faults.HEADER, "En-tête SOAP absent.")
    action = _text(header, WSA, "Action")
    message_id = _text(header, WSA, "MessageID")
    if action not in ACTIONS:
        raise InsiFault(faults.ACTION, "Action WS-Addressing absente ou inconnue.")
    if not message_id:
        raise InsiFault(faults.HEADER, "wsa:MessageID absent.")
    lps = _child(header, schemas.CTXLPS, "ContexteLPS")
    bam = _child(header, schemas.CTXBAM, "ContexteBAM")
    for name, node in (("ContexteLPS", lps), ("ContexteBAM", bam)):
        if node is None:
            raise InsiFault(faults.HEADER, f"{name} absent.")
        problems = schemas.errors(node)
        if problems:
            raise InsiFault(faults.HEADER, f"{name} non conforme au schéma : {problems[0]}")
    assert lps is not None
    if not _text(lps, schemas.CTXLPS, "Emetteur"):
        raise InsiFault(faults.HEADER, "ContexteLPS/Emetteur absent.")
    software = _child(lps, schemas.CTXLPS, "LPS")
    for name in ("IDAM", "Version", "Instance", "Nom"):
        if not _text(software, schemas.CTXLPS, name):
            raise InsiFault(faults.HEADER, f"ContexteLPS/LPS/{name} absent.")
    try:
        uuid.UUID(_text(software, schemas.CTXLPS, "Instance"))
    except ValueError:
        raise InsiFault(faults.HEADER, "ContexteLPS/LPS/Instance n'est pas un UUID.") from None
    if config.require_security_header and _child(header, WSSE, "Security") is None:
        raise InsiFault(faults.UNAUTHORISED, "En-tête wsse:Security absent.")
    return action, message_id


def _matricule(parent: etree._Element, namespace: str, name: str) -> str | None:
    node = parent.find(f"{{{namespace}}}{name}")
    if node is None:
        return None
    number = _text(node, namespace, "NumIdentifiant")
    return (number + _text(node, namespace, "Cle")) if number else None


def search(payload: etree._Element, action: str, referential: Referential) -> list[Person]:
    if action == ACTION_TRAITS:
        ns = schemas.RECSANS
        first_names = [(n.text or "").strip() for n in payload.findall(f"{{{ns}}}Prenom")]
        query = TraitsQuery(
            _text(payload, ns, "NomNaissance"),
            [n for n in first_names if n],
            _text(payload, ns, "Sexe"),
            _text(payload, ns, "DateNaissance"),
            _text(payload, ns, "LieuNaissance") or None,
        )
        # The searched traits (ins-and-cards.md §2.5): birth name, first name(s), sex, birth date.
        if not (query.birth_name and query.first_names and query.sex and query.birth_date):
            raise InsiFault(
                faults.CRITERIA, "Nom de naissance, prénom, sexe et date de naissance sont requis."
            )
        if query.sex not in ("M", "F"):  # [UNSURE] the values INSi accepts
            raise InsiFault(faults.CRITERIA, "Sexe attendu : M ou F.")
        if len(query.birth_date) != 10 or not query.birth_date.replace("-", "").isdigit():
            raise InsiFault(faults.CRITERIA, "Date de naissance attendue au format AAAA-MM-JJ.")
        return referential.search_traits(query)
    ns = schemas.RECVIT
    vitale = VitaleQuery(
        _matricule(payload, ns, "MatriculeOD"),
        _matricule(payload, ns, "MatriculeIndividu"),
        _text(payload, ns, "NomNaissance") or None,
        _text(payload, ns, "DateNaissance") or None,
        _text(payload, ns, "RangNaissance") or None,
    )
    if not (vitale.opening_nir or vitale.own_nir) or not vitale.birth_date:
        raise InsiFault(
            faults.CRITERIA, "Données de la carte Vitale incomplètes (matricule, date de naissance)."
        )
    return referential.search_vitale(vitale)


def resultat(found: list[Person], config: InsiConfig) -> tuple[str, etree._Element]:
    ns = schemas.RESULTAT
    code = "00" if len(found) == 1 else "01" if not found else "02"
    root = etree.Element(f"{{{ns}}}RESULTAT", nsmap={None: ns})
    cr = etree.SubElement(root, f"{{{ns}}}CR")
    etree.SubElement(cr, f"{{{ns}}}CodeCR").text = code
    etree.SubElement(cr, f"{{{ns}}}LibelleCR").text = LABELS[code]
    if code != "00":
        return code, root
    person = found[0]
    individu = etree.SubElement(root, f"{{{ns}}}INDIVIDU")
    for tag, ins in [("INSACTIF", person.ins), *(("INSHISTO", h) for h in person.history)]:
        node = etree.SubElement(individu, f"{{{ns}}}{tag}")
        ident = etree.SubElement(node, f"{{{ns}}}IdIndividu")
        etree.SubElement(ident, f"{{{ns}}}NumIdentifiant").text = ins.number
        etree.SubElement(ident, f"{{{ns}}}Cle").text = ins.key
        if tag == "INSHISTO":
            etree.SubElement(ident, f"{{{ns}}}TypeMatricule").text = "NIR"  # as in TEST_2.04_cas2.xml
        etree.SubElement(node, f"{{{ns}}}OID").text = ins.oid
    tiq = etree.SubElement(individu, f"{{{ns}}}TIQ")
    traits = person.traits
    etree.SubElement(tiq, f"{{{ns}}}NomNaissance").text = traits.birth_name
    if config.tiq_prenom:
        etree.SubElement(tiq, f"{{{ns}}}Prenom").text = traits.first_names.split()[0]
    etree.SubElement(tiq, f"{{{ns}}}ListePrenom").text = traits.first_names
    etree.SubElement(tiq, f"{{{ns}}}Sexe").text = traits.sex
    etree.SubElement(tiq, f"{{{ns}}}DateNaissance").text = traits.birth_date
    if traits.birth_place:
        etree.SubElement(tiq, f"{{{ns}}}LieuNaissance").text = traits.birth_place
    return code, root


class InsiHandler(QuietHandler):
    server: InsiHost

    def do_POST(self) -> None:
        injected = self.server.config.faults
        if injected.latency:
            time.sleep(injected.latency)
        if injected.drop_rate and injected.rng.random() < injected.drop_rate:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.close()
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._send(411, b"", "text/plain")
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(413, b"", "text/plain")
            return
        body = self.rfile.read(length)
        if self.path.split("?", 1)[0] != PATH:
            self._send(404, b"service inconnu", "text/plain; charset=utf-8")
            return
        status, answer = self._answer(body)
        self._send(status, answer, "application/soap+xml; charset=UTF-8")

    def _answer(self, body: bytes) -> tuple[int, bytes]:
        config = self.server.config
        message_id: str | None = None
        action = caller = ""
        try:
            caller = caller_of(self.server, self.connection.getpeercert(binary_form=True))
            content_type = self.headers.get("Content-Type", "")
            if content_type.split(";", 1)[0].strip().lower() != "application/soap+xml":
                raise InsiFault(faults.MALFORMED, "Type de contenu SOAP 1.2 attendu (application/soap+xml).")
            envelope = _parse(body)
            header = envelope.find(f"{{{SOAP}}}Header")
            message_id = _text(header, WSA, "MessageID") or None
            action, message_id = check_headers(header, config)
            if config.faults.error_rate and config.faults.rng.random() < config.faults.error_rate:
                raise InsiFault(
                    faults.UNAVAILABLE, "L'appel au service de recherche renvoie une erreur technique."
                )
            parent = envelope.find(f"{{{SOAP}}}Body")
            payload = [c for c in parent if isinstance(c.tag, str)] if parent is not None else []
            expected = f"{{{BODY_NS[action]}}}{ACTIONS[action]}"
            if len(payload) != 1 or payload[0].tag != expected:
                raise InsiFault(faults.INVALID, f"Corps attendu : un élément {ACTIONS[action]}.")
            problems = schemas.errors(payload[0])
            if problems:
                raise InsiFault(faults.INVALID, f"{ACTIONS[action]} non conforme au schéma : {problems[0]}")
            code, result = resultat(search(payload[0], action, self.server.referential), config)
        except InsiFault as fault:
            self.server.note(Exchange(action, caller, fault.refusal.subcode))
            status = 500
            return status, faults.fault_envelope(fault, message_id, addressing=config.answer_addressing)
        self.server.note(Exchange(action, caller, code))
        return 200, self._envelope(f"{action}Response", result, message_id)

    def _envelope(self, action: str, payload: etree._Element, relates_to: str | None) -> bytes:
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wsa": WSA})
        if self.server.config.answer_addressing:
            header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
            etree.SubElement(header, f"{{{WSA}}}Action").text = action
            etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
            if relates_to:
                etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
        etree.SubElement(envelope, f"{{{SOAP}}}Body").append(payload)
        return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _parse(body: bytes) -> etree._Element:
    try:
        data, transcoded = safexml.guard(body, max_bytes=MAX_BODY)
    except safexml.Refused as refused:
        raise InsiFault(faults.MALFORMED, refused.reason) from None
    try:
        envelope = etree.fromstring(data, parser=_UTF8_PARSER if transcoded else _PARSER)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        raise InsiFault(faults.MALFORMED, "Message SOAP mal formé.") from None
    if envelope.getroottree().docinfo.doctype:
        raise InsiFault(faults.MALFORMED, "XML refusé (DTD ou entités).")
    if envelope.tag != f"{{{SOAP}}}Envelope":
        raise InsiFault(faults.MALFORMED, "Enveloppe SOAP 1.2 attendue.")
    return envelope


def serve_in_thread(host: InsiHost) -> threading.Thread:
    thread = threading.Thread(target=host.serve_forever, name="insi-host", daemon=True)
    thread.start()
    return thread
