"""The four checks every structured CDA the project builds must pass: the CDA XSD, its volet
schematron (VSM 2023.01 or VAC-NOTE 2023.01) and both CI-SIS content-model schematrons
(``profils/CI-SIS_ModelesDeContenusCDA.sch``, ``profils/CI-SIS_Modeles_ANS.sch``).

The schematrons compile with the ANS engine (``resources/spec/schematron/structured/moteur/``) in
its three steps (iso_dsdl_include → iso_abstract_expand → iso_svrl_for_xslt2), run by Saxon-HE
(saxonche), no parameters (default phase), as resources/spec/SOURCES.md records. The value sets are
read with ``document('../jeuxDeValeurs/…')`` (volets) and ``document('../../jeuxDeValeurs/…')``
(content models), relative to the *compiled* XSLT: the volet XSLTs are written to ``<work>/x/``, the
content models to ``<work>/x/profils/``, and ``<work>/jeuxDeValeurs/`` is a copy of
``resources/spec/valuesets/jdv-ansforge/``. Nothing is written into resources/.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "resources" / "spec"
RULES = SPEC / "schematron" / "structured"
ENGINE = RULES / "moteur"
SVRL = "http://purl.oclc.org/dsdl/svrl"

VOLETS = {"VSM": "CI-SIS_VSM_2023.01", "VAC-NOTE": "CI-SIS_VAC-NOTE_2023.01"}
CONTENT_MODELS = ("CI-SIS_ModelesDeContenusCDA", "CI-SIS_Modeles_ANS")


@dataclass(frozen=True)
class FailedAssert:
    schematron: str
    location: str
    test: str
    text: str


@dataclass
class Report:
    """The failed asserts of each check (``xsd`` holds the schema errors)."""

    xsd: list[str] = field(default_factory=list)
    failed: dict[str, list[FailedAssert]] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)

    def all_failed(self) -> list[FailedAssert]:
        return [f for found in self.failed.values() for f in found]

    def texts(self) -> list[str]:
        return [f"{f.schematron}: {f.text}" for f in self.all_failed()]

    @property
    def clean(self) -> bool:
        return not self.xsd and not self.all_failed()


class StructuredChecks:
    """Compiles the two volets and the two content models once (``timings`` says how long each
    took); ``check(cda, volet)`` runs the four checks on one document."""

    def __init__(self, workdir: Path) -> None:
        started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self._work = workdir
        shutil.copytree(SPEC / "valuesets" / "jdv-ansforge", workdir / "jeuxDeValeurs")
        (workdir / "x" / "profils").mkdir(parents=True)
        (workdir / "steps").mkdir()
        self._processor = PySaxonProcessor(license=False)
        self._xslt = self._processor.new_xslt30_processor()
        steps = [
            self._xslt.compile_stylesheet(stylesheet_file=str(ENGINE / name))
            for name in ("iso_dsdl_include.xsl", "iso_abstract_expand.xsl", "iso_svrl_for_xslt2.xsl")
        ]
        self._compiled = {}
        for name, source, target in [
            *((n, RULES / f"{n}.sch", workdir / "x" / f"{n}.xsl") for n in VOLETS.values()),
            *(
                (n, RULES / "profils" / f"{n}.sch", workdir / "x" / "profils" / f"{n}.xsl")
                for n in CONTENT_MODELS
            ),
        ]:
            begin = time.perf_counter()
            current = source
            for index, step in enumerate(steps):
                out = target if index == 2 else workdir / "steps" / f"{name}.{index}.sch"
                step.transform_to_file(source_file=str(current), output_file=str(out))
                current = out
            self._compiled[name] = self._xslt.compile_stylesheet(stylesheet_file=str(target))
            self.timings[name] = time.perf_counter() - begin
        self._schema = etree.XMLSchema(etree.parse(str(SPEC / "cda-xsd" / "cda" / "CDA_extended.xsd")))
        self.timings["total"] = time.perf_counter() - started
        self._count = 0

    def check(self, cda: bytes, volet: str) -> Report:
        report = Report()
        document = etree.fromstring(cda)
        if not self._schema.validate(document):
            report.xsd = [f"{e.line}: {e.message}" for e in self._schema.error_log]  # type: ignore[attr-defined]
        self._count += 1
        target = self._work / f"document-{self._count}.xml"
        target.write_bytes(cda)
        for name in (VOLETS[volet], *CONTENT_MODELS):
            svrl = etree.fromstring(
                self._compiled[name].transform_to_string(source_file=str(target)).encode()
            )
            report.fired[name] = sum(1 for _ in svrl.iter(f"{{{SVRL}}}fired-rule"))
            report.failed[name] = [
                FailedAssert(
                    name,
                    node.get("location", ""),
                    node.get("test", ""),
                    " ".join("".join(node.itertext()).split()),
                )
                for node in svrl.iter(f"{{{SVRL}}}failed-assert")
            ]
        target.unlink()
        return report
