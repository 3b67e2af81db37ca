"""Property test over every response parser: whatever a host sends, a parser answers with its result
or a project error (a ``code`` and a French message), never with a foreign exception (``KeyError``,
``ValueError``, ``OSError``, an lxml error…), which would end a command in a traceback.

The inputs are real answers (tests/data/fuzz/: recorded from the sandbox host, test identities
only; resources/spec/cda-examples/: published CDAs) mutated two ways: in the tree (an element's text
or an attribute set to hostile text: ``²``, huge numbers, empty, control characters; an element
removed, duplicated, emptied or renamed), which reaches the code behind the XML parser, and in the
bytes (insertions of XML and MIME tokens, deletions, truncation, byte flips), which reaches the
parsers themselves. The only assertion: anything but a project error is a failure.

``make test`` runs a fixed, derandomized set (``FUZZ_EXAMPLES`` per parser, 150 by default);
``make fuzz`` runs many more with fresh randomness (README.md, "Fuzzing").
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.dmp_client.core import admin, habilitations, hl7v3, iti18, iti43, registry
from app.dmp_client.core.cda import extract_body, read_identity
from app.dmp_client.core.mtom import MtomLimits, read_mtom
from app.dmp_client.core.soap import parse_envelope
from app.errors import USER_FACING_ERRORS

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "data" / "fuzz"
CDA_SEEDS = ROOT / "resources" / "spec" / "cda-examples"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"  # make fuzz: fresh randomness on every run

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

HOSTILE_TEXT = [
    "²",
    "",
    "١٢٣",  # Arabic-Indic digits: str.isdigit() and int() accept them, ASCII code does not expect them
    "-1",
    "9" * 5000,  # int() refuses more than 4300 digits
    "1e999",
    "NaN",
    "\u0000",
    "\ufeff",
    " \t\r\n",
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure",
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess",
    "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "cid:",
    "cid:%",
    "cid:%ZZ",
    "^^^&1.2.250.1.213.1.4.10&ISO",
    "123456789012345^^^&1.2.250.1.213.1.4.10&ISO",
    "1.2.250.1.213.1.4.10",
    "AA",
    "AE",
    "2026",
    "20261301",
    "99999999999999",
    "00000000000000",
    "true",
    "B64",
    "x" * 300,
]
TOKENS = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"]]>",
    b"<![CDATA[",
    b"<!DOCTYPE x>",
    b'<!ENTITY e "e">',
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"<?xml version='1.0' encoding='EBCDIC-US'?>",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"Content-ID: <x>\r\n",
    b"Content-Type: application/octet-stream\r\n",
    b'xmlns:x="urn:x"',
    b"</",
    b"/>",
    b"\xc2\xb2",
]


def _payload(data: bytes) -> etree._Element:
    return parse_envelope(data, ()).payload


def _envelope_then(parser: Callable[[etree._Element], object]) -> Callable[[bytes], object]:
    return lambda data: parser(_payload(data))


def _mtom(content_type: str) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        files: list[BinaryIO] = []

        def sink(content_id: str, media: str) -> BinaryIO:
            files.append(io.BytesIO())
            return files[-1]

        chunks = (data[i : i + 997] for i in range(0, len(data), 997))  # odd chunks: split delimiters
        reader = read_mtom(content_type, chunks, sink, MtomLimits(max_attachment_bytes=1024 * 1024))
        payload = _payload(reader.root)
        return iti43.parse_retrieve_response(payload) if "Retrieve" in content_type else payload

    return run


def _mtom_content_type(data: bytes, kind: str) -> str:
    first = data.split(b"\r\n", 1)[0].decode("latin-1")
    start = re.search(rb"Content-ID: <([^>]*)>", data)
    assert start is not None
    return (
        f'multipart/related; type="application/xop+xml"; boundary="{first[2:]}"; '
        f'start="<{start.group(1).decode()}>"; kind="{kind}"'
    )


def _inline(data: bytes) -> bytes:
    """The MTOM RetrieveDocumentSetResponse's envelope with its document inline (base64)."""
    root = re.search(rb"<\?xml.*?</soap:Envelope>", data, re.S)
    assert root is not None
    return re.sub(rb"<xop:Include[^>]*/>|<[\w:]*Include [^>]*/>", b"JVBERi0xLjQKJcfs", root.group(0))


def _cda_body(data: bytes) -> object:
    return extract_body(io.BytesIO(data), io.BytesIO())


def _cda_identity(data: bytes) -> object:
    return read_identity(io.BytesIO(data))


def _targets() -> dict[str, tuple[Callable[[bytes], object], list[bytes]]]:
    def seed(name: str) -> bytes:
        return (SEEDS / name).read_bytes()

    retrieve = seed("RetrieveDocumentSetResponse.mime")
    provide = seed("ProvideAndRegisterDocumentSet-bResponse.mime")
    faults = [seed(f"fault-{n}.xml") for n in (1, 2, 3)]
    cdas = [path.read_bytes() for path in sorted(CDA_SEEDS.glob("*.xml"))]
    return {
        "soap envelope and faults": (lambda data: parse_envelope(data, ()), faults),
        "AdhocQueryResponse LeafClass": (
            _envelope_then(iti18.parse_query_response),
            [seed("RegistryStoredQueryResponse.xml")],
        ),
        "AdhocQueryResponse ObjectRef": (
            _envelope_then(iti18.parse_query_response),
            [seed("RegistryStoredQueryResponse-objectref.xml")],
        ),
        "RegistryResponse": (
            _envelope_then(registry.parse_registry_response),
            [seed("UpdateDocumentSet-Response.xml"), *faults[:1]],
        ),
        "RetrieveDocumentSetResponse MTOM": (
            _mtom(_mtom_content_type(retrieve, "Retrieve")),
            [retrieve],
        ),
        "RetrieveDocumentSetResponse inline": (
            _envelope_then(iti43.parse_retrieve_response),
            [_inline(retrieve)],
        ),
        "ProvideAndRegister answer MTOM": (_mtom(_mtom_content_type(provide, "Provide")), [provide]),
        "HL7v3 TD0.2": (
            _envelope_then(hl7v3.parse_get_demographics_response),
            [seed("PRPA_IN201308UV02.xml")],
        ),
        "HL7v3 find candidates": (
            _envelope_then(admin.parse_find_candidates_response),
            [seed("PRPA_IN201306UV02.xml")],
        ),
        "HL7v3 create DMP": (
            _envelope_then(admin.parse_create_dmp_response),
            [seed("PRPA_IN201311UV02_Response.xml")],
        ),
        "HL7v3 revise DMP": (
            _envelope_then(admin.parse_revise_dmp_response),
            [seed("PRPA_IN201314UV02_Response.xml"), seed("PRPA_IN201314UV02_Response-AE.xml")],
        ),
        "TD0.4 patientList": (
            _envelope_then(admin.parse_patient_list_response),
            [seed("patientListResponse.xml")],
        ),
        "TD1.6 listAuthorizationByPatient": (
            _envelope_then(admin.parse_list_authorizations_response),
            [seed("listAuthorizationByPatientResponse.xml")],
        ),
        "TD0.3 setAuthorization": (
            _envelope_then(habilitations.parse_set_authorization_response),
            [seed("setAuthorizationResponse.xml")],
        ),
        "received CDA body": (_cda_body, cdas),
        "received CDA identity": (_cda_identity, cdas),
    }


TARGETS = _targets()


def _split_xml(seed: bytes) -> tuple[bytes, bytes, bytes]:
    """(before the XML document, the document, after it): the MTOM seeds carry an envelope inside."""
    if not seed.startswith(b"--"):
        return b"", seed, b""
    start = seed.index(b"<?xml")
    end = seed.index(b"</soap:Envelope>") + len(b"</soap:Envelope>")
    return seed[:start], seed[start:end], seed[end:]


ACTIONS = ["every-leaf", "all-text", "all-attribute", "text", "attribute", "remove", "duplicate", "empty"]


@st.composite
def _tree_mutation(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed with a few elements or attributes changed (structure kept: deep code reached). A
    change applies to one node, or to every node of one name (every ``Value``, every ``@code``), so
    a slot such as ``size`` is reached without knowing where it is."""
    head, xml, tail = _split_xml(seed)
    root = etree.fromstring(xml)
    for _ in range(draw(st.integers(1, 4))):
        nodes = [n for n in root.iter() if isinstance(n.tag, str)]
        text = draw(st.sampled_from(HOSTILE_TEXT) | st.text(max_size=20))
        text = "".join(c for c in text if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff"))
        action = draw(
            st.sampled_from(
                [
                    "every-leaf",
                    "all-text",
                    "all-attribute",
                    "text",
                    "attribute",
                    "remove",
                    "duplicate",
                    "empty",
                ]
            )
        )
        if action == "every-leaf":  # every text-only element at once: reaches each slot's reader
            for node in nodes:
                if len(node) == 0 and (node.text or "").strip():
                    node.text = text
            continue
        if action == "all-text":
            name = draw(st.sampled_from(sorted({etree.QName(n).localname for n in nodes})))
            for node in nodes:
                if etree.QName(node).localname == name and len(node) == 0:
                    node.text = text
            continue
        if action == "all-attribute":
            names = sorted({a for n in nodes for a in n.attrib})
            if names:
                name = draw(st.sampled_from(names))
                for node in nodes:
                    if name in node.attrib:
                        node.set(name, text)
            continue
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        parent = node.getparent()
        if action == "text":
            node.text = text
        elif action == "attribute" and node.attrib:
            node.set(draw(st.sampled_from(sorted(node.attrib))), text)
        elif action == "remove" and parent is not None:
            parent.remove(node)
        elif action == "duplicate" and parent is not None:
            parent.insert(parent.index(node), etree.fromstring(etree.tostring(node)))
        elif action == "empty":
            node.clear()
    return head + etree.tostring(root, xml_declaration=True, encoding="UTF-8") + tail


@st.composite
def _byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(out)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "truncate", "repeat"]))
        if action == "insert":
            out[where:where] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
        elif action == "delete":
            del out[where : where + draw(st.integers(1, 64))]
        elif action == "flip" and where < len(out):
            out[where] = draw(st.integers(0, 255))
        elif action == "truncate":
            del out[where:]
        elif action == "repeat":
            piece = bytes(out[where : where + draw(st.integers(1, 32))])
            out[where:where] = piece * draw(st.integers(1, 50))
    return bytes(out)


@st.composite
def _mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = draw(st.sampled_from(seeds))
    tree, raw = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    if tree:
        data = draw(_tree_mutation(data))
    if raw:
        data = draw(_byte_mutation(data))
    return data


OUTCOMES: dict[str, dict[str, int]] = {}  # per target: "ok" or the project error's code, and how often


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_raises_only_project_errors(target: str) -> None:
    parser, seeds = TARGETS[target]
    for seed in seeds:  # the seeds themselves are read (or refused) cleanly
        _only_project_errors(parser, seed)

    outcomes = OUTCOMES.setdefault(target, {})

    @FUZZ
    @given(_mutated(seeds))
    def check(data: bytes) -> None:
        outcome = _only_project_errors(parser, data)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    check()
    if os.environ.get("FUZZ_STATS"):
        print(f"\n{target}: {sum(outcomes.values())} examples, {dict(sorted(outcomes.items()))}")
    assert "ok" in outcomes or target.startswith("soap"), outcomes  # the mutations reach the end


SLOT_TEXTS = ("²", "9" * 5000, "", "-1", "\u0000x", "x" * 300)


def _every_slot(seed: bytes) -> list[bytes]:
    """The seed with, in turn, every element name's text and every attribute name's value replaced
    (all occurrences at once) by each of SLOT_TEXTS: systematic, where Hypothesis samples."""
    head, xml, tail = _split_xml(seed)
    root = etree.fromstring(xml)
    nodes = [n for n in root.iter() if isinstance(n.tag, str)]
    leaves = sorted({n.tag for n in nodes if len(n) == 0})
    attributes = sorted({a for n in nodes for a in n.attrib})
    variants = []
    for text in SLOT_TEXTS:
        safe = text.replace("\u0000", "")  # lxml refuses NUL; the byte mutations send it raw
        for tag in leaves:
            copy = etree.fromstring(xml)
            for node in copy.iter(tag):
                node.text = safe
            variants.append(copy)
        for name in attributes:
            copy = etree.fromstring(xml)
            for node in copy.iter():
                if isinstance(node.tag, str) and name in node.attrib:
                    node.set(name, safe)
            variants.append(copy)
    return [head + etree.tostring(v, xml_declaration=True, encoding="UTF-8") + tail for v in variants]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_slot_holding_hostile_text(target: str) -> None:
    parser, seeds = TARGETS[target]
    for seed in seeds:
        for variant in _every_slot(seed):
            _only_project_errors(parser, variant)


def _only_project_errors(parser: Callable[[bytes], object], data: bytes) -> str:
    try:
        parser(data)
    except USER_FACING_ERRORS as error:
        code = str(getattr(error, "code", type(error).__name__))
        return "DMP:<code of the host>" if code.startswith("DMP:") else code
    return "ok"
