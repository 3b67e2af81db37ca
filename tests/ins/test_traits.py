"""INS traits: normalisation for comparison, incomplete birth dates, INSEE birth place codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ins import BirthDate, IdentityTraits, InsError, InsErrorCode, Nir, Sex, Trait, normalize_name


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Lefèvre", "LEFEVRE"),
        ("lefevre", "LEFEVRE"),
        ("Lefèvre – d’Arc", "LEFEVRE-D'ARC"),
        ("  Le   Goff ", "LE GOFF"),
        ("O'Neil", "O'NEIL"),
        ("Œuvray", "OEUVRAY"),
        ("Müller", "MULLER"),
        ("Jean\u00a0Pierre", "JEAN PIERRE"),
        ("Saint - Exupéry", "SAINT-EXUPERY"),
    ],
)
def test_normalize_name(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


@given(st.text(max_size=30))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_name(text)
    assert normalize_name(once) == once


def test_traits_compare_equal_after_normalisation() -> None:
    local = IdentityTraits.parse("Lefèvre", "Élodie Anne", "f", "24/12/1985", "75056")
    reference = IdentityTraits.parse("LEFEVRE", "ELODIE  ANNE", "F", "1985-12-24", "75056")
    assert local == reference
    assert local.differences(reference) == ()
    assert local.first_name == "ELODIE"


def test_differences_are_named() -> None:
    a = IdentityTraits.parse("DURAND", "CLAIRE", "F", "2007-05-14", "85756")
    b = IdentityTraits.parse("DURANT", "CLAIRE MARIE", "M", "2007-05-15", "85194")
    assert a.differences(b) == (
        Trait.BIRTH_NAME,
        Trait.FIRST_NAMES,
        Trait.SEX,
        Trait.BIRTH_DATE,
        Trait.BIRTH_PLACE,
    )
    assert a.differences(IdentityTraits.parse("DURAND", "CLAIRE", "F", "2007-05-14")) == ()


def test_inconsistencies_with_the_matricule() -> None:
    nir = Nir.parse("150081505104018")
    assert IdentityTraits.parse("BERNARD", "JEAN", "M", "1950-08-01").inconsistencies_with(nir) == ()
    assert IdentityTraits.parse("BERNARD", "JEAN", "F", "1951-08-01").inconsistencies_with(nir) == (
        Trait.SEX,
        Trait.BIRTH_DATE,
    )
    assert IdentityTraits.parse("BERNARD", "JEAN", "M", "1950-00-00").inconsistencies_with(nir) == ()


@pytest.mark.parametrize(
    ("text", "expected", "hl7", "french"),
    [
        ("1950-08-01", BirthDate(1950, 8, 1), "19500801", "01/08/1950"),
        ("19500801", BirthDate(1950, 8, 1), "19500801", "01/08/1950"),
        ("01/08/1950", BirthDate(1950, 8, 1), "19500801", "01/08/1950"),
        ("1950-08-00", BirthDate(1950, 8), "195008", "00/08/1950"),
        ("00/00/1950", BirthDate(1950), "1950", "00/00/1950"),
        ("1950-08", BirthDate(1950, 8), "195008", "00/08/1950"),
        ("1950", BirthDate(1950), "1950", "00/00/1950"),
        ("2024-02-29", BirthDate(2024, 2, 29), "20240229", "29/02/2024"),
    ],
)
def test_birth_dates_including_incomplete_ones(text: str, expected: BirthDate, hl7: str, french: str) -> None:
    parsed = BirthDate.parse(text)
    assert parsed == expected
    assert parsed.to_hl7() == hl7
    assert parsed.to_french() == french
    assert BirthDate.parse(parsed.to_french()) == parsed


@pytest.mark.parametrize(
    "text", ["1950-02-30", "2023-02-29", "1950-13-01", "1950-00-05", "1700-01-01", "50-08-01", "demain", ""]
)
def test_impossible_birth_dates_are_refused(text: str) -> None:
    with pytest.raises(InsError) as caught:
        BirthDate.parse(text)
    assert caught.value.code is InsErrorCode.TRAIT_BIRTH_DATE


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("birth_name", "DUP0NT", InsErrorCode.TRAIT_NAME),
        ("birth_name", "---", InsErrorCode.TRAIT_NAME),
        ("first_names", "", InsErrorCode.TRAIT_NAME),
        ("first_names", "JEAN 2", InsErrorCode.TRAIT_NAME),
        ("sex", "X", InsErrorCode.TRAIT_SEX),
        ("birth_place", "00123", InsErrorCode.TRAIT_BIRTH_PLACE),
        ("birth_place", "2C004", InsErrorCode.TRAIT_BIRTH_PLACE),
        ("birth_place", "7505", InsErrorCode.TRAIT_BIRTH_PLACE),
    ],
)
def test_bad_traits_are_refused(field: str, value: str, code: InsErrorCode) -> None:
    values = {
        "birth_name": "DURAND",
        "first_names": "CLAIRE",
        "sex": "F",
        "birth_date": "2007-05-14",
        "birth_place": "85756",
    }
    values[field] = value
    with pytest.raises(InsError) as caught:
        IdentityTraits.parse(**values)
    assert caught.value.code is code


def test_birth_place_codes() -> None:
    assert IdentityTraits.parse("A", "B", "M", "1950", "2a004").birth_place == "2A004"
    assert IdentityTraits.parse("A", "B", "M", "1950", "99243").birth_place == "99243"
    assert IdentityTraits.parse("A", "B", "M", "1950").birth_place is None
    assert IdentityTraits.parse("A", "B", "M", "1950").sex is Sex.MALE


def test_repr_shows_no_trait() -> None:
    text = repr(IdentityTraits.parse("DURAND", "CLAIRE", "F", "2007-05-14", "85756"))
    assert "DURAND" not in text and "CLAIRE" not in text and "2007" not in text
