"""TD2.1 / TD2.2: ITI-41 Provide and Register Document Set-b as the DMP profiles it (dmp-interface.md
§3, §5.2, §7).

One SubmissionSet, the DocumentEntries (CDA), the XAdES submission-set signature as an extra
DocumentEntry, the HasMember / signs / RPLC associations, and one ``xdsb:Document`` per entry whose
content is an ``xop:Include`` pointing at an MTOM part (the bytes never enter the XML).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core import ebrim
from app.dmp_client.core.cda import Author, new_oid
from app.dmp_client.core.ebrim import LCM, RIM, XDSB, XOP, AssociationType
from app.dmp_client.core.metadata import (
    DocumentEntry,
    SubmissionSet,
    Visibility,
    confidentiality_codes,
    document_entry_element,
    submission_set_element,
)
from app.dmp_client.core.mtom import new_content_id
from app.dmp_client.core.ns import q
from app.dmp_client.core.valuesets import Concept
from app.ins import Ins

ACTION = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_RESPONSE = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"

SIGNATURE_CLASS = Concept("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Digital Signature")
SIGNATURE_TYPE = Concept("E1762", "ASTM", "Full Document")
SIGNATURE_FORMAT = Concept("http://www.w3.org/2000/09/xmldsig#", "URN", "Default Signature Style")
SIGNATURE_EVENT = Concept("1.2.840.10065.1.12.1.14", "1.2.840.10065.1.12", "Source")


def signature_entry(
    patient: Ins, author: Author, facility: Concept, practice: Concept, now: dt.datetime, size: int, sha1: str
) -> DocumentEntry:
    """The submission-set signature's DocumentEntry (§5.2: URN class, E1762, xmldsig format, hidden)."""
    return DocumentEntry(
        entry_id=ebrim.new_id(),
        unique_id=new_oid(),
        patient=patient,
        title="Signature du lot de soumission",
        class_code=SIGNATURE_CLASS,
        type_code=SIGNATURE_TYPE,
        format_code=SIGNATURE_FORMAT,
        facility_type=facility,
        practice_setting=practice,
        confidentiality=confidentiality_codes(
            frozenset({Visibility.MASKED_FROM_PS, Visibility.INVISIBLE_TO_PATIENT})
        ),
        creation_time=now,
        author=author,
        language="art",
        event_codes=(SIGNATURE_EVENT,),
        size=size,
        sha1=sha1,
    )


@dataclass(frozen=True)
class BuiltSubmission:
    payload: etree._Element
    content_ids: dict[str, str]  # entryUUID → MTOM Content-ID


def build_provide_and_register(
    submission: SubmissionSet, documents: list[DocumentEntry], signature: DocumentEntry
) -> BuiltSubmission:
    if not documents:
        raise ValueError("at least one document")
    root = etree.Element(q(XDSB, "ProvideAndRegisterDocumentSetRequest"), nsmap=ebrim.NSMAP | {"xop": XOP})
    request = etree.SubElement(root, q(LCM, "SubmitObjectsRequest"))
    objects = etree.SubElement(request, q(RIM, "RegistryObjectList"))
    for entry in (*documents, signature):
        objects.append(document_entry_element(entry))
    for node in submission_set_element(submission):
        objects.append(node)
    original = {"SubmissionSetStatus": "Original"}
    for entry in (*documents, signature):
        ebrim.association(objects, AssociationType.HAS_MEMBER, submission.entry_id, entry.entry_id, original)
    ebrim.association(objects, AssociationType.SIGNS, signature.entry_id, submission.entry_id)
    for entry in documents:
        if entry.replaces_entry:
            ebrim.association(objects, AssociationType.REPLACE, entry.entry_id, entry.replaces_entry)
    content_ids: dict[str, str] = {}
    for entry in (*documents, signature):
        content_ids[entry.entry_id] = new_content_id()
        document = etree.SubElement(root, q(XDSB, "Document"), id=entry.entry_id)
        etree.SubElement(document, q(XOP, "Include"), href=f"cid:{content_ids[entry.entry_id]}")
    return BuiltSubmission(root, content_ids)
