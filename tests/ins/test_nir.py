"""NIR/NIA: keys (Corsica included), shapes, and a clear error for every kind of bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.fr import nir as stdnum_nir

from app.ins import InsError, InsErrorCode, Nir, Sex, nir_key
from tests.ins.strategies import full_nirs, nir_bodies


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("1500815051040", "18"),
        ("285072B502024", "65"),
        ("188102B172951", "65"),
        ("2070585756270", "97"),
        ("1380390104027", "28"),
    ],
)
def test_known_keys(body: str, key: str) -> None:
    assert nir_key(body) == key


def test_corsica_letters_read_as_19_and_18() -> None:
    assert nir_key("188102A172951") == f"{97 - 1881019172951 % 97:02d}"
    assert nir_key("188102B172951") == f"{97 - 1881018172951 % 97:02d}"


@given(nir_bodies)
def test_key_agrees_with_an_independent_implementation(body: str) -> None:
    """python-stdnum's NIR module is an independent implementation of the same rule."""
    key = nir_key(body)
    assert 1 <= int(key) <= 97
    assert stdnum_nir.is_valid(body + key)


@given(full_nirs)
def test_round_trip_and_grouped_form(value: str) -> None:
    nir = Nir.parse(value, require_key=True)
    assert nir.value == value
    assert Nir.parse(nir.grouped(), require_key=True) == nir
    assert Nir.parse(value[:13]) == nir


@given(full_nirs, st.integers(min_value=0, max_value=14), st.sampled_from("0123456789"))
def test_any_single_digit_change_is_caught(value: str, position: int, digit: str) -> None:
    changed = value[:position] + digit + value[position + 1 :]
    if changed == value:
        return
    with pytest.raises(InsError):
        Nir.parse(changed, require_key=True)


def test_decoded_fields() -> None:
    nir = Nir.parse("1 50 08 15 051 040 18")
    assert nir.sex is Sex.MALE
    assert (nir.birth_year, nir.birth_month, nir.birth_place, nir.order_number) == (
        "50",
        "08",
        "15051",
        "040",
    )
    assert nir.birth_month_known and not nir.born_abroad and not nir.is_provisional
    abroad = Nir.parse("1690399243042")
    assert abroad.born_abroad and abroad.key == "95"


def test_lowercase_corsica_is_accepted_and_uppercased() -> None:
    assert Nir.parse("1 88 10 2b 172 951 65").body == "188102B172951"


def test_provisional_and_pseudo_month_numbers_are_accepted_and_flagged() -> None:
    body = "7504215051040"
    nir = Nir.parse(body)
    assert nir.is_provisional and nir.sex is None and not nir.birth_month_known


@pytest.mark.parametrize(
    ("text", "code", "require_key"),
    [
        ("", InsErrorCode.NIR_EMPTY, False),
        ("   ", InsErrorCode.NIR_EMPTY, False),
        ("15008150510", InsErrorCode.NIR_LENGTH, False),
        ("15008150510401", InsErrorCode.NIR_LENGTH, False),
        ("1500815051040181", InsErrorCode.NIR_LENGTH, False),
        ("1500815051040", InsErrorCode.NIR_KEY_MISSING, True),
        ("5500815051040", InsErrorCode.NIR_SEX, False),
        ("0500815051040", InsErrorCode.NIR_SEX, False),
        ("X500815051040", InsErrorCode.NIR_SEX, False),
        ("1500815O51040", InsErrorCode.NIR_CHARACTER, False),
        ("15008ZA051040", InsErrorCode.NIR_CHARACTER, False),
        ("150082C051040", InsErrorCode.NIR_CHARACTER, False),
        ("1500815051040AB", InsErrorCode.NIR_CHARACTER, False),
        ("150081505104000", InsErrorCode.NIR_KEY_RANGE, False),
        ("150081505104098", InsErrorCode.NIR_KEY_RANGE, False),
        ("150081505104019", InsErrorCode.NIR_KEY_MISMATCH, False),
        ("150081505104-18", InsErrorCode.NIR_CHARACTER, False),
    ],
)
def test_every_kind_of_bad_input_has_its_code(text: str, code: InsErrorCode, require_key: bool) -> None:
    with pytest.raises(InsError) as caught:
        Nir.parse(text, require_key=require_key)
    assert caught.value.code is code
    assert caught.value.user_message


def test_character_error_names_the_position() -> None:
    with pytest.raises(InsError) as caught:
        Nir.parse("1500815O51040")
    assert "position 8" in caught.value.user_message


@given(st.text(max_size=20))
def test_arbitrary_text_is_either_a_nir_or_a_typed_error(text: str) -> None:
    try:
        nir = Nir.parse(text)
    except InsError as error:
        assert error.code in InsErrorCode
        return
    assert stdnum_nir.is_valid(nir.value)


def test_repr_hides_the_number() -> None:
    assert "150081505104018" not in repr(Nir.parse("150081505104018"))
    assert "1500815" not in repr(Nir.parse("150081505104018"))
