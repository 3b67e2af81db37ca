"""The hand-off JSON: the examples parse; bad input is refused with the project's error, in French,
naming the field; parsing is bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.dmp_client.core.errors import StructuredHandoffInvalid
from app.dmp_client.core.structured import VSM, build_vsm, parse_summary, parse_vaccinations
from app.dmp_client.core.structured.handoff import MAX_BYTES, MAX_ITEMS
from app.dmp_client.core.structured.model import ATC, CIM10, CIS, UCD, SummaryHandoff
from tests.structured.build_helpers import handoff, header_for, serialize


def _summary(**changes: Any) -> bytes:
    data = json.loads(handoff("vsm_full.json"))
    data.update(changes)
    return json.dumps(data).encode()


def _vaccinations(change: dict[str, Any]) -> bytes:
    data = json.loads(handoff("vaccination_adult.json"))
    data["vaccinations"][0].update(change)
    return json.dumps(data).encode()


def test_the_full_example_parses_into_the_model() -> None:
    summary = parse_summary(handoff("vsm_full.json"))
    assert summary.patient is not None and summary.patient.ins.matricule.value == "150081505104018"
    assert summary.author.specialty.code == "G15_10/SM54"
    assert summary.custodian == summary.author.organization  # no structure_responsable: the author's
    assert [c.code.code for c in summary.pathologies if c.code] == ["I10", "E11.9"]
    assert summary.pathologies[0].code is not None and summary.pathologies[0].code.system == CIM10
    assert summary.antecedents[1].code is None  # free text
    assert summary.antecedents[0].code is not None
    assert summary.antecedents[0].code.display == "Néphrite tubulo-interstitielle aiguë"  # the code's label
    assert summary.pathologies[0].code.display == "Hypertension essentielle"  # default: the EHR's label
    assert [a.agent.system if a.agent else None for a in summary.allergies] == [CIS, ATC, None]
    assert [t.medicine.system if t.medicine else None for t in summary.treatments] == [CIS, ATC, UCD, None]
    assert summary.treatments[0].route is not None and summary.treatments[0].route.code == "20053000"
    assert summary.created is not None and summary.created.utcoffset() is not None


def test_the_child_vaccinations_parse_with_their_value_sets() -> None:
    notes = parse_vaccinations(handoff("vaccination_child.json"))
    assert len(notes.vaccinations) == 3
    first = notes.vaccinations[0]
    assert (first.kind.code, first.rank, first.route and first.route.display) == (
        "BOOSTER",
        4,
        "Voie intramusculaire",
    )
    assert first.site is not None and first.site.display == "deltoïde gauche"
    assert notes.vaccinations[2].site is None
    assert parse_vaccinations(handoff("vaccination_adult.json")).vaccinations[0].rank is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_summary(pathologies=[{"libelle": "HTA", "cim10": "hta"}]), "pathologies[1].cim10"),
        (_summary(pathologies=[{"libelle": "HTA", "debut": "07/12/2026"}]), "pathologies[1].debut"),
        (_summary(pathologies=[{"libelle": "HTA", "debut": "2026-02-30"}]), "pathologies[1].debut"),
        (_summary(pathologies=[{"cim10": "I10"}]), "pathologies[1].libelle"),
        (_summary(pathologies=[{"libelle": "HTA", "cim": "I10"}]), "pathologies[1].cim"),
        (
            _summary(antecedents=[{"libelle": "X", "debut": "2020-01-02", "fin": "2019-01-01"}]),
            "antecedents[1].fin",
        ),
        (_summary(allergies=[{"agent": "Pollen", "statut": "peut-être"}]), "allergies[1].statut"),
        (
            _summary(allergies=[{"agent": "X", "code": {"systeme": "CIP", "code": "1"}}]),
            "allergies[1].code.systeme",
        ),
        (
            _summary(traitements=[{"medicament": "X", "code": {"systeme": "CIS", "code": "123"}}]),
            "traitements[1].code.code",
        ),
        (
            _summary(traitements=[{"medicament": "X", "voie": {"code": "orale", "libelle": "Voie orale"}}]),
            "traitements[1].voie.code",
        ),
        (_summary(traitements="Doliprane"), "traitements"),
        (_summary(facteurs_de_risque=[12]), "facteurs_de_risque[1].texte"),
        (_summary(date="2026-12-07T10:30:00"), "date"),
        (
            _summary(
                auteur={
                    "identifiant": "899900012341",
                    "prenom": "A",
                    "nom": "B",
                    "specialite": "XX",
                    "structure": {"identifiant": "1", "nom": "C"},
                }
            ),
            "auteur.specialite",
        ),
        (
            _summary(
                patient={
                    "ins": {"matricule": "1", "oid": "1.2.250.1.213.1.4.10"},
                    "traits": {"nom_naissance": "A", "prenoms": "B", "sexe": "M", "naissance": "2000-01-01"},
                }
            ),
            "patient.ins/traits",
        ),
        (_summary(resume="?"), "resume"),
        (_vaccinations({"lot": ""}), "vaccinations[1].lot"),
        (_vaccinations({"voie": "20053001"}), "vaccinations[1].voie"),
        (_vaccinations({"site": "12345"}), "vaccinations[1].site"),
        (_vaccinations({"type": "RAPPEL"}), "vaccinations[1].type"),
        (_vaccinations({"rang": 0}), "vaccinations[1].rang"),
        (_vaccinations({"rang": "2"}), "vaccinations[1].rang"),
        (
            _vaccinations({"vaccin": {"cis": "68747507", "libelle": "X", "atc": "J07AM"}}),
            "vaccinations[1].vaccin.atc_libelle",
        ),
        (
            _vaccinations({"vaccin": {"libelle": "X", "atc": "J07AM", "atc_libelle": "Y"}}),
            "vaccinations[1].vaccin.cis",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(data: bytes, field: str) -> None:
    parse = parse_vaccinations if b'"vaccinations"' in data else parse_summary
    with pytest.raises(StructuredHandoffInvalid) as refused:
        parse(data)
    assert refused.value.code == "DMP-DONNEES-STRUCTUREES"
    assert f"« {field} »" in refused.value.user_message
    assert "150081505104018" not in str(refused.value)  # no patient data in the message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'{"auteur": 1}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"vaccinations": []}',
    ],
)
def test_unreadable_input_is_refused(data: bytes) -> None:
    for parse in (parse_summary, parse_vaccinations):
        with pytest.raises(StructuredHandoffInvalid):
            parse(data)


def test_no_vaccination_is_refused() -> None:
    data = json.loads(handoff("vaccination_adult.json"))
    data["vaccinations"] = []
    with pytest.raises(StructuredHandoffInvalid, match="au moins une vaccination"):
        parse_vaccinations(json.dumps(data).encode())


def test_parsing_is_bounded() -> None:
    started = time.perf_counter()
    with pytest.raises(StructuredHandoffInvalid, match="ko"):
        parse_summary(b" " * (MAX_BYTES + 1))
    with pytest.raises(StructuredHandoffInvalid, match="plus de"):
        parse_summary(_summary(pathologies=[{"libelle": "x"}] * (MAX_ITEMS + 1)))
    with pytest.raises(StructuredHandoffInvalid, match="trop long"):
        parse_summary(_summary(facteurs_de_risque=["x" * 100_000]))
    with pytest.raises(StructuredHandoffInvalid, match="contrôle"):
        parse_summary(_summary(facteurs_de_risque=["a\x00b"]))
    assert time.perf_counter() - started < 5


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
_KEYS = [
    "patient",
    "auteur",
    "pathologies",
    "antecedents",
    "allergies",
    "facteurs_de_risque",
    "resultats",
    "traitements",
    "vaccinations",
    "date",
    "structure_responsable",
]


@settings(max_examples=60)  # the suite's time budget (CI profile: 300)
@given(st.dictionaries(st.sampled_from(_KEYS), _json, max_size=6) | _json)
def test_any_json_is_parsed_or_refused_with_the_projects_error(value: object) -> None:
    data = json.dumps(value).encode()
    for parse in (parse_summary, parse_vaccinations):
        try:
            parse(data)  # anything but the project's error escaping the parser is a bug
        except StructuredHandoffInvalid as refused:
            assert refused.code == "DMP-DONNEES-STRUCTUREES" and refused.user_message


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=40))
def test_any_text_in_a_label_builds_a_document_or_is_refused(text: str) -> None:
    data = _summary(pathologies=[{"libelle": text}], facteurs_de_risque=[text])
    try:
        summary = parse_summary(data)
    except StructuredHandoffInvalid:
        return
    cda = vsm_bytes_from(summary)
    assert cda.startswith(b"<?xml")


def vsm_bytes_from(summary: SummaryHandoff) -> bytes:
    return serialize(build_vsm(header_for(VSM, summary), summary))
