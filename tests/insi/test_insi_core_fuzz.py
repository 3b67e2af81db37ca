"""Property test of the INSi answer parser: whatever comes back, the result or an INSi error (a code
and a French message), never a foreign exception. Seeds: the public example answers
(tests/insi/fixtures/), mutated in the tree (text, removal, duplication, renaming) and in the bytes."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.dmp_client.core import insi
from app.dmp_client.core.errors import InsiError
from app.ins import IdentityTraits

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOSTILE = ["", " ", "²", "00", "99", "9" * 400, "\u00a0", "1.2.250.1.213.1.4.2", "2B", "-1", "é" * 50, "<"]
XML_CHARS = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff")
REQUEST = insi.search_by_traits(
    insi.TraitsSearch.first_step(IdentityTraits.parse("ECETINSI", "PIERRE", "M", "2009-07-14")),
    insi.InsiContext(
        insi.LpsIdentity("BAC-A-SABLE", "1", "ClientDMP", "3f0c7a52-5d2e-4c1b-9a43-2f6f1b0d9e11"), "x"
    ),
    datetime(2026, 12, 7, tzinfo=UTC),
)


def outcome(data: bytes) -> None:
    try:
        insi.parse_answer(data, REQUEST)
    except InsiError as error:
        assert error.code.startswith("INSI-") and error.user_message


@st.composite
def tree_mutation(draw: st.DrawFn) -> bytes:
    root = etree.fromstring(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        target = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["text", "remove", "duplicate", "rename", "empty"]))
        parent = target.getparent()
        if action == "text":
            target.text = draw(st.sampled_from(HOSTILE) | st.text(XML_CHARS, max_size=30))
        elif action == "remove" and parent is not None:
            parent.remove(target)
        elif action == "duplicate" and parent is not None:
            parent.append(copy.deepcopy(target))
        elif action == "rename":
            target.tag = draw(
                st.sampled_from(["{urn:x}CR", "CodeCR", "{http://www.cnamts.fr/INSiResultat}X"])
            )
        elif action == "empty":
            for child in list(target):
                target.remove(child)
    return bytes(etree.tostring(root))


@st.composite
def byte_mutation(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if kind == "insert":
            data[position:position] = draw(
                st.sampled_from([b"<", b">", b"</CR>", b"<!DOCTYPE x>", b"&amp;", b"\x00", b"<INDIVIDU>"])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 20))]
        elif kind == "flip" and position < len(data):
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[position:]
    return bytes(data)


@FUZZ
@given(tree_mutation())
def test_tree_mutations_give_a_result_or_an_insi_error(data: bytes) -> None:
    outcome(data)


@FUZZ
@given(byte_mutation())
def test_byte_mutations_give_a_result_or_an_insi_error(data: bytes) -> None:
    outcome(data)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_an_insi_error(data: bytes) -> None:
    outcome(data)
