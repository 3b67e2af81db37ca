"""TD3.1: ITI-18 Registry Stored Query (dmp-interface.md §3, §5.1, §9) — builders for every stored query
the client uses and a tolerant reader of the metadata the registry returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from app.dmp_client.core import ebrim
from app.dmp_client.core.ebrim import QUERY, RIM, Scheme, Status
from app.dmp_client.core.errors import MalformedResponse
from app.dmp_client.core.ns import q
from app.dmp_client.core.registry import RegistryErrorItem, check_status
from app.dmp_client.core.valuesets import Concept
from app.ins import Ins

ACTION = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_RESPONSE = "urn:ihe:iti:2007:RegistryStoredQueryResponse"


class StoredQuery(StrEnum):
    FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
    FIND_SUBMISSION_SETS = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
    GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
    GET_ASSOCIATIONS = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
    GET_DOCUMENTS_AND_ASSOCIATIONS = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
    GET_SUBMISSION_SET_AND_CONTENTS = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
    GET_RELATED_DOCUMENTS = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"
    FIND_DOCUMENTS_BY_REFERENCE_ID = "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492"


class ReturnType(StrEnum):
    LEAF_CLASS = "LeafClass"
    OBJECT_REF = "ObjectRef"


MAX_VALUE = 256  # ebRIM caps rim:Value at 256 characters


def _quoted(value: str) -> list[str]:
    return ["'" + value.replace("'", "''") + "'"]


def _list(values: Iterable[str]) -> list[str]:
    """``('a','b')`` packed into as few ``rim:Value`` as the 256-character cap allows (IHE: several
    Values of one parameter are OR-ed, like the items of one list)."""
    packed: list[str] = []
    current: list[str] = []
    for value in values:
        item = "'" + value.replace("'", "''") + "'"
        if current and len(",".join([*current, item])) + 2 > MAX_VALUE:
            packed.append("(" + ",".join(current) + ")")
            current = []
        current.append(item)
    if current:
        packed.append("(" + ",".join(current) + ")")
    return packed


def _coded(concepts: Iterable[Concept]) -> list[str]:
    return _list(f"{c.code}^^{c.code_system}" for c in concepts)


@dataclass(frozen=True)
class FindDocuments:
    """FindDocuments with the filters the client offers (all optional but the patient)."""

    patient: Ins
    statuses: tuple[str, ...] = (Status.APPROVED,)
    class_codes: tuple[Concept, ...] = ()
    type_codes: tuple[Concept, ...] = ()
    format_codes: tuple[Concept, ...] = ()
    practice_settings: tuple[Concept, ...] = ()
    facility_types: tuple[Concept, ...] = ()
    confidentiality: tuple[Concept, ...] = ()
    event_codes: tuple[Concept, ...] = ()
    author_person: str | None = None
    creation_from: dt.datetime | None = None
    creation_to: dt.datetime | None = None
    service_start_from: dt.datetime | None = None
    service_start_to: dt.datetime | None = None
    service_stop_from: dt.datetime | None = None
    service_stop_to: dt.datetime | None = None

    def parameters(self) -> dict[str, list[str]]:
        p = {
            "$XDSDocumentEntryPatientId": _quoted(self.patient.to_cx()),
            "$XDSDocumentEntryStatus": _list(self.statuses),
        }
        for name, concepts in (
            ("ClassCode", self.class_codes),
            ("TypeCode", self.type_codes),
            ("FormatCode", self.format_codes),
            ("PracticeSettingCode", self.practice_settings),
            ("HealthcareFacilityTypeCode", self.facility_types),
            ("ConfidentialityCode", self.confidentiality),
            ("EventCodeList", self.event_codes),
        ):
            if concepts:
                p[f"$XDSDocumentEntry{name}"] = _coded(concepts)
        for name, moment in (
            ("CreationTimeFrom", self.creation_from),
            ("CreationTimeTo", self.creation_to),
            ("ServiceStartTimeFrom", self.service_start_from),
            ("ServiceStartTimeTo", self.service_start_to),
            ("ServiceStopTimeFrom", self.service_stop_from),
            ("ServiceStopTimeTo", self.service_stop_to),
        ):
            if moment is not None:
                p[f"$XDSDocumentEntry{name}"] = [ebrim.xds_time(moment)]
        if self.author_person:
            # Multi-valued ("M" in ITI TF-2a 3.18.4.1.2.3.7.1; values in ( ), 3.18.4.1.2.3.5).
            p["$XDSDocumentEntryAuthorPerson"] = _list([self.author_person])
        return p


def by_uuid_or_unique_id(
    prefix: str, uuids: Sequence[str], unique_ids: Sequence[str]
) -> dict[str, list[str]]:
    if bool(uuids) == bool(unique_ids):
        raise ValueError("exactly one of entry UUIDs or uniqueIds")
    return {f"{prefix}EntryUUID": _list(uuids)} if uuids else {f"{prefix}UniqueId": _list(unique_ids)}


def find_submission_sets(
    patient: Ins, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, list[str]]:
    p = {
        "$XDSSubmissionSetPatientId": _quoted(patient.to_cx()),
        "$XDSSubmissionSetStatus": _list([Status.APPROVED]),
    }
    if since:
        p["$XDSSubmissionSetSubmissionTimeFrom"] = [ebrim.xds_time(since)]
    if until:
        p["$XDSSubmissionSetSubmissionTimeTo"] = [ebrim.xds_time(until)]
    return p


def get_related_documents(entry_uuid: str, association_types: Sequence[str]) -> dict[str, list[str]]:
    # $XDSDocumentEntryEntryUUID is single-valued in GetRelatedDocuments (ITI TF-2a 3.18.4.1.2.3.7.8):
    # a single quoted value, no ( ) (3.18.4.1.2.3.5); $AssociationTypes is multi-valued.
    return {"$XDSDocumentEntryEntryUUID": _quoted(entry_uuid), "$AssociationTypes": _list(association_types)}


def find_by_reference_id(
    patient: Ins, reference_ids: Sequence[str], statuses: Sequence[str]
) -> dict[str, list[str]]:
    return {
        "$XDSDocumentEntryPatientId": _quoted(patient.to_cx()),
        "$XDSDocumentEntryStatus": _list(statuses),
        "$XDSDocumentEntryReferenceIdList": _list(reference_ids),
    }


def get_associations(uuids: Sequence[str]) -> dict[str, list[str]]:
    return {"$uuid": _list(uuids)}


def build_query(
    query: StoredQuery, parameters: dict[str, list[str]], return_type: ReturnType
) -> etree._Element:
    root = etree.Element(q(QUERY, "AdhocQueryRequest"), nsmap={"query": QUERY, "rim": RIM})
    etree.SubElement(
        root, q(QUERY, "ResponseOption"), returnType=return_type.value, returnComposedObjects="true"
    )
    adhoc = etree.SubElement(root, q(RIM, "AdhocQuery"), id=query.value)
    for name, values in parameters.items():
        ebrim.slot(adhoc, name, values)
    return root


# entry_xml was serialized by lxml from an already-parsed answer; re-read it without DTDs or network.
_ENTRY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class DocumentInfo:
    """One DocumentEntry as the registry describes it."""

    entry_id: str
    lid: str
    version: str
    status: str
    unique_id: str
    repository_id: str
    patient_cx: str
    title: str
    mime_type: str
    class_code: Concept | None
    type_code: Concept | None
    format_code: Concept | None
    facility_type: Concept | None
    practice_setting: Concept | None
    confidentiality: tuple[Concept, ...]
    creation_time: dt.datetime | None
    service_start: dt.datetime | None
    service_stop: dt.datetime | None
    author_persons: tuple[str, ...]
    author_institutions: tuple[str, ...]
    size: int | None
    sha1: str | None
    # The entry's own serialized ExtrinsicObject (what ITI-57 rebuilds an update from): bytes, not a
    # reference into the answer's tree, which would keep the whole batch alive (86 KiB a document).
    entry_xml: bytes = field(repr=False, compare=False)

    def element(self) -> etree._Element:
        """A fresh copy of the entry as the registry sent it (parsed from ``entry_xml``)."""
        return etree.fromstring(self.entry_xml, _ENTRY_PARSER)

    @property
    def confidentiality_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.confidentiality)

    @property
    def author_ids(self) -> tuple[str, ...]:
        return tuple(p.split("^", 1)[0] for p in self.author_persons)


@dataclass(frozen=True)
class AssociationInfo:
    entry_id: str
    kind: str
    source: str
    target: str
    slots: dict[str, list[str]]


@dataclass(frozen=True)
class SubmissionSetInfo:
    entry_id: str
    unique_id: str
    submission_time: dt.datetime | None
    title: str


@dataclass(frozen=True)
class QueryResult:
    documents: tuple[DocumentInfo, ...]
    submission_sets: tuple[SubmissionSetInfo, ...]
    associations: tuple[AssociationInfo, ...]
    object_refs: tuple[str, ...]
    warnings: tuple[RegistryErrorItem, ...]


_SLOT = q(RIM, "Slot")
_VALUE_LIST = q(RIM, "ValueList")
_VALUE = q(RIM, "Value")
_NAME = q(RIM, "Name")
_LOCALIZED = q(RIM, "LocalizedString")
_CLASSIFICATION = q(RIM, "Classification")
_EXTERNAL = q(RIM, "ExternalIdentifier")
_VERSION = q(RIM, "VersionInfo")


def _slot_values(slot: etree._Element) -> list[str]:
    return [
        (v.text or "").strip()
        for value_list in slot
        if value_list.tag == _VALUE_LIST
        for v in value_list
        if v.tag == _VALUE
    ]


def _slots(node: etree._Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for s in node:
        if s.tag == _SLOT:
            found.setdefault(s.get("name", ""), []).extend(_slot_values(s))
    return found


def _localized(name: etree._Element) -> str | None:
    for string in name:
        if string.tag == _LOCALIZED:
            return string.get("value", "")
    return None


def _name(node: etree._Element) -> str:
    """The first Name/LocalizedString's value (as ``find('Name/LocalizedString')``)."""
    for name in node:
        if name.tag == _NAME and (value := _localized(name)) is not None:
            return value
    return ""


def _concept(c: etree._Element) -> Concept:
    """One coded Classification read in a single walk over its children."""
    system = ""
    title = ""
    seen_system = seen_name = False
    for child in c:
        tag = child.tag
        if tag == _SLOT and not seen_system and child.get("name") == "codingScheme":
            values = _slot_values(child)
            if values:
                system, seen_system = values[0], True
        elif tag == _NAME and not seen_name and (value := _localized(child)) is not None:
            title, seen_name = value, True
    return Concept(c.get("nodeRepresentation", ""), system, title)


def _one_external(values: set[str]) -> str:
    """The identifier of a scheme; "" when absent or ambiguous (two different values: an entry has
    one patientId and one uniqueId, so the caller's identity checks then refuse it)."""
    return values.pop() if len(values) == 1 else ""


def _external(node: etree._Element, scheme: str) -> str:
    return _one_external(
        {e.get("value", "") for e in node if e.tag == _EXTERNAL and e.get("identificationScheme") == scheme}
    )


def _first(values: list[str] | None) -> str:
    return values[0] if values else ""


_CODED = frozenset({
    Scheme.DE_CLASS, Scheme.DE_TYPE, Scheme.DE_FORMAT, Scheme.DE_FACILITY, Scheme.DE_PRACTICE,
    Scheme.DE_CONFIDENTIALITY,
})  # fmt: skip


def parse_document(node: etree._Element) -> DocumentInfo:
    """One ExtrinsicObject read in a single walk over its children (no XPath per field)."""
    entry_id = node.get("id", "")
    if not entry_id:
        raise MalformedResponse("Document sans identifiant (entryUUID) dans la réponse du DMP.")
    slots: dict[str, list[str]] = {}
    coded: dict[str, list[Concept]] = {}
    persons: list[str] = []
    institutions: list[str] = []
    unique_ids: set[str] = set()
    patient_ids: set[str] = set()
    title = ""
    seen_name = False
    version = "1"
    seen_version = False
    for child in node:
        tag = child.tag
        if tag == _SLOT:
            slots.setdefault(child.get("name", ""), []).extend(_slot_values(child))
        elif tag == _CLASSIFICATION:
            scheme = child.get("classificationScheme")
            if scheme == Scheme.DE_AUTHOR:
                author = _slots(child)
                persons.extend(author.get("authorPerson", []))
                institutions.extend(author.get("authorInstitution", []))
            elif scheme in _CODED:
                coded.setdefault(scheme, []).append(_concept(child))
        elif tag == _EXTERNAL:
            scheme = child.get("identificationScheme")
            if scheme == Scheme.DE_UNIQUE_ID:
                unique_ids.add(child.get("value", ""))
            elif scheme == Scheme.DE_PATIENT_ID:
                patient_ids.add(child.get("value", ""))
        elif tag == _NAME and not seen_name and (value := _localized(child)) is not None:
            title, seen_name = value, True
        elif tag == _VERSION and not seen_version:
            seen_version = True
            version = child.get("versionName", "1")
    size_text = _first(slots.get("size"))

    def one(scheme: str) -> Concept | None:
        found = coded.get(scheme)
        return found[0] if found else None

    return DocumentInfo(
        entry_id=entry_id,
        lid=node.get("lid", entry_id),
        version=version,
        status=node.get("status", ""),
        unique_id=_one_external(unique_ids),
        repository_id=_first(slots.get("repositoryUniqueId")),
        patient_cx=_one_external(patient_ids),
        title=title,
        mime_type=node.get("mimeType", ""),
        class_code=one(Scheme.DE_CLASS),
        type_code=one(Scheme.DE_TYPE),
        format_code=one(Scheme.DE_FORMAT),
        facility_type=one(Scheme.DE_FACILITY),
        practice_setting=one(Scheme.DE_PRACTICE),
        confidentiality=tuple(coded.get(Scheme.DE_CONFIDENTIALITY, ())),
        creation_time=ebrim.parse_xds_time(_first(slots.get("creationTime"))),
        service_start=ebrim.parse_xds_time(_first(slots.get("serviceStartTime"))),
        service_stop=ebrim.parse_xds_time(_first(slots.get("serviceStopTime"))),
        author_persons=tuple(persons),
        author_institutions=tuple(institutions),
        size=int(size_text) if size_text.isascii() and size_text.isdigit() and len(size_text) < 19 else None,
        sha1=_first(slots.get("hash")) or None,
        entry_xml=etree.tostring(node, with_tail=False),
    )


def parse_query_response(payload: etree._Element) -> QueryResult:
    if payload.tag != q(QUERY, "AdhocQueryResponse"):
        raise MalformedResponse(f"AdhocQueryResponse attendue, reçu {etree.QName(payload).localname}.")
    warnings = check_status(payload)
    objects = payload.find(q(RIM, "RegistryObjectList"))
    documents: list[DocumentInfo] = []
    sets: list[SubmissionSetInfo] = []
    associations: list[AssociationInfo] = []
    refs: list[str] = []
    for node in objects if objects is not None else []:
        if not isinstance(node.tag, str):
            continue
        local = etree.QName(node).localname
        if local == "ExtrinsicObject":
            documents.append(parse_document(node))
        elif local == "RegistryPackage":
            slots = _slots(node)
            sets.append(
                SubmissionSetInfo(
                    node.get("id", ""),
                    _external(node, Scheme.SS_UNIQUE_ID),
                    ebrim.parse_xds_time(_first(slots.get("submissionTime"))),
                    _name(node),
                )
            )
        elif local == "Association":
            associations.append(
                AssociationInfo(
                    node.get("id", ""),
                    node.get("associationType", ""),
                    node.get("sourceObject", ""),
                    node.get("targetObject", ""),
                    _slots(node),
                )
            )
        elif local == "ObjectRef":
            refs.append(node.get("id", ""))
    return QueryResult(tuple(documents), tuple(sets), tuple(associations), tuple(refs), warnings)
