"""The typed inputs of the structured builders: what an EHR hands over, already checked.

Dates are :class:`datetime.date` (a day: the CDA writes ``AAAAMMJJ``) or timezone-aware
:class:`datetime.datetime`. Every coded item also carries its label (``display``): the narrative
block shows it, and an item the EHR could not code is written as free text only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.dmp_client.core.cda import Author, Organization
from app.ins import IdentityTraits, Ins

# Code systems (OIDs as the ANS examples and the CI-SIS value sets write them)
CIM10 = "2.16.840.1.113883.6.3"  # CIM-10 (ICD-10, French edition): conditions
ATC = "2.16.840.1.113883.6.73"  # WHO ATC: medicines (class)
CIS = "1.2.250.1.213.2.3.1"  # Code Identifiant de Spécialité (ANSM): medicines (product)
CIP = "1.2.250.1.213.2.3.2"  # Code Identifiant de Présentation
# [UNSURE] the UCD (Unité Commune de Dispensation) OID: no copied specification or example uses it;
# 1.2.250.1.213.2.3.3 is the next arc of the same ANS branch. Checked nowhere: see
# docs/structured-documents.md. Only this constant says it.
UCD = "1.2.250.1.213.2.3.3"
SNOMED = "2.16.840.1.113883.6.96"
LOINC = "2.16.840.1.113883.6.1"
EDQM = "0.4.0.127.0.16.1.1.2.1"  # EDQM Standard Terms: routes of administration
HL7_ACT_CODE = "2.16.840.1.113883.5.4"

SYSTEM_NAMES = {
    CIM10: "CIM-10",
    ATC: "ATC",
    CIS: "CIS",
    CIP: "CIP",
    UCD: "UCD",
    SNOMED: "SNOMED CT",
    LOINC: "LOINC",
    EDQM: "EDQM",
}
MEDICINE_SYSTEMS = {"CIS": CIS, "ATC": ATC, "UCD": UCD}


@dataclass(frozen=True)
class Code:
    code: str
    system: str  # OID
    display: str

    @property
    def system_name(self) -> str | None:
        return SYSTEM_NAMES.get(self.system)


@dataclass(frozen=True)
class HandoffPatient:
    """The patient the hand-off names (checked against the patient the document is sent for)."""

    ins: Ins
    traits: IdentityTraits


@dataclass(frozen=True)
class Condition:
    """A current pathology or a past one (antécédent): CIM-10 coded, or free text (``code`` None)."""

    label: str
    code: Code | None = None
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class Allergy:
    """An allergy or intolerance: the agent (a medicine coded CIS/ATC/UCD, or free text), its
    clinical status (JDV_HL7_allergyintolerance_clinical: active, inactive, resolved)."""

    agent_label: str
    agent: Code | None = None
    reaction: str | None = None  # free text
    status: str = "active"
    start: dt.date | None = None


@dataclass(frozen=True)
class Result:
    """A result worth keeping in the summary (free text: the VSM's Résultats section is narrative)."""

    label: str
    value: str
    date: dt.date | None = None


@dataclass(frozen=True)
class Treatment:
    """A long-term treatment: the medicine (CIS, ATC or UCD; or free text), its dosage as written
    by the prescriber (free text), its route (EDQM) and start date."""

    medicine_label: str
    medicine: Code | None = None
    dosage: str | None = None
    route: Code | None = None
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class Vaccination:
    """One vaccination act (one VAC-NOTE document): the vaccine's CIS code and ATC class (both
    required by the volet), lot number, rank, route and site from their CI-SIS value sets."""

    date: dt.date
    vaccine_cis: Code
    vaccine_atc: Code
    lot: str
    kind: Code  # JDV_HL7_ActSubstanceAdministrationImmunizationCode: INITIMMUNIZ, BOOSTER, IMMUNIZ
    rank: int | None = None
    route: Code | None = None  # JDV_ImmunizationRouteCodes (EDQM)
    site: Code | None = None  # JDV_ImmunizationApproachSiteCode (SNOMED CT)
    comment: str | None = None


@dataclass(frozen=True)
class SummaryHandoff:
    """The VSM's content (the header's author and custodian come with it)."""

    author: Author
    custodian: Organization
    patient: HandoffPatient | None = None
    created: dt.datetime | None = None
    pathologies: tuple[Condition, ...] = ()
    antecedents: tuple[Condition, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    risk_factors: tuple[str, ...] = ()
    results: tuple[Result, ...] = ()
    treatments: tuple[Treatment, ...] = ()


@dataclass(frozen=True)
class VaccinationHandoff:
    """Vaccinations to record: each one becomes its own note (the volet allows one act per note)."""

    author: Author
    custodian: Organization
    vaccinations: tuple[Vaccination, ...]
    patient: HandoffPatient | None = None
    created: dt.datetime | None = None
