"""INS-C: every vector of ins-and-cards.md §1.3, the seed rules, and refusals."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ins import InsC, InsError, InsErrorCode, Nir, card_birth_date, compute_insc, normalize_first_name
from tests.ins.strategies import certified_nir_bodies

# (first name, birth date as on the card, NIR13, NIR key, INS-C) from ins-and-cards.md §1.3
VECTORS = [
    ("PHILIPPE", "610217", "1610275754289", "92", "0833910461279517589858"),
    ("MUMUMUMUMUMUMUMUMUMUMUMUMUM", "500231", "2500271503558", "93", "0208064030529493226344"),
    ("DAVID", "850717", "285072B502024", "65", "1687776243550221336383"),
    ("FRANCK", "380300", "1380390104027", "28", "1215965973479473546018"),
    ("MARIE CHRISTINE", "770131", "2770166828426", "38", "1322674008783621966795"),
    ("JEAN PIERRE", "231119", "1231111062689", "33", "0811308851593128988470"),
    ("Jean", "500801", "1500815051040", "18", "1541187387477485562488"),
]


@pytest.mark.parametrize(("first_name", "date", "nir13", "key", "expected"), VECTORS)
def test_vectors_with_and_without_key(
    first_name: str, date: str, nir13: str, key: str, expected: str
) -> None:
    assert compute_insc(first_name, date, nir13).value == expected
    assert compute_insc(first_name, date, nir13 + key).value == expected
    assert compute_insc(first_name, date, Nir.parse(nir13 + key)).value == expected


def test_vitale_date_with_slashes_is_sliced_not_parsed() -> None:
    assert card_birth_date("01/08/1950") == "500801"
    assert card_birth_date("31/02/1950") == "500231"  # impossible day kept as on the card
    assert card_birth_date("00/03/1938") == "380300"
    assert compute_insc("Jean", card_birth_date("01/08/1950"), "150081505104018").value == VECTORS[-1][4]


@pytest.mark.parametrize(
    ("first_name", "seed_part"),
    [
        ("JEAN", "JEAN      "),
        ("Jean-Pierre", "JEANPIERRE"),
        ("JEAN PIERRE", "JEANPIERRE"),
        ("MARIE CHRISTINE", "MARIECHRIS"),
        ("Hélène", "HELENE    "),
        ("Anne-Sophie d'Arc", "ANNESOPHIE"),
        ("Zoé", "ZOE       "),
        ("Gaël", "GAEL      "),
        ("Œdipe", "OEDIPE    "),
        ("  jean  ", "JEAN      "),
    ],
)
def test_first_name_normalisation(first_name: str, seed_part: str) -> None:
    assert normalize_first_name(first_name) == seed_part


@given(st.text(max_size=40))
def test_normalised_first_name_is_always_ten_ascii_letters_padded(first_name: str) -> None:
    try:
        part = normalize_first_name(first_name)
    except InsError as error:
        assert error.code is InsErrorCode.INSC_FIRST_NAME
        return
    assert len(part) == 10
    letters = part.rstrip(" ")
    assert letters and letters.isascii() and letters.isalpha() and letters.isupper()


@given(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=15),
    st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
    certified_nir_bodies,
)
def test_insc_is_the_specified_sha256_truncation(first_name: str, date: str, body: str) -> None:
    """An independent restatement of §1.2 steps 5–9 agrees with the implementation."""
    seed = first_name[:10].ljust(10) + date + body
    n = int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16)
    expected = str(n).zfill(20) + str(97 - n % 97).zfill(2)
    value = compute_insc(first_name, date, body).value
    assert value == expected
    assert InsC.parse(value).value == value


@pytest.mark.parametrize("date", ["5008", "5008011", "50-08-01", "AAMMJJ", "", "1950-08-01"])
def test_birth_date_must_be_six_digits(date: str) -> None:
    with pytest.raises(InsError) as caught:
        compute_insc("Jean", date, "1500815051040")
    assert caught.value.code is InsErrorCode.INSC_BIRTH_DATE


@pytest.mark.parametrize("first_name", ["", "   ", "-'-", "123"])
def test_first_name_without_letters_is_refused(first_name: str) -> None:
    with pytest.raises(InsError) as caught:
        compute_insc(first_name, "500801", "1500815051040")
    assert caught.value.code is InsErrorCode.INSC_FIRST_NAME


@pytest.mark.parametrize("body", ["7500815051040", "3500815051040", "8500815051040"])
def test_provisional_numbers_give_no_insc(body: str) -> None:
    with pytest.raises(InsError) as caught:
        compute_insc("Jean", "500801", body)
    assert caught.value.code is InsErrorCode.INSC_NIR_NOT_OWN


def test_wrong_nir_key_is_an_error_not_ignored() -> None:
    with pytest.raises(InsError) as caught:
        compute_insc("Jean", "500801", "150081505104019")
    assert caught.value.code is InsErrorCode.NIR_KEY_MISMATCH


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("154118738747748556248", InsErrorCode.INSC_SYNTAX),
        ("15411873874774855624889", InsErrorCode.INSC_SYNTAX),
        ("15411873874774855624A8", InsErrorCode.INSC_SYNTAX),
        ("1541187387477485562487", InsErrorCode.INSC_KEY_MISMATCH),
    ],
)
def test_insc_parsing_checks_length_digits_and_key(text: str, code: InsErrorCode) -> None:
    with pytest.raises(InsError) as caught:
        InsC.parse(text)
    assert caught.value.code is code


def test_insc_repr_hides_the_number() -> None:
    assert "1541187387477485562488" not in repr(InsC.parse("1541187387477485562488"))
