"""The sandbox's fictitious patients (test INS OID) as the product's identities: what training mode
offers in the patient panel, the batch matching and the demo, and the stand-in for the INSi teleservice.
Reached by the product only through :mod:`app.services.training`."""

from __future__ import annotations

from app.ins import IdentityTraits, Ins
from app.services.workspace import Patient
from sandbox.patients import SandboxPatient, load_patients


def sandbox_patients() -> list[Patient]:
    """The sandbox's fictitious patients (test INS OID) as a qualified identity gives them."""
    return [_sandbox(p) for p in load_patients()]


def sandbox_patient(pid: str) -> Patient | None:
    """One of them by its sandbox id (P01…P07), or None."""
    return next((_sandbox(p) for p in load_patients() if p.id == pid), None)


def sandbox_insi(first_name: str, card_birth_date: str, own_nir: str | None) -> Patient | None:
    """The sandbox's stand-in for the INSi teleservice: a Vitale beneficiary's INS, found by its own
    NIR, or for a beneficiary without one (a child, "ayant droit") by its first name and birth date
    as the card gives them — only when exactly one sandbox patient matches."""
    patients = load_patients()
    if own_nir:
        return next((_sandbox(p) for p in patients if p.matricule == own_nir), None)
    found = [
        p for p in patients
        if p.vitale.nir_own is None
        and p.vitale.first_name.upper() == first_name.upper()
        and p.vitale.birth_date == card_birth_date
    ]  # fmt: skip
    return _sandbox(found[0]) if len(found) == 1 else None


def _sandbox(p: SandboxPatient) -> Patient:
    traits = IdentityTraits.parse(p.birth_name, p.first_names, p.sex, p.birth_date, p.birth_place)
    return Patient(Ins.parse(p.matricule, p.oid), traits, "qualifiée", f"bac à sable ({p.id})")
