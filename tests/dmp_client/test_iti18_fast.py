"""The one-pass ITI-18 reader (issue 16 item 4) against the former XPath-per-field reader, kept here
verbatim as the reference: same DocumentInfo on the sandbox-recorded answers (tests/data/fuzz/) and on
Hypothesis mutations of them; the fast XDS timestamp reader against strptime; no tree reference kept
in a DocumentInfo."""

from __future__ import annotations

import copy
import datetime as dt
import gc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.dmp_client.core import ebrim, iti18
from app.dmp_client.core.ebrim import RIM, Scheme
from app.dmp_client.core.ns import q

SEEDS = Path(__file__).resolve().parents[1] / "data" / "fuzz"


# --- the former reader (before the one-pass rewrite), the reference ----------------------------------
def _old_time(text: str) -> dt.datetime | None:
    digits = text.strip()
    formats = {4: "%Y", 6: "%Y%m", 8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    fmt = formats.get(len(digits))
    if fmt is None or not digits.isdigit():
        return None
    try:
        return dt.datetime.strptime(digits, fmt).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _old_slots(node):  # type: ignore[no-untyped-def]
    found: dict[str, list[str]] = {}
    for s in node.iterfind(q(RIM, "Slot")):
        found.setdefault(s.get("name", ""), []).extend(
            (v.text or "").strip() for v in s.iterfind(f"{q(RIM, 'ValueList')}/{q(RIM, 'Value')}")
        )
    return found


def _old_name(node):  # type: ignore[no-untyped-def]
    string = node.find(f"{q(RIM, 'Name')}/{q(RIM, 'LocalizedString')}")
    return string.get("value", "") if string is not None else ""


def _old_concepts(node, scheme):  # type: ignore[no-untyped-def]
    return [
        iti18.Concept(
            c.get("nodeRepresentation", ""), (_old_slots(c).get("codingScheme") or [""])[0], _old_name(c)
        )
        for c in node.iterfind(q(RIM, "Classification"))
        if c.get("classificationScheme") == scheme
    ]


def _old_external(node, scheme):  # type: ignore[no-untyped-def]
    values = {e.get("value", "") for e in node.iterfind(q(RIM, "ExternalIdentifier"))
              if e.get("identificationScheme") == scheme}  # fmt: skip
    return values.pop() if len(values) == 1 else ""


def _old_document(node) -> tuple:  # type: ignore[no-untyped-def,type-arg]
    first = lambda v: v[0] if v else ""  # noqa: E731
    slots = _old_slots(node)
    authors = [
        c
        for c in node.iterfind(q(RIM, "Classification"))
        if c.get("classificationScheme") == Scheme.DE_AUTHOR
    ]
    version = node.find(q(RIM, "VersionInfo"))
    size_text = first(slots.get("size"))
    one = lambda s: (_old_concepts(node, s) or [None])[0]  # noqa: E731
    entry_id = node.get("id", "")
    return (
        entry_id, node.get("lid", entry_id), version.get("versionName", "1") if version is not None else "1",
        node.get("status", ""), _old_external(node, Scheme.DE_UNIQUE_ID),
        first(slots.get("repositoryUniqueId")),
        _old_external(node, Scheme.DE_PATIENT_ID), _old_name(node), node.get("mimeType", ""),
        one(Scheme.DE_CLASS), one(Scheme.DE_TYPE), one(Scheme.DE_FORMAT), one(Scheme.DE_FACILITY),
        one(Scheme.DE_PRACTICE), tuple(_old_concepts(node, Scheme.DE_CONFIDENTIALITY)),
        _old_time(first(slots.get("creationTime"))), _old_time(first(slots.get("serviceStartTime"))),
        _old_time(first(slots.get("serviceStopTime"))),
        tuple(v for a in authors for v in _old_slots(a).get("authorPerson", [])),
        tuple(v for a in authors for v in _old_slots(a).get("authorInstitution", [])),
        int(size_text) if size_text.isascii() and size_text.isdigit() and len(size_text) < 19 else None,
        first(slots.get("hash")) or None,
    )  # fmt: skip


def _fields(info: iti18.DocumentInfo) -> tuple:  # type: ignore[type-arg]
    return tuple(getattr(info, f) for f in iti18.DocumentInfo.__dataclass_fields__ if f != "entry_xml")


def _payload(name: str) -> etree._Element:
    raw = (SEEDS / name).read_bytes()
    root = etree.fromstring(raw)
    body = root.find("{http://www.w3.org/2003/05/soap-envelope}Body")
    if body is not None:
        return next(c for c in body if isinstance(c.tag, str))
    return root


def _entries(payload: etree._Element) -> list[etree._Element]:
    return list(payload.iter(q(RIM, "ExtrinsicObject")))


def test_seed_answers_read_as_before() -> None:
    payload = _payload("RegistryStoredQueryResponse.xml")
    entries = _entries(payload)
    assert entries, "the seed answer holds documents"
    result = iti18.parse_query_response(payload)
    assert [_fields(d) for d in result.documents] == [_old_document(e) for e in entries]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data())
def test_mutated_entries_read_as_before(data: st.DataObject) -> None:
    entry = copy.deepcopy(data.draw(st.sampled_from(_entries(_payload("RegistryStoredQueryResponse.xml")))))
    nodes = list(entry.iter())
    for _ in range(data.draw(st.integers(1, 4))):
        node = data.draw(st.sampled_from(nodes))
        action = data.draw(st.sampled_from(["drop", "dup", "text", "attr"]))
        parent = node.getparent()
        if action == "drop" and parent is not None:
            parent.remove(node)
        elif action == "dup" and parent is not None:
            parent.append(copy.deepcopy(node))
        elif action == "text":
            node.text = data.draw(
                st.sampled_from(["", "2024", "20240230", "202402291230", "x", " 19991231235959 "])
            )
        elif action == "attr" and node.attrib:
            key = data.draw(st.sampled_from(sorted(node.attrib)))
            node.set(key, data.draw(st.sampled_from(["", Scheme.DE_CLASS, Scheme.DE_AUTHOR, "v"])))
        nodes = list(entry.iter())
    if not entry.get("id"):
        with pytest.raises(iti18.MalformedResponse):
            iti18.parse_document(entry)
        return
    assert _fields(iti18.parse_document(entry)) == _old_document(entry)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(st.text(alphabet="0123456789 ", max_size=16), st.text(max_size=16)))
def test_fast_time_reader_matches_strptime(text: str) -> None:
    expected = _old_time(text) if text.strip().isascii() else None  # non-ASCII digits now refused
    assert ebrim.parse_xds_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("202402", dt.datetime(2024, 2, 1, tzinfo=dt.UTC)),
        ("20240229", dt.datetime(2024, 2, 29, tzinfo=dt.UTC)),
        ("2024022913", dt.datetime(2024, 2, 29, 13, tzinfo=dt.UTC)),
        ("202402291307", dt.datetime(2024, 2, 29, 13, 7, tzinfo=dt.UTC)),
        ("20240229130759", dt.datetime(2024, 2, 29, 13, 7, 59, tzinfo=dt.UTC)),
        ("20230229", None), ("20241301", None), ("0000", None), ("2024022925", None), ("2024X1", None),
        ("٢٠٢٤", None), ("20240229130760", None), ("", None), ("2024022913075", None),
    ],
)  # fmt: skip
def test_xds_time_forms(text: str, expected: dt.datetime | None) -> None:
    assert ebrim.parse_xds_time(text) == expected


def test_document_info_keeps_no_tree() -> None:
    payload = _payload("RegistryStoredQueryResponse.xml")
    result = iti18.parse_query_response(payload)
    for info in result.documents:
        assert isinstance(info.entry_xml, bytes)
        # nothing in a DocumentInfo (nor one level down: Concepts, tuples) refers to an lxml node
        reachable = [*vars(info).values()]
        reachable += [r for v in list(reachable) for r in gc.get_referents(v)]
        assert not any(isinstance(v, etree._Element) for v in reachable)
        rebuilt = info.element()
        assert rebuilt.tag == q(RIM, "ExtrinsicObject") and rebuilt.get("id") == info.entry_id
        assert _fields(iti18.parse_document(rebuilt)) == _fields(info)
