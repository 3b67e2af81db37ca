"""The level-1 CDA wrapper ("structuration minimale", dmp-interface.md §11) around a PDF, text, RTF,
JPEG or TIFF document, including new versions (same setId, versionNumber + 1, RPLC).

The document is streamed: the header is built with lxml, then the body is written as base64 in
chunks between the header's two halves, so a 50 MB PDF is never held as one base64 string. The
SHA-1 and size the XDS metadata need are computed on the bytes as they are written.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from app.dmp_client.core.errors import HostileXml, LocalProtocolError
from app.dmp_client.core.ns import HL7V3, XSI
from app.dmp_client.core.valuesets import Concept
from app.ins import IdentityTraits, Ins

MEDIA_TYPES = ("application/pdf", "text/plain", "text/rtf", "image/jpeg", "image/tiff")
PS_ID_ROOT = "1.2.250.1.71.4.2.1"
STRUCTURE_ID_ROOT = "1.2.250.1.71.4.2.2"
LOINC = "2.16.840.1.113883.6.1"
_PLACEHOLDER = "@@B64@@"
_CHUNK = 3 * 64 * 1024  # a multiple of 3: base64 chunks concatenate without padding in between


def new_oid() -> str:
    """A globally unique OID for a document or a set (the UUID arc 2.25, ITU-T X.667)."""
    return f"2.25.{uuid.uuid4().int}"


def hl7_time(moment: dt.datetime) -> str:
    """Local time with its offset, as the CDA header carries it (``20210401134745+0100``)."""
    if moment.tzinfo is None:
        raise LocalProtocolError("Date sans fuseau horaire : impossible de la dater dans le document.")
    return moment.strftime("%Y%m%d%H%M%S%z")


@dataclass(frozen=True)
class Person:
    national_id: str
    given: str
    family: str


@dataclass(frozen=True)
class Organization:
    id_nat_struct: str
    name: str


@dataclass(frozen=True)
class Author:
    person: Person
    specialty: Concept  # JDV_J01, e.g. G15_10/SM54
    organization: Organization


@dataclass(frozen=True)
class DocumentHeader:
    document_id: str
    set_id: str
    version: int
    type_code: Concept
    title: str
    created: dt.datetime
    service_start: dt.datetime
    service_stop: dt.datetime | None
    patient: Ins
    traits: IdentityTraits
    author: Author
    legal_authenticator: Person
    custodian: Organization
    practice_setting: Concept
    facility_type: Concept
    media_type: str
    replaces: str | None = None  # the CDA id of the version this one replaces


def element(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{HL7V3}}}{tag}", attrib=attributes)
    if text is not None:
        node.text = text
    return node


def ii(parent: etree._Element, tag: str, value: str) -> etree._Element:
    """An HL7 II from its XDS form ``root^extension`` (ITI TF-3 4.2.3.2.26: a CDA id's uniqueId is
    root^extension): ``root`` and ``extension`` as two attributes, never ``root^ext`` in ``@root``."""
    root, _, extension = value.partition("^")
    if extension:
        return element(parent, tag, root=root, extension=extension)
    return element(parent, tag, root=root)


def _code(
    parent: etree._Element, tag: str, concept: Concept, system_name: str | None = None
) -> etree._Element:
    attributes = {"code": concept.code, "codeSystem": concept.code_system}
    if concept.display_name:
        attributes["displayName"] = concept.display_name
    if system_name:
        attributes["codeSystemName"] = system_name
    return element(parent, tag, **attributes)


def person_name(parent: etree._Element, person: Person) -> None:
    name = element(parent, "name")
    element(name, "given", person.given)
    element(name, "family", person.family)


def _header(h: DocumentHeader) -> etree._Element:
    if h.media_type not in MEDIA_TYPES:
        raise LocalProtocolError(f"Format non admis dans un CDA de niveau 1 : {h.media_type}.")
    doc = clinical_document(h)
    for template in ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20"):
        element(doc, "templateId", root=template)
    ii(doc, "id", h.document_id)
    _code(doc, "code", h.type_code, "LOINC" if h.type_code.code_system == LOINC else None)
    element(doc, "title", h.title)
    element(doc, "effectiveTime", value=hl7_time(h.created))
    element(doc, "confidentialityCode", code="N", displayName="Normal", codeSystem="2.16.840.1.113883.5.25")
    element(doc, "languageCode", code="fr-FR")
    ii(doc, "setId", h.set_id)
    element(doc, "versionNumber", value=str(h.version))
    record_target(doc, h)
    _author(doc, h)
    custodian_and_legal_authenticator(doc, h)
    _documentation_of(doc, h)
    replaced_document(doc, h)
    _code(encounter_facility(doc, h), "code", h.facility_type)
    body = element(element(doc, "component"), "nonXMLBody")
    element(body, "text", _PLACEHOLDER, mediaType=h.media_type, representation="B64")
    return doc


def clinical_document(h: DocumentHeader) -> etree._Element:
    """The ``ClinicalDocument`` root with its realm and type id, once the header keeps the rules
    of every CDA here: a version above 1 replaces exactly one document, and only it does; the
    birth place (INSEE code) is given."""
    if h.version < 1 or (h.version > 1) != (h.replaces is not None):
        raise LocalProtocolError("Une nouvelle version (> 1) remplace exactement un document, et seule elle.")
    if h.traits.birth_place is None:
        raise LocalProtocolError(
            "Le lieu de naissance (code INSEE) est un trait INS obligatoire dans le document."
        )
    doc = etree.Element(f"{{{HL7V3}}}ClinicalDocument", nsmap={None: HL7V3, "xsi": XSI})
    element(doc, "realmCode", code="FR")
    element(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    return doc


def custodian_and_legal_authenticator(doc: etree._Element, h: DocumentHeader) -> None:
    """The custodian structure, then the legal authenticator (signed ``S`` at the creation time)."""
    assigned = element(element(doc, "custodian"), "assignedCustodian")
    custodian = element(assigned, "representedCustodianOrganization")
    element(custodian, "id", root=STRUCTURE_ID_ROOT, extension=h.custodian.id_nat_struct)
    element(custodian, "name", h.custodian.name)
    legal = element(doc, "legalAuthenticator")
    element(legal, "time", value=hl7_time(h.created))
    element(legal, "signatureCode", code="S")
    entity = element(legal, "assignedEntity")
    element(entity, "id", root=PS_ID_ROOT, extension=h.legal_authenticator.national_id)
    person_name(element(entity, "assignedPerson"), h.legal_authenticator)


def replaced_document(doc: etree._Element, h: DocumentHeader) -> None:
    """The ``relatedDocument`` (RPLC) a new version names, if it is one."""
    if h.replaces:
        parent = element(element(doc, "relatedDocument", typeCode="RPLC"), "parentDocument")
        ii(parent, "id", h.replaces)


def encounter_facility(doc: etree._Element, h: DocumentHeader) -> etree._Element:
    """The ``componentOf`` encounter (from the service start); returns its ``healthCareFacility``
    for the caller to code."""
    encounter = element(element(doc, "componentOf"), "encompassingEncounter")
    element(element(encounter, "effectiveTime"), "low", value=hl7_time(h.service_start))
    return element(element(encounter, "location"), "healthCareFacility")


def record_target(doc: etree._Element, h: DocumentHeader) -> None:
    role = element(element(doc, "recordTarget"), "patientRole")
    element(role, "id", **h.patient.to_hl7v3_attributes())
    patient = element(role, "patient", classCode="PSN")
    name = element(patient, "name")
    element(name, "family", h.traits.birth_name, qualifier="BR")
    element(name, "given", " ".join(h.traits.first_names))
    element(name, "given", h.traits.first_name, qualifier="BR")
    element(patient, "administrativeGenderCode", code=h.traits.sex.value, codeSystem="2.16.840.1.113883.5.1")
    element(patient, "birthTime", value=h.traits.birth_date.to_hl7())
    place = element(element(patient, "birthplace"), "place")
    element(element(place, "addr"), "county", h.traits.birth_place or "")


def _author(doc: etree._Element, h: DocumentHeader) -> None:
    author = element(doc, "author")
    element(author, "time", value=hl7_time(h.created))
    assigned = element(author, "assignedAuthor")
    element(assigned, "id", root=PS_ID_ROOT, extension=h.author.person.national_id)
    _code(assigned, "code", h.author.specialty)
    person_name(element(assigned, "assignedPerson"), h.author.person)
    organization = element(assigned, "representedOrganization")
    element(organization, "id", root=STRUCTURE_ID_ROOT, extension=h.author.organization.id_nat_struct)
    element(organization, "name", h.author.organization.name)


def _documentation_of(doc: etree._Element, h: DocumentHeader) -> None:
    event = element(element(doc, "documentationOf"), "serviceEvent")
    times = element(event, "effectiveTime")
    element(times, "low", value=hl7_time(h.service_start))
    if h.service_stop is not None:
        element(times, "high", value=hl7_time(h.service_stop))
    performer = element(element(event, "performer", typeCode="PRF"), "assignedEntity")
    element(performer, "id", root=PS_ID_ROOT, extension=h.author.person.national_id)
    person_name(element(performer, "assignedPerson"), h.author.person)
    organization = element(performer, "representedOrganization")
    element(organization, "id", root=STRUCTURE_ID_ROOT, extension=h.author.organization.id_nat_struct)
    element(organization, "name", h.author.organization.name)
    _code(organization, "standardIndustryClassCode", h.practice_setting, "practiceSettingCode")


@dataclass(frozen=True)
class WrittenCda:
    size: int
    sha1: str  # hex, for the XDS ``hash`` slot
    sha256: bytes  # raw, for the XAdES Manifest


def write_cda(header: DocumentHeader, content: BinaryIO, out: BinaryIO) -> WrittenCda:
    """Write the CDA (header, then ``content`` base64-encoded in chunks) to ``out``."""
    text = etree.tostring(_header(header), xml_declaration=True, encoding="UTF-8")
    head, _, tail = text.partition(_PLACEHOLDER.encode())
    sha1 = hashlib.sha1()
    sha256 = hashlib.sha256()
    size = 0
    for piece in _pieces(head, content, tail):
        out.write(piece)
        sha1.update(piece)
        sha256.update(piece)
        size += len(piece)
    return WrittenCda(size, sha1.hexdigest(), sha256.digest())


def _pieces(head: bytes, content: BinaryIO, tail: bytes):  # type: ignore[no-untyped-def]
    yield head
    while chunk := content.read(_CHUNK):
        yield base64.b64encode(chunk)
    yield tail


@dataclass(frozen=True)
class CdaIdentity:
    document_id: str
    set_id: str
    version: int


def read_identity(source: BinaryIO) -> CdaIdentity:
    """``ClinicalDocument/id``, ``setId`` and ``versionNumber`` of a stored CDA, read from its head
    only (the base64 body is never parsed); hostile input refused like every received XML."""
    found: dict[str, str] = {}
    depth = seen = 0
    events = etree.iterparse(
        source,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        for event, node in events:
            if event == "end":
                depth -= 1
                continue
            depth += 1
            _bounded(node, seen := seen + 1)
            if depth == 1 and node.tag != f"{{{HL7V3}}}ClinicalDocument":
                break
            if depth == 2:
                local = etree.QName(node).localname
                if local in ("id", "setId") and local not in found:
                    root, extension = node.get("root", ""), node.get("extension")
                    found[local] = f"{root}^{extension}" if extension else root  # XDS form
                elif local == "versionNumber":
                    found["version"] = node.get("value", "")
                elif local in ("component", "recordTarget") and len(found) == 3:
                    break
    except etree.XMLSyntaxError:
        raise LocalProtocolError("Document CDA précédent illisible.") from None
    version = found.get("version", "")
    if len(found) != 3 or not (version.isascii() and version.isdigit() and len(version) < 10):
        raise LocalProtocolError("Version précédente sans identifiant, setId ou numéro de version.")
    return CdaIdentity(found["id"], found["setId"], int(found["version"]))


MAX_CDA_ELEMENTS = 100_000  # a level-1 CDA's header holds a few hundred elements


def _bounded(node: etree._Element, seen: int) -> None:
    """A received CDA: no DOCTYPE (hence no entity declarations), and a bounded number of elements
    (the tree is built as it is read: 15 million empty elements would take gigabytes)."""
    if seen > MAX_CDA_ELEMENTS or (seen == 1 and node.getroottree().docinfo.doctype):
        raise HostileXml()


def extract_body(source: BinaryIO, out: BinaryIO) -> str:
    """Write the document a level-1 CDA wraps (its ``nonXMLBody/text``, base64-decoded) to ``out``;
    return its media type. Hostile input is refused like every received XML."""
    events = etree.iterparse(
        source,
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,  # a 50 MB document is one large text node
    )
    try:
        for seen, (_, node) in enumerate(events, 1):
            _bounded(node, seen)
            parent = node.getparent()
            if node.tag != f"{{{HL7V3}}}text" or parent is None or parent.tag != f"{{{HL7V3}}}nonXMLBody":
                continue
            if node.get("representation") != "B64":
                raise LocalProtocolError("Corps du CDA non encodé en base64.")
            text = node.text or ""
            if any(c.isspace() for c in text[:4096]) or any(c.isspace() for c in text[-4096:]):
                text = "".join(text.split())
            step = _CHUNK // 3 * 4  # whole base64 quanta
            for start in range(0, len(text), step):
                out.write(base64.b64decode(text[start : start + step], validate=True))
            return node.get("mediaType", "")
    except (etree.XMLSyntaxError, ValueError):
        raise LocalProtocolError("Document CDA illisible.") from None
    raise LocalProtocolError("Ce CDA ne contient pas de document (nonXMLBody) : CDA structuré ?")
