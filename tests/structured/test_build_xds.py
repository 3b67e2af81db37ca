"""The structured documents' XDS metadata come from their header through the level-1 mapping;
new versions keep the setId and replace the previous one (RPLC), like level 1."""

from __future__ import annotations

import hashlib
import io

import pytest
from lxml import etree

from app.dmp_client.core.cda import new_oid, read_identity
from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.metadata import document_entry_element
from app.dmp_client.core.structured import (
    VAC_NOTE,
    VSM,
    build_vaccination_note,
    build_vsm,
    entry_for_structured,
    parse_summary,
    parse_vaccinations,
    write_structured,
)
from tests.structured.build_helpers import NS, handoff, header_for, serialize
from tests.structured.schematron import StructuredChecks


def test_the_vsm_entry_derives_from_its_header() -> None:
    parsed = parse_summary(handoff("vsm_full.json"))
    header = header_for(VSM, parsed)
    out = io.BytesIO()
    written = write_structured(build_vsm(header, parsed), out)
    data = out.getvalue()
    assert (written.size, written.sha1) == (len(data), hashlib.sha1(data).hexdigest())
    entry = entry_for_structured(VSM, header, written)
    assert (entry.type_code.code, entry.type_code.code_system) == ("SYNTH", "1.2.250.1.213.1.1.4.12")
    assert entry.class_code.code == "11"  # ASS_X16: SYNTH → 11 (synthèse)
    assert (entry.format_code.code, entry.format_code.code_system) == (
        "urn:asip:ci-sis:vsm:2012",
        "1.2.250.1.213.1.1.4.2.282",
    )
    assert entry.mime_type == "text/xml"
    assert entry.unique_id == header.document_id and entry.patient == header.patient
    document = etree.fromstring(data)
    assert document.findtext("cda:title", namespaces=NS) == entry.title == "Synthèse médicale"
    code = document.find("cda:code", NS)
    assert code is not None and code.get("code") == entry.type_code.code
    element = document_entry_element(entry)  # the ebRIM of the level-1 builder
    assert element.get("mimeType") == "text/xml"


def test_the_vaccination_note_entry_derives_from_its_header() -> None:
    parsed = parse_vaccinations(handoff("vaccination_adult.json"))
    header = header_for(VAC_NOTE, parsed)
    written = write_structured(build_vaccination_note(header, parsed.vaccinations[0]), io.BytesIO())
    entry = entry_for_structured(VAC_NOTE, header, written)
    assert (entry.type_code.code, entry.class_code.code) == ("87273-9", "52")
    assert entry.format_code.code == "urn:asip:ci-sis:vac-note:2021"


def test_the_same_input_builds_the_same_bytes() -> None:
    """The upload queue rebuilds a document at each attempt: ids are derived, not random."""
    parsed = parse_summary(handoff("vsm_full.json"))
    header = header_for(VSM, parsed, document_id=new_oid())
    assert serialize(build_vsm(header, parsed)) == serialize(build_vsm(header, parsed))


def test_a_new_version_keeps_the_set_and_replaces_the_previous_one(
    structured_checks: StructuredChecks,
) -> None:
    parsed = parse_summary(handoff("vsm_full.json"))
    first = serialize(build_vsm(header_for(VSM, parsed), parsed))
    previous = read_identity(io.BytesIO(first))
    second = serialize(
        build_vsm(
            header_for(
                VSM,
                parsed,
                version=previous.version + 1,
                set_id=previous.set_id,
                replaces=previous.document_id,
            ),
            parsed,
        )
    )
    identity = read_identity(io.BytesIO(second))
    assert (identity.set_id, identity.version) == (previous.set_id, 2)
    assert identity.document_id != previous.document_id
    related = etree.fromstring(second).find("cda:relatedDocument", NS)
    assert related is not None and related.get("typeCode") == "RPLC"
    assert related.find("cda:parentDocument/cda:id", NS).get("root") == previous.document_id  # type: ignore[union-attr]
    report = structured_checks.check(second, "VSM")
    assert report.clean, report.texts()


def test_version_numbers_and_replacements_go_together() -> None:
    parsed = parse_summary(handoff("vsm_minimal.json"))
    with pytest.raises(LocalProtocolError):
        build_vsm(header_for(VSM, parsed, version=2), parsed)
    with pytest.raises(LocalProtocolError):
        build_vsm(header_for(VSM, parsed, replaces=new_oid()), parsed)
