"""TD3.2: ITI-43 Retrieve Document Set (dmp-interface.md §3): the request names the repository and the
document's **uniqueId** (not its entryUUID); the answer's documents arrive as MTOM parts, or inline
base64 from hosts that do not use MTOM (both read)."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core.ebrim import RS, XDSB, XOP
from app.dmp_client.core.errors import MalformedResponse
from app.dmp_client.core.mtom import cid_of
from app.dmp_client.core.ns import q
from app.dmp_client.core.registry import RegistryErrorItem, check_status

ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet"
ACTION_RESPONSE = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"


@dataclass(frozen=True)
class DocumentRequest:
    repository_id: str
    unique_id: str


def build_retrieve(requests: list[DocumentRequest]) -> etree._Element:
    root = etree.Element(q(XDSB, "RetrieveDocumentSetRequest"), nsmap={"xdsb": XDSB})
    for request in requests:
        node = etree.SubElement(root, q(XDSB, "DocumentRequest"))
        etree.SubElement(node, q(XDSB, "RepositoryUniqueId")).text = request.repository_id
        etree.SubElement(node, q(XDSB, "DocumentUniqueId")).text = request.unique_id
    return root


@dataclass(frozen=True)
class RetrievedRef:
    """Where one returned document's bytes are: an MTOM part (content id) or inline base64 text."""

    repository_id: str
    unique_id: str
    mime_type: str
    content_id: str | None
    inline_base64: str | None


@dataclass(frozen=True)
class RetrieveResult:
    documents: tuple[RetrievedRef, ...]
    warnings: tuple[RegistryErrorItem, ...]


def parse_retrieve_response(payload: etree._Element) -> RetrieveResult:
    if payload.tag != q(XDSB, "RetrieveDocumentSetResponse"):
        raise MalformedResponse(
            f"RetrieveDocumentSetResponse attendue, reçu {etree.QName(payload).localname}."
        )
    status = payload.find(q(RS, "RegistryResponse"))
    if status is None:
        raise MalformedResponse("Réponse ITI-43 sans RegistryResponse.")
    warnings = check_status(status)
    documents = []
    for node in payload.iterfind(q(XDSB, "DocumentResponse")):
        document = node.find(q(XDSB, "Document"))
        if document is None:
            raise MalformedResponse("Document absent de la réponse du DMP.")
        include = document.find(q(XOP, "Include"))
        documents.append(
            RetrievedRef(
                node.findtext(q(XDSB, "RepositoryUniqueId"), "").strip(),
                node.findtext(q(XDSB, "DocumentUniqueId"), "").strip(),
                node.findtext(q(XDSB, "mimeType"), "").strip(),
                cid_of(include.get("href", "")) if include is not None else None,
                None if include is not None else (document.text or ""),
            )
        )
    return RetrieveResult(tuple(documents), warnings)
