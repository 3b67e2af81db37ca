"""docs/errors.md against the code: every code documented exactly once, with its French message
(the class's own, verbatim, where the class has one) and what the user should do."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.architecture.error_codes import BARE, PATTERNS, ROOT, Defined, Row, defined_codes, doc_rows

# The user-facing codes the issue found missing: each must have its row (not only a class).
ONCE_MISSING = (
    "DMP-AUTEUR", "DMP-INEXISTANT", "DMP-FERME", "DMP-NON-AUTORISE", "MAJ-VERIFICATION",
    "DMP-DOCUMENT-INCONNU", "DMP-INDISPONIBLE", "CARTE-SURVEILLANCE", "DEMO",
)  # fmt: skip


@pytest.fixture(scope="module")
def defined() -> list[Defined]:
    return defined_codes()


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return doc_rows()


def _sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "app").rglob("*.py")))


def undocumented(defined: list[Defined], rows: list[Row]) -> dict[str, str]:
    documented = {code for row in rows for code in row.codes}
    return {d.code: d.where for d in defined if d.code not in documented}


def test_every_code_is_documented(defined: list[Defined], rows: list[Row]) -> None:
    assert len({d.code for d in defined}) > 100  # the collection does find the codes
    assert undocumented(defined, rows) == {}


def test_every_code_has_exactly_one_row(rows: list[Row]) -> None:
    counts = collections.Counter(code for row in rows for code in row.codes)
    assert [code for code, n in counts.items() if n > 1] == []
    assert [row.codes for row in rows if len(row.codes) != 1] == []  # one code per row


def test_every_documented_code_exists(defined: list[Defined], rows: list[Row]) -> None:
    codes = {d.code for d in defined}
    sources = _sources()
    stale = [
        code
        for row in rows
        for code in row.codes
        if code not in codes and code not in PATTERNS and code not in sources
    ]
    assert stale == []


def test_each_row_has_the_message_and_what_to_do(defined: list[Defined], rows: list[Row]) -> None:
    by_code = {row.codes[0]: row for row in rows}
    for row in rows:
        assert len(row.cells) == 3 and all(row.cells), (row.line, row.codes)
    for d in defined:
        if d.message not in (None, BARE):  # the class's own message, as the user sees it
            cell = by_code[d.code].cells[0].replace("\\|", "|")
            assert d.message in cell, (d.code, d.where)


def test_the_codes_the_issue_found_missing_are_documented(rows: list[Row]) -> None:
    documented = {code for row in rows for code in row.codes}
    assert set(ONCE_MISSING) <= documented


def test_the_check_fails_on_a_new_undocumented_code(defined: list[Defined], rows: list[Row]) -> None:
    added = [*defined, Defined("DMP-NOUVEAU", "app/x.py:1", "Nouveau.")]
    assert undocumented(added, rows) == {"DMP-NOUVEAU": "app/x.py:1"}


def test_a_doc_row_is_read_with_its_cells(tmp_path: Path) -> None:
    text = "| Code | Message | When | Do |\n|---|---|---|---|\n| `A-B` | « x \\| y » | when | do |\n"
    (row,) = doc_rows(text)
    assert row.codes == ("A-B",) and row.cells == ("« x \\| y »", "when", "do")


def test_no_error_is_raised_with_a_bare_code(defined: list[Defined]) -> None:
    # One class per code (issue 15): ``DmpClientError("…", code="X")`` hides the code from the
    # class table and from the reader; the class named by the code says what the error is.
    assert [d.where for d in defined if d.message == BARE] == []
