"""The sandbox host's seeded documents (sandbox/host/docstore.py, structured.py): every family of
every sandbox patient renders; the VSM, vaccination-note and biology families are the ANS structured
examples with the sandbox patient's identity in place of the example's, still valid against the CDA
schema, and nothing of the example's patient left."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core.cda_render import render
from app.ins import Ins
from sandbox.host import docstore, structured
from sandbox.patients import SandboxPatient, load_patients

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = load_patients()
EXAMPLE_PATIENTS = ("PAT-TROIS", "279035121518989", "DOMINIQUE", "MAZOIRES", "Breteuil", "NESSI")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(str(ROOT / "resources" / "spec" / "cda-xsd" / "cda" / "CDA_extended.xsd"))
    )


def seeded(patient: SandboxPatient, index: int) -> tuple[dict[str, object], bytes]:
    row = docstore.seeded_row(patient.matricule, patient.oid, index, 2000)
    data = docstore.seeded_cda(row, patient.birth_name, patient.first_names, patient.sex, patient.birth_date)
    return row, data


@pytest.mark.parametrize("patient", PATIENTS, ids=lambda p: p.id)
def test_every_family_renders_for_every_sandbox_patient(
    patient: SandboxPatient, schema: etree.XMLSchema
) -> None:
    ins = Ins.parse(patient.matricule, patient.oid)
    for index in range(len(docstore.FAMILIES)):
        row, data = seeded(patient, index)
        rendered = render(data, patient=ins)  # the patient's own INS: not refused
        assert rendered.structured == (row["type_code"] in structured.TEMPLATES), row["type_code"]
        assert rendered.title == row["title"]
        assert f"Nom de naissance : {patient.birth_name}" in rendered.text
        assert f"Prénom(s) de naissance : {patient.first_names}" in rendered.text
        if rendered.structured:
            assert f"Premier prénom de naissance : {patient.first_names.split()[0]}" in rendered.text
            assert f"Type de document : {row['type_display']} ({row['type_code']})" in rendered.text
            text = data.decode("utf-8")
            for trace in EXAMPLE_PATIENTS:
                assert trace not in text, trace
            assert "<!--" not in text
            assert schema.validate(etree.fromstring(data)), schema.error_log.last_error
            doc = etree.fromstring(data)
            ns = {"v": "urn:hl7-org:v3"}
            assert doc.find("v:id", ns).get("root") == row["unique_id"]  # type: ignore[union-attr]
            assert doc.find("v:setId", ns).get("root") == row["set_id"]  # type: ignore[union-attr]
        else:
            assert rendered.body_media_type == "text/plain"


def test_the_three_structured_families_are_those_of_the_issue() -> None:
    families = {f[2]: f[1] for f in docstore.FAMILIES}
    assert {code: families[code] for code in structured.TEMPLATES} == {
        "60591-5": "Synthèse",
        "87273-9": "Certificat / déclaration",
        "11502-2": "Compte rendu",
    }
    for name in structured.TEMPLATES.values():
        assert (structured.DATA / name).is_file()
    assert "BIO-CR-BIO_2024.01_TSH_1.xml" in (structured.DATA / "SOURCES.md").read_text(encoding="utf-8")


def test_a_replacing_seed_is_version_2() -> None:
    row, data = seeded(PATIENTS[0], 99)  # every 25th document replaces an older version
    assert row["type_code"] == "60591-5"  # a VSM
    assert b'<versionNumber value="2"/>' in data
    assert "Version : 2" in render(data).text
