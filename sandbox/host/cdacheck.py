"""CDA checks on ITI-41: hardened parse, CDA XSD, and the header against the XDS metadata (§5.2, §11)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from sandbox.host import safexml
from sandbox.host.mtom import Part
from sandbox.host.vihf import TEST_OIDS
from sandbox.host.xds import XdsError, cda_schema, schema_errors

HL7 = "urn:hl7-org:v3"
H = {"h": HL7}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
_HOSTILE = re.compile(rb"<!(?i:doctype|entity)")
_TS = re.compile(r"^(\d{4,14})(?:\.\d+)?([+-]\d{4})?$")


MAX_CDA_MARKUP = 1_000_000  # ``<`` and ``=``: elements, text nodes, attributes (safexml.py)


class _Reader:
    """A file-like view of a document (MTOM part or bytes) for lxml, read chunk by chunk, each chunk
    checked before lxml sees it (safexml's rules, streamed): an 8-bit encoding (a CDA is UTF-8),
    no DOCTYPE or entity declaration anywhere (across chunk boundaries too), bounded markup."""

    def __init__(self, source: Part | bytes) -> None:
        self._chunks = source.chunks() if isinstance(source, Part) else _slices(source)
        self._head = True
        self._tail = b""
        self._markup = 0

    def read(self, size: int = -1) -> bytes:
        chunk = next(self._chunks, b"")
        if self._head and chunk:
            self._head = False
            if chunk.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00", b"<\x00")):
                raise XdsError(
                    "XDSRepositoryMetadataError", "Document CDA refusé (encodage autre que UTF-8)."
                )
            try:
                safexml.guard(chunk[:512])  # the declared encoding: an 8-bit one only
            except safexml.Refused as refused:
                raise XdsError("XDSRepositoryMetadataError", f"Document CDA : {refused.reason}") from None
        window = self._tail + chunk
        if _HOSTILE.search(window) is not None:
            raise XdsError("XDSRepositoryMetadataError", "Document CDA refusé (DTD ou entités).")
        self._tail = window[-9:]
        self._markup += chunk.count(b"<") + chunk.count(b"=")
        if self._markup > MAX_CDA_MARKUP:
            raise XdsError("XDSRepositoryMetadataError", "Document CDA refusé (trop d'éléments).")
        return chunk


def _slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), 1024 * 1024):
        yield bytes(view[start : start + 1024 * 1024])


@dataclass(frozen=True)
class CdaHeader:
    set_id: str
    version: str


def utc(value: str) -> str | None:
    """HL7 TS with an offset → UTC ``yyyyMMdd[HHmm[ss]]`` at the same precision."""
    found = _TS.match(value or "")
    if not found:
        return None
    digits, offset = found.groups()
    if not offset or len(digits) < 12:
        return digits
    padded = digits.ljust(14, "0")
    moment = dt.datetime.strptime(padded, "%Y%m%d%H%M%S")
    sign = 1 if offset[0] == "+" else -1
    shift = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return (moment - sign * shift).strftime("%Y%m%d%H%M%S")[: len(digits)]


def _attr(doc: etree._Element, path: str, name: str) -> str:
    found = doc.xpath(path, namespaces=H)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0].get(name, "")
    return ""


def check_cda(source: Part | bytes, entry: dict[str, str], matricule: str, oid: str) -> CdaHeader:
    """Validate the CDA and compare its header with the entry's metadata; raise XdsError."""
    where = entry["uniqueId"]
    try:
        doc = etree.parse(_Reader(source), parser=_PARSER).getroot()
    except (etree.XMLSyntaxError, ValueError, LookupError):
        raise XdsError("XDSRepositoryMetadataError", "Document CDA mal formé.", where) from None
    if doc.getroottree().docinfo.doctype:
        raise XdsError("XDSRepositoryMetadataError", "Document CDA refusé (DTD ou entités).", where)
    if doc.tag != f"{{{HL7}}}ClinicalDocument":
        raise XdsError("XDSRepositoryMetadataError", "Document text/xml qui n'est pas un CDA R2.", where)
    errors = schema_errors(cda_schema(), doc)
    if errors:
        raise XdsError("XDSRepositoryMetadataError", f"CDA non conforme au schéma : {errors[0]}", where)
    mismatches: list[str] = []
    code = doc.find(f"{{{HL7}}}code")
    if code is None or (code.get("code"), code.get("codeSystem")) != (entry["typeCode"], entry["typeScheme"]):
        mismatches.append("typeCode ≠ ClinicalDocument/code")
    doc_id = doc.find(f"{{{HL7}}}id")
    ids = set()
    if doc_id is not None:
        root, ext = doc_id.get("root", ""), doc_id.get("extension")
        ids = {f"{root}^{ext}", f"{root}.{ext}"} if ext else {root}
    if entry["uniqueId"] not in ids:
        mismatches.append("uniqueId ≠ ClinicalDocument/id")
    patient_ids = {
        (i.get("root"), i.get("extension")) for i in doc.iterfind("h:recordTarget/h:patientRole/h:id", H)
    }
    if (oid, matricule) not in patient_ids or oid not in TEST_OIDS:
        mismatches.append("INS du patient ≠ recordTarget/patientRole/id")
    if (doc.findtext(f"{{{HL7}}}title") or "").strip() != entry["title"].strip():
        mismatches.append("titre (Name) ≠ ClinicalDocument/title")
    effective = utc(_attr(doc, "h:effectiveTime", "value"))
    creation = entry["creationTime"]
    if effective is None or not (effective.startswith(creation) or creation.startswith(effective)):
        mismatches.append("creationTime ≠ effectiveTime (en UTC)")
    facility = _attr(
        doc, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code", "code"
    )
    if facility != entry["facility"]:
        mismatches.append("healthcareFacilityTypeCode ≠ healthCareFacility/code")
    practice = _attr(
        doc,
        "h:documentationOf/h:serviceEvent/h:performer/h:assignedEntity/h:representedOrganization"
        "/h:standardIndustryClassCode",
        "code",
    )
    if practice != entry["practice"]:
        mismatches.append("practiceSettingCode ≠ serviceEvent/performer/…/standardIndustryClassCode")
    if _attr(doc, "h:confidentialityCode", "code") != "N":
        mismatches.append("confidentialityCode du CDA différent de N")
    if mismatches:
        raise XdsError(
            "XDSRepositoryMetadataError",
            "En-tête CDA incohérent avec les métadonnées : " + "; ".join(mismatches),
            where,
        )
    set_id = doc.find(f"{{{HL7}}}setId")
    set_value = ""
    if set_id is not None:
        ext = set_id.get("extension")
        set_value = f"{set_id.get('root', '')}^{ext}" if ext else set_id.get("root", "")
    return CdaHeader(set_value, _attr(doc, "h:versionNumber", "value"))
