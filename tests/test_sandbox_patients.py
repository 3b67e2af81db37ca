"""The sandbox's fictitious patients: test identities only, and valid by an independent check."""

from __future__ import annotations

from stdnum.fr import nir as stdnum_nir

from app.ins import IdentityTraits, Ins, InsOid
from sandbox.patients import load_patients


def test_every_patient_uses_a_test_identity_that_an_independent_checker_accepts() -> None:
    patients = load_patients()
    assert len(patients) >= 5
    for patient in patients:
        assert patient.oid == InsOid.NIR_TEST.value
        assert stdnum_nir.is_valid(patient.matricule), patient.id
        ins = Ins.parse(patient.matricule, patient.oid)
        traits = IdentityTraits.parse(
            patient.birth_name, patient.first_names, patient.sex, patient.birth_date, patient.birth_place
        )
        assert traits.inconsistencies_with(ins.matricule) == (), patient.id
        if patient.vitale.nir_own:
            assert patient.vitale.nir_own == patient.matricule


def test_the_fixture_covers_the_hard_cases() -> None:
    patients = load_patients()
    assert any("2A" in p.matricule or "2B" in p.matricule for p in patients)
    assert any(p.vitale.nir_own is None for p in patients)
    assert any(p.vitale.birth_date.endswith("00") for p in patients)
    assert any(p.birth_place and p.birth_place.startswith("99") for p in patients)
