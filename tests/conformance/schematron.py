"""Run the CI-SIS structuration-minimale schematron (XSLT 2 binding) with Saxon-HE (saxonche).

Pipeline as recorded in resources/spec/SOURCES.md: ISO skeleton steps include → abstract-expand →
svrl, with the XSLT-1 skeleton that lxml ships (queryBinding renamed, the generated stylesheet
relabelled 2.0 so that Saxon evaluates the rules' XPath 2 expressions). The value-set file that is
missing upstream (JDV_J07, voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml) is generated, in a copy of the
folder, from the shipped SVS file.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import lxml.isoschematron
import pytest
from lxml import etree
from saxonche import PySaxonProcessor

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "resources" / "spec"
SKELETON = Path(lxml.isoschematron.__file__).parent / "resources" / "xsl" / "iso-schematron-xslt1"
SVRL = "http://purl.oclc.org/dsdl/svrl"
SVS = "urn:ihe:iti:svs:2008"


@dataclass(frozen=True)
class Finding:
    role: str
    location: str
    text: str


def _missing_value_set(folder: Path) -> None:
    svs = etree.parse(str(SPEC / "valuesets" / "jdv-cisis" / "JDV_J07_XdsTypeCode_CISIS.xml"))
    out = etree.Element("valueSets")
    concepts = etree.SubElement(
        etree.SubElement(out, "valueSet", id="1.2.250.1.213.1.1.5.471"), "conceptList"
    )
    for concept in svs.iter(f"{{{SVS}}}Concept"):
        etree.SubElement(
            concepts, "concept", code=concept.get("code", ""), codeSystem=concept.get("codeSystem", "")
        )
    etree.ElementTree(out).write(str(folder / "include" / "voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml"))


class StructurationMinimale:
    """Compiles the schematron once; ``check(cda_bytes)`` returns the failed asserts."""

    def __init__(self, workdir: Path) -> None:
        folder = workdir / "structurationMinimale"
        shutil.copytree(SPEC / "schematron" / "structurationMinimale", folder)
        _missing_value_set(folder)
        self._processor = PySaxonProcessor(license=False)
        xslt = self._processor.new_xslt30_processor()
        source = folder / "ASIP-STRUCT-MIN-StrucMin.sch"
        included = self._transform(
            xslt, SKELETON / "iso_dsdl_include.xsl", source, folder / "step1-included.sch"
        )
        expanded = self._transform(
            xslt, SKELETON / "iso_abstract_expand.xsl", included, folder / "step2-expanded.sch"
        )
        expanded.write_text(
            expanded.read_text(encoding="utf-8").replace('queryBinding="xslt2"', 'queryBinding="xslt"'),
            encoding="utf-8",
        )
        compiled = self._transform(xslt, SKELETON / "iso_svrl_for_xslt1.xsl", expanded, folder / "step3.xsl")
        compiled = compiled.read_text(encoding="utf-8")
        compiled = re.sub(r'(<xsl:stylesheet[^>]*?)version="1.0"', r'\1version="2.0"', compiled, count=1)
        self._validator_path = folder / "compiled-validator.xsl"
        self._validator_path.write_text(compiled, encoding="utf-8")
        self._validator = xslt.compile_stylesheet(stylesheet_file=str(self._validator_path))
        self._folder = folder

    @staticmethod
    def _transform(xslt, stylesheet: Path, source: Path, target: Path) -> Path:  # type: ignore[no-untyped-def]
        """One skeleton step, file to file, so that relative includes resolve against the rules."""
        executable = xslt.compile_stylesheet(stylesheet_file=str(stylesheet))
        executable.transform_to_file(source_file=str(source), output_file=str(target))
        return target

    def check(self, cda: bytes) -> list[Finding]:
        target = self._folder / "document.xml"  # beside the rules, which load include/*.xml relatively
        target.write_bytes(cda)
        report = self._validator.transform_to_string(source_file=str(target))
        svrl = etree.fromstring(report.encode("utf-8"))
        return [
            Finding(
                node.get("role", "error"),
                node.get("location", ""),
                " ".join("".join(node.itertext()).split()),
            )
            for node in svrl.iter(f"{{{SVRL}}}failed-assert")
        ]


@pytest.fixture(scope="session")
def structuration_minimale(tmp_path_factory: pytest.TempPathFactory) -> StructurationMinimale:
    """Compiled once per test run, shared by the level-1 and the structured documents' tests."""
    return StructurationMinimale(tmp_path_factory.mktemp("schematron"))
