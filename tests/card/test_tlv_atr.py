"""BER-TLV parsing (cross-checked with the sandbox's independent encoder) and ATR classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.card.atr import AtrPattern, CardKind, classify_atr
from app.card.errors import CardDataError
from app.card.tlv import iter_tlv, parse_tlv
from sandbox.cards import tlv
from sandbox.vicc import CPS3_ATR, CPS4_ATR, VITALE_ATR


@given(st.lists(st.tuples(st.integers(0x80, 0x9E), st.binary(max_size=600)), max_size=6))
def test_parser_reads_what_the_sandbox_encoder_writes(items: list[tuple[int, bytes]]) -> None:
    encoded = b"".join(tlv(tag, value) for tag, value in items)
    assert list(iter_tlv(encoded)) == items


def test_multibyte_tags_and_padding() -> None:
    assert list(iter_tlv(b"\x00\x5f\x20\x02AB\xff\xff")) == [(0x5F20, b"AB")]


def test_first_occurrence_wins() -> None:
    assert parse_tlv(tlv(0x80, b"a") + tlv(0x80, b"b")) == {0x80: b"a"}


@pytest.mark.parametrize(
    "data", [b"\x80\x05abc", b"\x80", b"\x80\x84\x00\x00\x00\x01", b"\x5f", b"\x80\x82\x01"]
)
def test_malformed_data_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(CardDataError):
        list(iter_tlv(data))


@pytest.mark.parametrize(
    ("atr", "kind"),
    [
        (CPS3_ATR, CardKind.CPS3),
        (CPS4_ATR, CardKind.CPS4),
        (VITALE_ATR, CardKind.VITALE),
        (bytes.fromhex("3B751300004309EA9000"), CardKind.VITALE),
        (bytes.fromhex("3B751300004509EA9000"), CardKind.VITALE),
        (bytes.fromhex("3B751300004509EA90"), CardKind.UNKNOWN),
        (bytes.fromhex("3B8F8001804F0CA000000306030001000000006A"), CardKind.UNKNOWN),
    ],
)
def test_atr_classification(atr: bytes, kind: CardKind) -> None:
    assert classify_atr(atr)[0] is kind


def test_configured_patterns_come_first() -> None:
    extra = (
        AtrPattern("3B 8F 80 01 80 .. .. .. .. .. .. .. .. .. .. .. .. .. .. 6A", CardKind.CPS3, "CPS3 test"),
    )
    atr = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
    assert classify_atr(atr, extra) == (CardKind.CPS3, "CPS3 test")
