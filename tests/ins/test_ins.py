"""INS: OIDs, the HL7v2 CX and HL7v3 forms, parsing back, and the INS-C never produced for sending."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ins import (
    MATRICULE_OIDS,
    Ins,
    InsC,
    InsError,
    InsErrorCode,
    InsOid,
    parse_cx,
    parse_hl7v3_id,
    parse_oid,
)
from tests.ins.strategies import full_nirs

TEST_OID = "1.2.250.1.213.1.4.10"


def test_documented_cx_and_hl7v3_forms() -> None:
    ins = Ins.parse("207058575627097", TEST_OID)
    assert ins.to_cx() == "207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH"
    assert ins.to_hl7v3_attributes() == {"root": TEST_OID, "extension": "207058575627097"}
    assert ins.to_hl7v3_xml() == '<id root="1.2.250.1.213.1.4.10" extension="207058575627097"/>'
    assert ins.is_fictitious and not ins.is_nia


def test_corsican_matricule_stays_a_string() -> None:
    ins = Ins.parse("188102B17295165", TEST_OID)
    assert ins.to_cx().startswith("188102B17295165^")


def test_oid_enumeration_matches_the_referential() -> None:
    assert {o.value for o in InsOid} == {f"1.2.250.1.213.1.4.{n}" for n in (2, 8, 9, 10, 11)}
    assert InsOid.INS_C not in MATRICULE_OIDS
    assert InsOid.NIR_TEST.label == "INS-NIR [TEST]"


@given(full_nirs, st.sampled_from(sorted(MATRICULE_OIDS)))
def test_cx_and_hl7v3_round_trip(value: str, oid: InsOid) -> None:
    ins = Ins.parse(value, oid.value)
    assert parse_cx(ins.to_cx()) == ins
    attributes = ins.to_hl7v3_attributes()
    assert parse_hl7v3_id(attributes["root"], attributes["extension"]) == ins


def test_cx_tolerates_trailing_components_and_a_namespace() -> None:
    expected = Ins.parse("207058575627097", TEST_OID)
    assert parse_cx("207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH^^20240101") == expected
    assert parse_cx("207058575627097^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^NH") == expected


def test_legacy_insc_is_read_but_cannot_be_sent() -> None:
    parsed = parse_cx("1541187387477485562488^^^&1.2.250.1.213.1.4.2&ISO^NH")
    assert isinstance(parsed, InsC)
    assert not hasattr(parsed, "to_cx") and not hasattr(parsed, "to_hl7v3_attributes")
    assert isinstance(parse_hl7v3_id("1.2.250.1.213.1.4.2", "1541187387477485562488"), InsC)
    with pytest.raises(InsError) as caught:
        Ins.parse("150081505104018", "1.2.250.1.213.1.4.2")
    assert caught.value.code is InsErrorCode.OID_LEGACY


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("207058575627097", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^&1.2.250.1.213.1.4.10&ISO", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^&1.2.250.1.213.1.4.10&ISO^PI", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^&1.2.250.1.213.1.4.10&DNS^NH", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^1.2.250.1.213.1.4.10^NH", InsErrorCode.CX_SYNTAX),
        ("207058575627097^1^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^&&ISO^NH", InsErrorCode.CX_SYNTAX),
        ("^^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.CX_SYNTAX),
        ("2070585 75627097^^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.CX_SYNTAX),
        ("207058575627097\\T\\^^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.CX_SYNTAX),
        ("207058575627097^^^&1.2.250.1.71.4.2.1&ISO^NH", InsErrorCode.OID_UNKNOWN),
        ("207058575627096^^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.NIR_KEY_MISMATCH),
        ("2070585756270^^^&1.2.250.1.213.1.4.10&ISO^NH", InsErrorCode.NIR_KEY_MISSING),
    ],
)
def test_bad_cx_is_refused_with_a_code(text: str, code: InsErrorCode) -> None:
    with pytest.raises(InsError) as caught:
        parse_cx(text)
    assert caught.value.code is code


@pytest.mark.parametrize(
    ("root", "extension", "code"),
    [
        ("", "207058575627097", InsErrorCode.HL7V3_SYNTAX),
        (TEST_OID, "", InsErrorCode.HL7V3_SYNTAX),
        (TEST_OID, " 207058575627097", InsErrorCode.HL7V3_SYNTAX),
        ("1.2.3", "207058575627097", InsErrorCode.OID_UNKNOWN),
    ],
)
def test_bad_hl7v3_id_is_refused_with_a_code(root: str, extension: str, code: InsErrorCode) -> None:
    with pytest.raises(InsError) as caught:
        parse_hl7v3_id(root, extension)
    assert caught.value.code is code


def test_oid_parsing() -> None:
    assert parse_oid(" 1.2.250.1.213.1.4.11 ") is InsOid.NIR_DEMO
    with pytest.raises(InsError):
        parse_oid("1.2.250.1.213.1.4.1")


def test_ins_repr_shows_the_authority_not_the_number() -> None:
    text = repr(Ins.parse("207058575627097", TEST_OID))
    assert "207058575627097" not in text and "NIR_TEST" in text
