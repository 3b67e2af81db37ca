"""Fictitious sandbox patients (test identities only, INS OID 1.2.250.1.213.1.4.10).

The fixture is plain data; it is loaded without the client's identity core so that the client's
checks and the fixture stay independent (tests cross-check both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

TEST_INS_OID = "1.2.250.1.213.1.4.10"


@dataclass(frozen=True)
class VitaleBeneficiary:
    """One beneficiary as a (virtual) Vitale card gives it."""

    first_name: str
    birth_date: str  # AAMMJJ exactly as on the card (lunar dates kept)
    nir_own: str | None  # the beneficiary's own NIR, absent for most children
    rank: int
    opening_nir: str | None = None  # the NIR of the "ouvrant droit" when it is not the beneficiary's


@dataclass(frozen=True)
class SandboxPatient:
    id: str
    matricule: str
    oid: str
    birth_name: str
    first_names: str
    sex: str
    birth_date: str
    birth_place: str | None
    vitale: VitaleBeneficiary


def _patient(raw: dict[str, Any]) -> SandboxPatient:
    ins, traits, vitale = raw["ins"], raw["traits"], raw["vitale"]
    if ins["oid"] != TEST_INS_OID:
        raise ValueError(f"sandbox patient {raw['id']} does not use the test INS OID")
    return SandboxPatient(
        id=raw["id"],
        matricule=ins["matricule"],
        oid=ins["oid"],
        birth_name=traits["birth_name"],
        first_names=traits["first_names"],
        sex=traits["sex"],
        birth_date=traits["birth_date"],
        birth_place=traits.get("birth_place"),
        vitale=VitaleBeneficiary(
            first_name=vitale["first_name"],
            birth_date=vitale["birth_date"],
            nir_own=vitale.get("nir_own"),
            rank=vitale["rank"],
            opening_nir=vitale.get("opening_nir"),
        ),
    )


def load_patients() -> list[SandboxPatient]:
    """All sandbox patients, in fixture order."""
    text = resources.files("sandbox").joinpath("data/patients.json").read_text(encoding="utf-8")
    return [_patient(raw) for raw in json.loads(text)["patients"]]
