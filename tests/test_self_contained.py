"""The repository carries what it needs: nothing reads ../shared at run or test time."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ["app", "sandbox", "tests", "bench", "scripts", "installer"]
CODE_SUFFIXES = {".py", ".sh", ".json", ".toml", ".cfg", ".spec"}


def test_no_code_refers_to_the_shared_folder() -> None:
    pattern = re.compile(r"\.\./shared|[\"']shared/(spec|docs)")
    offenders = []
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            checked = path.suffix in CODE_SUFFIXES and path != Path(__file__)
            if checked and pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(str(path.relative_to(ROOT)))
    for name in ["Makefile", ".ci/run", "pyproject.toml"]:
        if pattern.search((ROOT / name).read_text(encoding="utf-8")):
            offenders.append(name)
    assert offenders == []


def test_copied_spec_material_has_its_sources() -> None:
    spec = ROOT / "resources" / "spec"
    assert (spec / "SOURCES.md").is_file()
    assert (ROOT / "resources" / "SOURCES.md").is_file()
    for entry in [
        "xds-xsd/soap-1.2-envelope.xsd",
        "xds-xsd/ebRS30/lcm.xsd",
        "cda-xsd/cda/CDA_extended.xsd",
        "schematron/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch",
        "wss-saml-xsd/saml-schema-assertion-2.0.xsd",
        "valuesets/jdv-cisis",
        "xsl/CDAHeaderToXDM.xsl",
    ]:
        assert (spec / entry).exists(), entry
