"""Building the test documents: hand-off files of tests/data/structured/ for a sandbox patient."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from lxml import etree

from app.dmp_client.core.cda import DocumentHeader, new_oid
from app.dmp_client.core.structured import (
    VAC_NOTE,
    VSM,
    Volet,
    build_vaccination_note,
    build_vsm,
    parse_summary,
    parse_vaccinations,
    structured_header,
    write_structured,
)
from app.dmp_client.core.structured.model import SummaryHandoff, VaccinationHandoff
from app.dmp_client.core.valuesets import value_sets
from app.ins import IdentityTraits, Ins

DATA = Path(__file__).resolve().parents[1] / "data" / "structured"
TZ = dt.timezone(dt.timedelta(hours=1))
NOW = dt.datetime(2026, 12, 7, 10, 30, tzinfo=TZ)
H = "urn:hl7-org:v3"
NS = {"cda": H}
P03 = (
    Ins.parse("150081505104018", "1.2.250.1.213.1.4.10"),
    IdentityTraits.parse("BERNARD", "JEAN", "M", "1950-08-01", "15051"),
)


def handoff(name: str) -> bytes:
    return (DATA / name).read_bytes()


def header_for(
    volet: Volet,
    parsed: SummaryHandoff | VaccinationHandoff,
    *,
    version: int = 1,
    set_id: str | None = None,
    replaces: str | None = None,
    document_id: str | None = None,
) -> DocumentHeader:
    ins, traits = (parsed.patient.ins, parsed.patient.traits) if parsed.patient else P03
    v = value_sets()
    return structured_header(
        volet,
        document_id=document_id or new_oid(),
        set_id=set_id or new_oid(),
        version=version,
        created=parsed.created or NOW,
        patient=ins,
        traits=traits,
        author=parsed.author,
        custodian=parsed.custodian,
        practice_setting=v.practice_settings["AMBULATOIRE"],
        facility_type=v.facility_types["SA07"],
        replaces=replaces,
    )


def serialize(document: etree._Element) -> bytes:
    out = io.BytesIO()
    write_structured(document, out)
    return out.getvalue()


def vsm_bytes(name: str, **header: object) -> bytes:
    parsed = parse_summary(handoff(name))
    return serialize(build_vsm(header_for(VSM, parsed, **header), parsed))  # type: ignore[arg-type]


def vaccination_notes(name: str) -> list[bytes]:
    parsed = parse_vaccinations(handoff(name))
    return [serialize(build_vaccination_note(header_for(VAC_NOTE, parsed), v)) for v in parsed.vaccinations]
