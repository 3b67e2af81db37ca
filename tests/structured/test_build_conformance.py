"""Every hand-off example builds documents that pass the CDA XSD, their volet schematron and both
CI-SIS content-model schematrons with zero failed asserts; broken copies fail the expected asserts."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from tests.conformance.schematron import StructurationMinimale
from tests.structured.build_helpers import NS, handoff, vaccination_notes, vsm_bytes
from tests.structured.schematron import CONTENT_MODELS, SPEC, StructuredChecks

VSM_EXAMPLES = ["vsm_minimal.json", "vsm_full.json", "vsm_accents.json", "vsm_missing_optional.json"]
VACCINATION_EXAMPLES = ["vaccination_child.json", "vaccination_adult.json"]


def test_the_harness_passes_the_ans_examples(structured_checks: StructuredChecks) -> None:
    """The control: the ANS's own examples give 0 everywhere (as resources/spec/SOURCES.md records)."""
    examples = SPEC / "cda-examples" / "structured"
    for name, volet in (("VSM_1.4_2022.01.xml", "VSM"), ("VAC-NOTE_2023.01.xml", "VAC-NOTE")):
        report = structured_checks.check((examples / name).read_bytes(), volet)
        assert report.clean, (name, report.xsd, report.texts())
        assert report.fired["CI-SIS_ModelesDeContenusCDA"] > 5  # the entry rules did run


@pytest.mark.parametrize("name", VSM_EXAMPLES)
def test_vsm_examples_pass_the_four_checks(structured_checks: StructuredChecks, name: str) -> None:
    cda = vsm_bytes(name)
    report = structured_checks.check(cda, "VSM")
    assert report.xsd == []
    assert report.texts() == []
    # The ANS sections of the VSM (2.29, 2.30, 2.31, 2.32) are each checked by Modeles_ANS.
    assert report.fired["CI-SIS_Modeles_ANS"] >= 4
    # Entete_VSM_2023.sch's second rule never fires upstream (a shadowed rule): checked here.
    document = etree.fromstring(cda)
    event = document.find("cda:documentationOf/cda:serviceEvent/cda:code", NS)
    assert event is not None
    assert (
        event.get("code"),
        event.get("displayName"),
        event.get("codeSystem"),
        event.get("codeSystemName"),
    ) == (
        "34117-2",
        "Historique et clinique",
        "2.16.840.1.113883.6.1",
        "LOINC",
    )


def test_the_full_vsm_has_its_coded_entries_checked(structured_checks: StructuredChecks) -> None:
    cda = vsm_bytes("vsm_full.json")
    document = etree.fromstring(cda)
    # 2 pathologies + 2 antecedents (problem concerns) + 3 allergies, 4 treatments

    def found(xpath: str) -> list[etree._Element]:
        return list(document.xpath(xpath, namespaces=NS))  # type: ignore[arg-type]

    assert len(found("//cda:act[cda:templateId/@root='1.3.6.1.4.1.19376.1.5.3.1.4.5.2']")) == 4
    assert len(found("//cda:act[cda:templateId/@root='1.3.6.1.4.1.19376.1.5.3.1.4.5.3']")) == 3
    assert len(found("//cda:substanceAdministration")) == 4
    values = [
        v.get("code") for v in found("//cda:observation/cda:value[@codeSystem='2.16.840.1.113883.6.3']")
    ]
    assert values == ["I10", "E11.9", "N10"]  # the uncoded antecedent is free text (nullFlavor OTH)
    report = structured_checks.check(cda, "VSM")
    assert report.fired["CI-SIS_ModelesDeContenusCDA"] >= 40


@pytest.mark.parametrize("name", VACCINATION_EXAMPLES)
def test_vaccination_examples_pass_the_four_checks(structured_checks: StructuredChecks, name: str) -> None:
    notes = vaccination_notes(name)
    assert len(notes) == len(__import__("json").loads(handoff(name))["vaccinations"])  # one note per act
    for cda in notes:
        report = structured_checks.check(cda, "VAC-NOTE")
        assert report.xsd == []
        assert report.texts() == []
        assert report.fired["CI-SIS_VAC-NOTE_2023.01"] >= 5
        assert report.fired["CI-SIS_ModelesDeContenusCDA"] >= 8


def _broken(cda: bytes, xpath: str, change: str, value: str | None = None) -> bytes:
    document = etree.fromstring(cda)
    (node,) = document.xpath(xpath, namespaces=NS)
    if change == "remove":
        node.getparent().remove(node)
    else:
        node.set(change, value or "")
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


def _failures(checks: StructuredChecks, cda: bytes, volet: str) -> dict[str, list[str]]:
    report = checks.check(cda, volet)
    assert report.xsd == [] or volet == "any"
    return {name: [f.text for f in found] for name, found in report.failed.items() if found}


def test_a_vsm_without_its_treatment_section_fails_the_volet(structured_checks: StructuredChecks) -> None:
    cda = _broken(
        vsm_bytes("vsm_full.json"),
        "//cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.32']/..",
        "remove",
    )
    failed = _failures(structured_checks, cda, "VSM")
    assert list(failed) == ["CI-SIS_VSM_2023.01"]
    assert (
        len(failed["CI-SIS_VSM_2023.01"]) == 1
        and "Traitement au long cours" in failed["CI-SIS_VSM_2023.01"][0]
    )


def test_a_vsm_without_its_risk_factor_subsection_fails_the_ans_model(
    structured_checks: StructuredChecks,
) -> None:
    cda = _broken(
        vsm_bytes("vsm_full.json"),
        "//cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.31']/..",
        "remove",
    )
    failed = _failures(structured_checks, cda, "VSM")
    assert list(failed) == ["CI-SIS_Modeles_ANS"]
    assert any("1.2.250.1.213.1.1.2.31" in text for text in failed["CI-SIS_Modeles_ANS"])


def test_a_wrong_risk_factor_section_code_fails_the_ans_model(structured_checks: StructuredChecks) -> None:
    cda = _broken(
        vsm_bytes("vsm_full.json"),
        "//cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.31']/cda:code",
        "code",
        "11111-1",
    )
    failed = _failures(structured_checks, cda, "VSM")
    assert list(failed) == ["CI-SIS_Modeles_ANS"]
    assert any("57207-3" in text for text in failed["CI-SIS_Modeles_ANS"])


def test_an_atc_code_in_a_product_code_fails_the_content_model(structured_checks: StructuredChecks) -> None:
    """The product's code must be CIS (E_produitDeSante_fr): an ATC class there is refused."""
    cda = _broken(
        vsm_bytes("vsm_full.json"),
        "(//cda:manufacturedMaterial/cda:code[@codeSystem='1.2.250.1.213.2.3.1'])[1]",
        "codeSystem",
        "2.16.840.1.113883.6.73",
    )
    failed = _failures(structured_checks, cda, "VSM")
    assert list(failed) == ["CI-SIS_ModelesDeContenusCDA"]
    assert any("codé en CIS" in text for text in failed["CI-SIS_ModelesDeContenusCDA"])


def test_a_wrong_allergy_status_fails_the_value_set_check(structured_checks: StructuredChecks) -> None:
    cda = _broken(
        vsm_bytes("vsm_full.json"),
        "(//cda:observation[cda:templateId/@root='1.2.250.1.213.1.1.3.30']/cda:value)[1]",
        "code",
        "perhaps",
    )
    failed = _failures(structured_checks, cda, "VSM")
    assert list(failed) == ["CI-SIS_ModelesDeContenusCDA"]


def test_a_vaccination_note_without_its_lot_number_fails_the_volet(
    structured_checks: StructuredChecks,
) -> None:
    cda = _broken(vaccination_notes("vaccination_adult.json")[0], "//cda:lotNumberText", "remove")
    failed = _failures(structured_checks, cda, "VAC-NOTE")
    assert list(failed) == ["CI-SIS_VAC-NOTE_2023.01"]
    assert any("numéro de lot" in text for text in failed["CI-SIS_VAC-NOTE_2023.01"])


def test_a_vaccination_note_without_its_entry_fails_the_volet(structured_checks: StructuredChecks) -> None:
    cda = _broken(vaccination_notes("vaccination_adult.json")[0], "//cda:entry", "remove")
    failed = _failures(structured_checks, cda, "VAC-NOTE")
    assert "CI-SIS_VAC-NOTE_2023.01" in failed
    assert any("FR-Vaccination" in text for text in failed["CI-SIS_VAC-NOTE_2023.01"])


def test_a_wrong_route_code_fails_the_value_set_check(structured_checks: StructuredChecks) -> None:
    cda = _broken(vaccination_notes("vaccination_adult.json")[0], "//cda:routeCode", "code", "99999999")
    failed = _failures(structured_checks, cda, "VAC-NOTE")
    assert list(failed) == ["CI-SIS_ModelesDeContenusCDA"]
    assert any("JDV_ImmunizationRouteCodes" in text for text in failed["CI-SIS_ModelesDeContenusCDA"])


def test_a_wrong_immunization_act_code_fails_the_content_model(structured_checks: StructuredChecks) -> None:
    cda = _broken(
        vaccination_notes("vaccination_child.json")[0],
        "//cda:substanceAdministration/cda:code",
        "code",
        "XXXIMMUNIZ",
    )
    failed = _failures(structured_checks, cda, "VAC-NOTE")
    assert list(failed) == ["CI-SIS_ModelesDeContenusCDA"]


def test_a_wrong_document_code_fails_the_volet(structured_checks: StructuredChecks) -> None:
    cda = _broken(vsm_bytes("vsm_minimal.json"), "/cda:ClinicalDocument/cda:code", "code", "11488-4")
    failed = _failures(structured_checks, cda, "VSM")
    assert "CI-SIS_VSM_2023.01" in failed
    assert any("SYNTH" in text for text in failed["CI-SIS_VSM_2023.01"])


def test_checks_are_compiled_once_and_stay_fast(structured_checks: StructuredChecks) -> None:
    """Generous bounds: the compile ran once for the session; one document's four checks are quick."""
    assert set(structured_checks.timings) >= {*CONTENT_MODELS, "total"}
    assert structured_checks.timings["total"] < 60
    cda = vsm_bytes("vsm_full.json")
    started = time.perf_counter()
    structured_checks.check(cda, "VSM")
    assert time.perf_counter() - started < 10


def test_structured_headers_pass_the_structuration_minimale(
    structuration_minimale: StructurationMinimale,
) -> None:
    """The header rules every CDA of the DMP meets (the level-1 schematron; compiled once per run and
    shared with tests/conformance/test_cda.py)."""
    for cda in (
        vsm_bytes("vsm_full.json"),
        vsm_bytes("vsm_accents.json"),
        *vaccination_notes("vaccination_child.json"),
    ):
        assert [f.text for f in structuration_minimale.check(cda)] == []
