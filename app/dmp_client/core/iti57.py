"""TD3.3: ITI-57 Update Document Set (dmp-interface.md §3, §7, §8).

- Masking and visibility (TD3.3a/b): a new metadata version of the DocumentEntry (same ``lid``, new
  ``id``, every attribute repeated as the registry returned it) whose confidentiality codes add or
  remove ``MASQUE_PS`` or remove ``INVISIBLE_PATIENT`` / ``INVISIBLE_REPRESENTANTS_LEGAUX``; a
  HasMember association carries ``SubmissionSetStatus=Original`` and ``PreviousVersion``.
- Archive, unarchive, delete (TD3.3c/d): an ``UpdateAvailabilityStatus`` association from the
  SubmissionSet to the entry, with ``OriginalStatus`` and ``NewStatus``.
"""

from __future__ import annotations

from lxml import etree

from app.dmp_client.core import ebrim
from app.dmp_client.core.ebrim import LCM, RIM, AssociationType, Scheme
from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.core.metadata import (
    SubmissionSet,
    Visibility,
    confidentiality_codes,
    submission_set_element,
)
from app.dmp_client.core.ns import q

# resources/spec/wsdl/iti57.wsdl (IHE ITI TF-2b 3.57.4.1.2 and 3.57.4.2.2): the request and response actions.
ACTION = "urn:ihe:iti:2010:UpdateDocumentSet"
ACTION_RESPONSE = "urn:ihe:iti:2010:UpdateDocumentSetResponse"
# The DMP's example messages (dmp-interface.md §2.2) spell the response action with a hyphen: accepted
# as well, never sent (docs/dmp-client.md "SOAP actions").
ACTION_RESPONSE_DMP_EXAMPLES = "urn:ihe:iti:2010:UpdateDocumentSet-Response"
ACCEPTED_RESPONSES = (ACTION_RESPONSE, ACTION_RESPONSE_DMP_EXAMPLES)
_REGISTRY_ONLY = {"status"}


def _request(submission: SubmissionSet) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(q(LCM, "SubmitObjectsRequest"), nsmap={"lcm": LCM, "rim": RIM})
    objects = etree.SubElement(root, q(RIM, "RegistryObjectList"))
    for node in submission_set_element(submission):
        objects.append(node)
    return root, objects


def new_visibility(
    document: DocumentInfo, add: set[Visibility], remove: set[Visibility]
) -> frozenset[Visibility]:
    current = {v for v in Visibility if v.value in document.confidentiality_codes}
    if add & remove:
        raise LocalProtocolError("Un même code ne peut pas être ajouté et retiré à la fois.")
    hiding_again = add - {Visibility.MASKED_FROM_PS} - current
    if hiding_again:
        raise LocalProtocolError(
            "Le DMP ne permet pas de rendre de nouveau un document invisible au patient."
        )
    return frozenset((current | add) - remove)


def build_metadata_update(
    submission: SubmissionSet, document: DocumentInfo, visibility: frozenset[Visibility]
) -> etree._Element:
    """A new version of ``document``'s metadata with the given DMP confidentiality codes."""
    root, objects = _request(submission)
    entry = document.element()
    new_id = ebrim.new_id()
    for attribute in _REGISTRY_ONLY:
        entry.attrib.pop(attribute, None)
    entry.set("id", new_id)
    entry.set("lid", document.lid)
    for child in list(entry):
        if child.tag == q(RIM, "VersionInfo") or (
            child.tag == q(RIM, "Classification")
            and child.get("classificationScheme") == Scheme.DE_CONFIDENTIALITY
        ):
            entry.remove(child)
    anchor = next((c for c in entry if c.tag == q(RIM, "ExternalIdentifier")), None)
    for concept in confidentiality_codes(visibility):
        node = ebrim.coded(
            entry, Scheme.DE_CONFIDENTIALITY, new_id, concept.code, concept.code_system, concept.display_name
        )
        if anchor is not None:
            anchor.addprevious(node)  # Classifications precede ExternalIdentifiers in ebRIM
    for child in entry:
        if child.tag in (q(RIM, "Classification"), q(RIM, "ExternalIdentifier")):
            child.set("id", ebrim.new_id())
            child.set(
                "classifiedObject" if child.tag == q(RIM, "Classification") else "registryObject", new_id
            )
    objects.insert(0, entry)
    ebrim.association(
        objects,
        AssociationType.HAS_MEMBER,
        submission.entry_id,
        new_id,
        {"SubmissionSetStatus": "Original", "PreviousVersion": document.version},
    )
    return root


def build_availability_update(
    submission: SubmissionSet, document: DocumentInfo, new_status: str
) -> etree._Element:
    """Archive (``…Archived``), unarchive (back to Approved) or delete (``…Deleted``)."""
    if document.status == new_status:
        raise LocalProtocolError("Le document a déjà ce statut.")
    if not document.status.strip():
        # Never OriginalStatus="": the caller fetches the entry (LeafClass) first.
        raise LocalProtocolError("Statut actuel du document inconnu : mise à jour refusée.")
    root, objects = _request(submission)
    ebrim.association(
        objects,
        AssociationType.UPDATE_AVAILABILITY,
        submission.entry_id,
        document.entry_id,
        {"OriginalStatus": document.status, "NewStatus": new_status},
    )
    return root
