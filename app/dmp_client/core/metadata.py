"""XDS metadata of a submission (dmp-interface.md §5.2): DocumentEntries derived from the CDA header
(as the ANS mapping CDAHeaderToXDM.xsl derives them) and the SubmissionSet.

A DocumentEntry is never typed by hand: :func:`entry_for_document` takes the same
:class:`~app.dmp_client.core.cda.DocumentHeader` the CDA was written from, so the metadata and the
header cannot disagree (typeCode = ``ClinicalDocument/code``, uniqueId = ``ClinicalDocument/id``,
times converted to UTC, facility and practice setting as in the header, title = Name). Codes come
from the shipped value sets; the classCode is derived from the typeCode through ASS_X16.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from app.dmp_client.core import ebrim
from app.dmp_client.core.cda import Author, DocumentHeader, Person, WrittenCda
from app.dmp_client.core.ebrim import Scheme
from app.dmp_client.core.valuesets import Concept, value_sets
from app.ins import IdentityTraits, Ins

CONFIDENTIALITY_HL7 = "2.16.840.1.113883.5.25"
CONFIDENTIALITY_DMP = "1.2.250.1.213.1.1.4.13"  # TRE_A07
CONTENT_TYPE_SYSTEM = "1.2.250.1.213.2.2"  # TRE_R209


class Visibility(StrEnum):
    """The DMP confidentiality codes added to ``N`` (TRE_A07, dmp-interface.md §8)."""

    MASKED_FROM_PS = "MASQUE_PS"
    INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"
    INVISIBLE_TO_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"


def confidentiality_codes(flags: frozenset[Visibility]) -> tuple[Concept, ...]:
    """``N`` plus one concept per flag, display names from JDV_J08."""
    table = value_sets().confidentiality
    normal = table.get("N") or Concept("N", CONFIDENTIALITY_HL7, "Normal")
    extra = tuple(
        table.get(flag.value) or Concept(flag.value, CONFIDENTIALITY_DMP, flag.value)
        for flag in sorted(flags)
    )
    return (normal, *extra)


@dataclass(frozen=True)
class DocumentEntry:
    """One DocumentEntry to submit (the CDA, or the submission-set signature)."""

    entry_id: str
    unique_id: str
    patient: Ins
    title: str
    class_code: Concept
    type_code: Concept
    format_code: Concept
    facility_type: Concept
    practice_setting: Concept
    confidentiality: tuple[Concept, ...]
    creation_time: dt.datetime
    author: Author
    mime_type: str = "text/xml"
    language: str = "fr-FR"
    service_start: dt.datetime | None = None
    service_stop: dt.datetime | None = None
    legal_authenticator: Person | None = None
    traits: IdentityTraits | None = None
    event_codes: tuple[Concept, ...] = ()
    size: int | None = None
    sha1: str | None = None
    replaces_entry: str | None = None  # entryUUID of the version this one replaces (RPLC)


def entry_for_document(
    header: DocumentHeader,
    written: WrittenCda,
    *,
    visibility: frozenset[Visibility] = frozenset(),
    replaces_entry: str | None = None,
    format_code: Concept | None = None,
) -> DocumentEntry:
    """``format_code`` is given for a structured document (its volet's, JDV_J10); a level-1 one's
    derives from the wrapped file's media type."""
    sets = value_sets()
    return DocumentEntry(
        entry_id=ebrim.new_id(),
        unique_id=header.document_id,
        patient=header.patient,
        title=header.title,
        class_code=sets.class_code(header.type_code),
        type_code=header.type_code,
        format_code=format_code or sets.format_code(header.media_type),
        facility_type=header.facility_type,
        practice_setting=header.practice_setting,
        confidentiality=confidentiality_codes(visibility),
        creation_time=header.created,
        author=header.author,
        service_start=header.service_start,
        service_stop=header.service_stop,
        legal_authenticator=header.legal_authenticator,
        traits=header.traits,
        size=written.size,
        sha1=written.sha1,
        replaces_entry=replaces_entry,
    )


@dataclass(frozen=True)
class SubmissionSet:
    entry_id: str
    unique_id: str
    source_id: str  # the sending software's / structure's OID
    patient: Ins
    author: Author
    submission_time: dt.datetime
    content_type: Concept
    title: str = "Soumission de documents"
    members: tuple[str, ...] = field(default=())


def _author(parent: etree._Element, scheme: str, target: str, author: Author) -> None:
    node = ebrim.rim(
        parent,
        "Classification",
        id=ebrim.new_id(),
        objectType=ebrim.CLASSIFICATION_TYPE,
        classificationScheme=scheme,
        classifiedObject=target,
        nodeRepresentation="",
    )
    person = author.person
    ebrim.slot(node, "authorPerson", [ebrim.xcn(person.national_id, person.family, person.given)])
    ebrim.slot(
        node, "authorInstitution", [ebrim.xon(author.organization.name, author.organization.id_nat_struct)]
    )
    s = author.specialty
    ebrim.slot(node, "authorSpecialty", [f"{s.code}^{ebrim.hl7_escape(s.display_name)}^{s.code_system}"])


def _source_patient_info(traits: IdentityTraits) -> list[str]:
    family = ebrim.hl7_escape(traits.birth_name)
    given = ebrim.hl7_escape(traits.first_names[0])
    return [
        f"PID-5|{family}^{given}^^^^^L",
        f"PID-7|{traits.birth_date.to_hl7()}",
        f"PID-8|{traits.sex.value}",
    ]


def document_entry_element(entry: DocumentEntry) -> etree._Element:
    """The ``rim:ExtrinsicObject`` of one DocumentEntry."""
    node = etree.Element(
        ebrim.q_rim("ExtrinsicObject"),
        id=entry.entry_id,
        mimeType=entry.mime_type,
        objectType=ebrim.DOCUMENT_ENTRY_TYPE,
    )
    target = entry.entry_id
    ebrim.slot(node, "creationTime", [ebrim.xds_time(entry.creation_time)])
    if entry.sha1:
        ebrim.slot(node, "hash", [entry.sha1])
    ebrim.slot(node, "languageCode", [entry.language])
    if entry.legal_authenticator is not None:
        p = entry.legal_authenticator
        ebrim.slot(node, "legalAuthenticator", [ebrim.xcn(p.national_id, p.family, p.given)])
    if entry.service_start is not None:
        ebrim.slot(node, "serviceStartTime", [ebrim.xds_time(entry.service_start)])
    if entry.service_stop is not None:
        ebrim.slot(node, "serviceStopTime", [ebrim.xds_time(entry.service_stop)])
    if entry.size is not None:
        ebrim.slot(node, "size", [str(entry.size)])
    ebrim.slot(node, "sourcePatientId", [entry.patient.to_cx()])
    if entry.traits is not None:
        ebrim.slot(node, "sourcePatientInfo", _source_patient_info(entry.traits))
    ebrim.localized(node, "Name", entry.title)
    _author(node, Scheme.DE_AUTHOR, target, entry.author)
    c = entry.class_code
    ebrim.coded(node, Scheme.DE_CLASS, target, c.code, c.code_system, c.display_name)
    for concept in entry.confidentiality:
        ebrim.coded(
            node, Scheme.DE_CONFIDENTIALITY, target, concept.code, concept.code_system, concept.display_name
        )
    for concept in entry.event_codes:
        ebrim.coded(node, Scheme.DE_EVENT, target, concept.code, concept.code_system, concept.display_name)
    for scheme, concept in (
        (Scheme.DE_FORMAT, entry.format_code),
        (Scheme.DE_FACILITY, entry.facility_type),
        (Scheme.DE_PRACTICE, entry.practice_setting),
        (Scheme.DE_TYPE, entry.type_code),
    ):
        ebrim.coded(node, scheme, target, concept.code, concept.code_system, concept.display_name)
    ebrim.external_id(node, Scheme.DE_PATIENT_ID, target, entry.patient.to_cx(), "XDSDocumentEntry.patientId")
    ebrim.external_id(node, Scheme.DE_UNIQUE_ID, target, entry.unique_id, "XDSDocumentEntry.uniqueId")
    return node


def submission_set_element(submission: SubmissionSet) -> list[etree._Element]:
    """The ``rim:RegistryPackage`` and the Classification that makes it a SubmissionSet."""
    target = submission.entry_id
    package = etree.Element(ebrim.q_rim("RegistryPackage"), id=target, objectType=ebrim.PACKAGE_TYPE)
    ebrim.slot(package, "submissionTime", [ebrim.xds_time(submission.submission_time)])
    ebrim.localized(package, "Name", submission.title)
    _author(package, Scheme.SS_AUTHOR, target, submission.author)
    ct = submission.content_type
    ebrim.coded(package, Scheme.SS_CONTENT_TYPE, target, ct.code, ct.code_system, ct.display_name)
    ebrim.external_id(package, Scheme.SS_UNIQUE_ID, target, submission.unique_id, "XDSSubmissionSet.uniqueId")
    ebrim.external_id(package, Scheme.SS_SOURCE_ID, target, submission.source_id, "XDSSubmissionSet.sourceId")
    ebrim.external_id(
        package, Scheme.SS_PATIENT_ID, target, submission.patient.to_cx(), "XDSSubmissionSet.patientId"
    )
    marker = etree.Element(
        ebrim.q_rim("Classification"),
        id=ebrim.new_id(),
        objectType=ebrim.CLASSIFICATION_TYPE,
        classifiedObject=target,
        classificationNode=ebrim.SUBMISSION_SET_NODE,
    )
    return [package, marker]
