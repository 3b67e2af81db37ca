"""Hostile answers to the client's parsers, and hostile requests to the sandbox host's: each case is
refused (or, for the few that must pass, read whole) with a project error, within seconds and a few
hundred MB. Each runs in a child process (tests/dmp_client/hostile_cases.py) whose address space is
capped, so a regression fails the test instead of the machine; wall-clock and peak RSS are the
child's own. Figures: bench/README.md, "Hostile parsers"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dmp_client import hostile_cases

ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 10.0  # generous: every case takes well under a second on the 2-core VM
MAX_RSS_MB = 450  # the child's peak, including the hostile input it builds itself (up to 200 MB)

EXPECTED = {
    "mtom_no_crlf": "DMP-MTOM-REFUSE",
    "mtom_many_parts": "DMP-MTOM-REFUSE",
    "mtom_epilogue": "DMP-MTOM-REFUSE",
    "mtom_big_attachment": "DMP-MTOM-REFUSE",
    "mtom_long_headers": "DMP-MTOM-REFUSE",
    "mtom_long_preamble": "DMP-MTOM-REFUSE",
    "mtom_huge_root": "DMP-XML-REFUSE",
    "mtom_near_delimiters": "ok",
    "xml_element_bomb": "DMP-XML-REFUSE",
    "xml_attribute_bomb": "DMP-XML-REFUSE",
    "xml_utf16_entities": "DMP-XML-REFUSE",
    "xml_doctype_late": "DMP-XML-REFUSE",
    "xml_deep": "DMP-REPONSE-ILLISIBLE",
    "xml_inline_40mb": "ok",
    "cda_doctype_body": "DMP-XML-REFUSE",
    "cda_doctype_identity": "DMP-XML-REFUSE",
    "cda_element_bomb": "DMP-XML-REFUSE",
    "cda_superscript_version": "DMP-REQUETE-INVALIDE",
    "iti18_superscript_size": "ok",
    "host_element_bomb": "HOST:DMPInvalidRequest",
    "host_utf16_entities": "HOST:DMPInvalidRequest",
    "host_mtom_delimiters": "HOST:BodyError",
    "host_mtom_many_parts": "HOST:BodyError",
    "host_cda_doctype_late": "HOST:XDSRepositoryMetadataError",
    "host_cda_utf16_doctype": "HOST:XDSRepositoryMetadataError",
    "host_cda_element_bomb": "HOST:XDSRepositoryMetadataError",
}


# The host's refusals carry their reason (the fault or RegistryError the client shows).
REASONS = {
    "host_cda_doctype_late": "DTD ou entités",
    "host_cda_utf16_doctype": "encodage",
    "host_cda_element_bomb": "trop d'éléments",
    "host_utf16_entities": "DTD ou entités",
    "host_element_bomb": "trop d'éléments",
    "host_mtom_delimiters": "Trop de parties",
    "host_mtom_many_parts": "Trop de parties",
}


def test_every_case_has_an_expected_outcome() -> None:
    assert set(EXPECTED) == set(hostile_cases.CASES)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_case(case: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.dmp_client.hostile_cases", case],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == EXPECTED[case], result
    assert result["seconds"] < MAX_SECONDS, result
    assert result["rss_mb"] < MAX_RSS_MB, result
    assert REASONS.get(case, "") in result["detail"], result
