"""The XDS DocumentEntry of a structured document: the level-1 mapping (core/metadata.py, after the
ANS CDAHeaderToXDM.xsl) from the same header record, with the volet's formatCode (JDV_J10:
``urn:asip:ci-sis:vsm:2012``, ``urn:asip:ci-sis:vac-note:2021``) instead of the media type's."""

from __future__ import annotations

from app.dmp_client.core.cda import DocumentHeader, WrittenCda
from app.dmp_client.core.metadata import DocumentEntry, Visibility, entry_for_document
from app.dmp_client.core.structured.build import Volet


def entry_for_structured(
    volet: Volet,
    header: DocumentHeader,
    written: WrittenCda,
    *,
    visibility: frozenset[Visibility] = frozenset(),
    replaces_entry: str | None = None,
) -> DocumentEntry:
    return entry_for_document(
        header, written, visibility=visibility, replaces_entry=replaces_entry, format_code=volet.format_code
    )
