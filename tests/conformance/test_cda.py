"""Every generated CDA passes the CDA XSD and the CI-SIS structuration-minimale schematron."""

from __future__ import annotations

import base64
import datetime as dt
import io
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core.cda import (
    MEDIA_TYPES,
    Author,
    DocumentHeader,
    Organization,
    Person,
    new_oid,
    write_cda,
)
from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.valuesets import value_sets
from app.ins import IdentityTraits, Ins
from tests.conformance.schematron import StructurationMinimale

ROOT = Path(__file__).resolve().parents[2]
TZ = dt.timezone(dt.timedelta(hours=1))
H = "urn:hl7-org:v3"


@pytest.fixture(scope="session")
def schematron(structuration_minimale: StructurationMinimale) -> StructurationMinimale:
    return structuration_minimale


@pytest.fixture(scope="session")
def cda_schema() -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(str(ROOT / "resources" / "spec" / "cda-xsd" / "cda" / "CDA_extended.xsd"))
    )


def header(**changes: object) -> DocumentHeader:
    v = value_sets()
    gp = Person("899900012341", "CLAIRE", "MEDECIN-GENERALISTE")
    office = Organization("499900012341001", "CABINET DU DR MEDECIN-GENERALISTE")
    now = dt.datetime(2026, 11, 22, 10, 30, tzinfo=TZ)
    base = DocumentHeader(
        document_id=new_oid(),
        set_id=new_oid(),
        version=1,
        type_code=v.type_code("11488-4"),
        title="Compte rendu de consultation",
        created=now,
        service_start=now - dt.timedelta(minutes=20),
        service_stop=now,
        patient=Ins.parse("150081505104018", "1.2.250.1.213.1.4.10"),
        traits=IdentityTraits.parse("BERNARD", "JEAN", "M", "1950-08-01", "15051"),
        author=Author(gp, v.author_specialties["G15_10/SM54"], office),
        legal_authenticator=gp,
        custodian=office,
        practice_setting=v.practice_settings["AMBULATOIRE"],
        facility_type=v.facility_types["SA07"],
        media_type="application/pdf",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def errors(schematron: StructurationMinimale, cda: bytes) -> list[str]:
    return [f.text for f in schematron.check(cda) if f.role == "error"]


def test_the_ans_examples_pass_and_the_drimbox_sample_fails_as_recorded(
    schematron: StructurationMinimale,
) -> None:
    examples = ROOT / "resources" / "spec" / "cda-examples"
    assert errors(schematron, (examples / "DOC_NON_STRUCTURE_CDA-R2-N1.xml").read_bytes()) == []
    assert len(errors(schematron, (examples / "DRIMbox_DOC00002.xml").read_bytes())) == 6


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
def test_every_media_type_is_valid(
    media_type: str, schematron: StructurationMinimale, cda_schema: etree.XMLSchema
) -> None:
    out = io.BytesIO()
    payload = b"contenu de test \xe9" * 50
    written = write_cda(header(media_type=media_type), io.BytesIO(payload), out)
    cda = out.getvalue()
    assert written.size == len(cda)
    document = etree.fromstring(cda)
    assert cda_schema.validate(document), cda_schema.error_log
    assert errors(schematron, cda) == []
    text = document.find(f"{{{H}}}component/{{{H}}}nonXMLBody/{{{H}}}text")
    assert text.get("mediaType") == media_type and base64.b64decode(text.text) == payload


def test_new_version_keeps_the_set_and_replaces_the_previous_id(
    schematron: StructurationMinimale, cda_schema: etree.XMLSchema
) -> None:
    first = header()
    second = header(document_id=new_oid(), set_id=first.set_id, version=2, replaces=first.document_id)
    out = io.BytesIO()
    write_cda(second, io.BytesIO(b"v2"), out)
    document = etree.fromstring(out.getvalue())
    assert cda_schema.validate(document), cda_schema.error_log
    assert errors(schematron, out.getvalue()) == []
    ns = {"h": H}
    assert document.xpath("string(h:setId/@root)", namespaces=ns) == first.set_id
    assert document.xpath("string(h:versionNumber/@value)", namespaces=ns) == "2"
    assert document.xpath(
        "string(h:relatedDocument[@typeCode='RPLC']/h:parentDocument/h:id/@root)", namespaces=ns
    ) == (first.document_id)


@pytest.mark.parametrize(
    "changes",
    [
        {"media_type": "application/msword"},
        {"version": 2},
        {"replaces": "1.2.3"},
        {"traits": IdentityTraits.parse("BERNARD", "JEAN", "M", "1950-08-01")},
        {"created": dt.datetime(2026, 11, 22, 10, 30)},
    ],
)
def test_invalid_documents_are_refused_before_sending(changes: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        write_cda(header(**changes), io.BytesIO(b"x"), io.BytesIO())


def chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = bytes(range(256)) * (size // 256)
    for _ in range(total // size):
        yield block


class ChunkReader(io.RawIOBase):
    def __init__(self, total: int) -> None:
        self._chunks = chunks(total)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while len(self._rest) < n:
            try:
                self._rest += next(self._chunks)
            except StopIteration:
                break
        piece, self._rest = self._rest[:n], self._rest[n:]
        return piece


class Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def test_the_document_is_streamed_not_held_as_one_base64_string() -> None:
    total = 20 * (1 << 20)
    tracemalloc.start()
    written = write_cda(header(), ChunkReader(total), Sink())  # type: ignore[arg-type]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert written.size > total * 4 // 3
    assert peak < 8 * (1 << 20)  # a few chunks, far below the 27 MB of base64
