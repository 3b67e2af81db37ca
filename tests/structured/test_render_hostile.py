"""Hostile narrative: the renderer stays safe (no script, no link, no external reference, only its
own tags and style sheet) and bounded (time, output size), with a project error or a « contenu
tronqué » note beyond its bounds; a Hypothesis fuzz test: anything but a project error is a bug."""

from __future__ import annotations

import base64
import time
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dmp_client.core.cda_render import TRUNCATED, Limits, render
from app.dmp_client.core.errors import CdaNotRenderable, HostileXml
from app.errors import DmpClientError
from tests.structured.test_render import HEADER, PNG, STRUCTURED, cda, media, safe

# Generous wall-clock bound for one hostile rendering on a loaded 2-core machine.
SECONDS = 15.0
MAX_HTML = 3 * Limits().max_output  # markup on top of the text budget


def timed(data: bytes) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result: object = render(data)
    except DmpClientError as error:
        result = error
    return time.perf_counter() - start, result


def test_script_elements_and_event_attributes_are_dropped() -> None:
    rendered = render(
        cda(
            "<script>alert(1)</script><paragraph onclick='alert(2)' style='x:expression(1)'>"
            "<content styleCode='Bold' onmouseover='alert(3)'>gras</content>"
            "<img src='http://evil.example/a.png' onerror='alert(4)'/><a href='http://evil.example'>lien</a>"
            "<iframe src='https://evil.example'/><object data='x'/><style>body{}</style></paragraph>"
        )
    )
    safe(rendered.html)
    assert "alert(2)" not in rendered.html and "alert(3)" not in rendered.html
    assert "expression" not in rendered.html
    # the script's text is shown as inert text, never as markup
    assert "&lt;script" not in rendered.html and "alert(1)" in rendered.text


def test_javascript_and_data_links_are_never_links() -> None:
    rendered = render(
        cda(
            "<linkHtml href='javascript:alert(1)'>a</linkHtml><linkHtml href='data:text/html,x'>b</linkHtml>"
            "<linkHtml href='JaVaScRiPt:alert(1)'>c</linkHtml><linkHtml href='#ancre'>d</linkHtml>"
        )
    )
    safe(rendered.html)
    assert "data:" not in rendered.html
    assert "a[lien non suivi]b[lien non suivi]c[lien non suivi]d" in rendered.text


def test_external_images_are_not_fetched() -> None:
    extra = (
        "<entry><observationMedia ID='m1'><value mediaType='image/png'>"
        "<reference value='file:///etc/passwd'/></value></observationMedia></entry>"
        "<entry><observationMedia ID='m2'><value mediaType='image/png' representation='TXT'>"
        "http://evil.example/b.png</value></observationMedia></entry>"
    )
    rendered = render(
        cda("<renderMultiMedia referencedObject='m1 m2'/>", extra=extra),
    )
    assert rendered.images == {}
    assert rendered.text.count("[référence externe non chargée]") == 2
    assert "passwd" not in rendered.html and "evil" not in rendered.html
    safe(rendered.html)


ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&c;</title></ClinicalDocument>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&e;</title></ClinicalDocument>'
)


@pytest.mark.parametrize("data", [ENTITY_BOMB, EXTERNAL_ENTITY], ids=["expansion", "external"])
def test_entities_and_doctypes_are_refused(data: bytes) -> None:
    with pytest.raises(HostileXml):
        render(data)
    with pytest.raises(HostileXml):  # also once decoded from UTF-16
        render(data.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"))


@pytest.mark.parametrize("depth", [1_500, 10_000])
def test_deep_nesting_is_bounded(depth: int) -> None:
    seconds, result = timed(cda("<content>" * depth + "fond" + "</content>" * depth))
    assert seconds < SECONDS
    if isinstance(result, DmpClientError):
        assert isinstance(result, CdaNotRenderable)  # beyond the parser's own depth bound
    else:
        assert result.truncated  # type: ignore[attr-defined]
        assert f"[{TRUNCATED} : imbrication trop profonde]" in result.text  # type: ignore[attr-defined]


def test_deeply_nested_sections_and_lists_are_bounded() -> None:
    sections = "<component><section><title>s</title>" * 500 + "</section></component>" * 500
    seconds, result = timed(cda("x", extra=sections))
    assert seconds < SECONDS and not isinstance(result, DmpClientError)
    assert result.truncated and "sections trop imbriquées" in result.text  # type: ignore[attr-defined]
    lists = "<list><item>" * 800 + "fond" + "</item></list>" * 800
    seconds, result = timed(cda(lists))
    assert seconds < SECONDS and result.truncated  # type: ignore[attr-defined]


def test_a_100000_cell_table_is_cut_with_a_note() -> None:
    row = "<tr>" + "<td>cellule</td>" * 10 + "</tr>"
    data = cda("<table><tbody>" + row * 10_000 + "</tbody></table>")
    seconds, result = timed(data)
    assert seconds < SECONDS and not isinstance(result, DmpClientError)
    assert result.truncated  # type: ignore[attr-defined]
    assert f"[{TRUNCATED} : tableau trop grand]" in result.text  # type: ignore[attr-defined]
    rows = [line for line in result.text.splitlines() if line.startswith("| cellule")]  # type: ignore[attr-defined]
    assert 0 < len(rows) <= Limits().max_rows
    assert len(result.html) < MAX_HTML  # type: ignore[attr-defined]


def test_many_tables_share_one_cell_budget() -> None:
    table = "<table><tbody>" + ("<tr>" + "<td>c</td>" * 10 + "</tr>") * 1_000 + "</tbody></table>"
    seconds, result = timed(cda(table * 10))
    assert seconds < SECONDS and result.truncated  # type: ignore[attr-defined]
    assert result.html.count("<td><p>c</p></td>") <= Limits().max_cells  # type: ignore[attr-defined]


def test_huge_text_is_cut_with_a_note() -> None:
    words = "texte " * 1_500_000  # 9 MB in one paragraph, then a second one
    paragraphs = f"<paragraph>début</paragraph><paragraph>{words}</paragraph><paragraph>fin</paragraph>"
    seconds, result = timed(cda(paragraphs))
    assert seconds < SECONDS and not isinstance(result, DmpClientError)
    assert result.truncated and f"[{TRUNCATED}]" in result.text  # type: ignore[attr-defined]
    assert "début" in result.text  # type: ignore[attr-defined]  # what came before the bound is kept
    assert len(result.html) < MAX_HTML  # type: ignore[attr-defined]


def test_a_document_over_the_size_bound_is_a_project_error() -> None:
    data = cda("<paragraph>" + "x" * 2_000 + "</paragraph>")
    with pytest.raises(CdaNotRenderable):
        render(data, Limits(max_bytes=1_000))


def test_many_images_are_bounded() -> None:
    png = base64.b64encode(PNG).decode()
    extra = "".join(
        media(f"m{n}", f"<value mediaType='image/png' representation='B64'>{png}</value>") for n in range(40)
    )
    refs = "".join(f"<renderMultiMedia referencedObject='m{n}'/>" for n in range(40))
    rendered = render(cda(refs, extra=extra))
    assert len(rendered.images) == Limits().max_images and rendered.truncated
    big = base64.b64encode(PNG + b"\0" * (3 * 1024 * 1024)).decode()
    extra = media("big", f"<value mediaType='image/png' representation='B64'>{big}</value>")
    rendered = render(cda("<renderMultiMedia referencedObject='big'/>", extra=extra))
    assert rendered.images == {} and "[image trop volumineuse, non affichée]" in rendered.text


# -- fuzzing -------------------------------------------------------------------------------------

NAMES = [
    "paragraph", "content", "list", "item", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
    "br", "sub", "sup", "footnote", "footnoteRef", "linkHtml", "renderMultiMedia", "col", "colgroup",
    "script", "img", "a", "section", "text", "title", "component",
]  # fmt: skip
ATTRIBUTES = [
    "styleCode",
    "listType",
    "colspan",
    "rowspan",
    "align",
    "href",
    "referencedObject",
    "ID",
    "onclick",
]
VALUES = st.sampled_from(
    [
        "Bold",
        "Italics Underline",
        "ordered",
        "0",
        "-1",
        "99999999999",
        "javascript:x",
        "http://e/x",
        "m1",
        "",
        "é<",
    ]
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


def _tree(depth: int) -> st.SearchStrategy[str]:
    def element(children: list[str], name: str, attributes: dict[str, str], text: str) -> str:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in attributes.items())
        return f"<{name}{attrs}>{escape(text)}{''.join(children)}</{name}>"

    leaf = st.builds(escape, TEXT)
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            element,
            st.lists(inner, max_size=4),
            st.sampled_from(NAMES),
            st.dictionaries(st.sampled_from(ATTRIBUTES), VALUES, max_size=3),
            TEXT,
        ),
        max_leaves=depth,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tree(40))
def test_fuzzed_narratives_render_or_raise_a_project_error(narrative: str) -> None:
    try:
        rendered = render(cda(narrative))
    except DmpClientError:
        return
    safe(rendered.html)


EXAMPLE = STRUCTURED[0].read_bytes()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(EXAMPLE) - 1), st.binary(min_size=0, max_size=8)), max_size=6))
def test_mutated_examples_render_or_raise_a_project_error(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(EXAMPLE)
    for position, replacement in edits:
        data[position : position + len(replacement)] = replacement
    try:
        rendered = render(bytes(data))
    except DmpClientError:
        return
    safe(rendered.html)


def test_the_header_template_renders() -> None:  # the fuzz tests' base document is itself valid
    assert render(HEADER.replace("{body}", "").encode()).text.startswith("Synthèse d'essai")
