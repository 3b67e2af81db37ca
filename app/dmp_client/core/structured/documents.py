"""One structured document from its hand-off, for the facade's send (app/dmp_client/documents.py)
and the upload queue: the kind (``VSM`` or ``VAC-NOTE``), the hand-off bytes and, for a vaccination
hand-off, which vaccination (each is its own note). The patient is the one the document is sent
for; a hand-off that names another one is refused (identity vigilance)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core.cda import Author, DocumentHeader
from app.dmp_client.core.errors import StructuredHandoffInvalid, StructuredHandoffOtherPatient
from app.dmp_client.core.structured.build import (
    IPS_FR,
    VAC_NOTE,
    VSM,
    Volet,
    build_ips,
    build_vaccination_note,
    build_vsm,
    structured_header,
)
from app.dmp_client.core.structured.handoff import parse_summary, parse_vaccinations
from app.dmp_client.core.structured.model import HandoffPatient, SummaryHandoff, VaccinationHandoff
from app.dmp_client.core.valuesets import value_sets
from app.ins import IdentityTraits, Ins

KINDS = {VSM.name: VSM, IPS_FR.name: IPS_FR, VAC_NOTE.name: VAC_NOTE}


@dataclass(frozen=True)
class BuiltDocument:
    volet: Volet
    header: DocumentHeader
    element: etree._Element


def check_patient(named: HandoffPatient | None, ins: Ins, traits: IdentityTraits) -> None:
    """The hand-off's patient, when it names one, is exactly this one (INS and strict traits)."""
    if named is None:
        return
    same_traits = (
        named.traits.birth_name,
        named.traits.first_names,
        named.traits.sex,
        named.traits.birth_date,
        named.traits.birth_place,
    ) == (traits.birth_name, traits.first_names, traits.sex, traits.birth_date, traits.birth_place)
    if named.ins != ins or not same_traits:
        raise StructuredHandoffOtherPatient()


def parse_handoff(kind: str, data: bytes) -> SummaryHandoff | VaccinationHandoff:
    """The hand-off of this kind (a VSM makes one document; vaccinations one note each)."""
    return parse_vaccinations(data) if _volet(kind) is VAC_NOTE else parse_summary(data)


def _volet(kind: str) -> Volet:
    if kind not in KINDS:
        raise StructuredHandoffInvalid(f"Document structuré inconnu : {kind} (VSM, IPS-FR ou VAC-NOTE).")
    return KINDS[kind]


def build_from_handoff(
    kind: str,
    data: bytes,
    *,
    item: int,
    ins: Ins,
    traits: IdentityTraits,
    document_id: str,
    set_id: str,
    version: int,
    created: dt.datetime,
    replaces: str | None,
    practice_setting: str,
    facility_type: str,
    author: Author | None = None,
) -> BuiltDocument:
    """The document (header record and element). ``author`` overrides the hand-off's; ``created`` is
    the creation time when the hand-off gives no ``date`` (the same for the CLI, the GUI and the queue);
    ``practice_setting`` / ``facility_type``: codes of JDV_J04 / JDV_J02 (DMP_SECTEUR_ACTIVITE…)."""
    volet = _volet(kind)
    sets = value_sets()
    parsed = parse_handoff(kind, data)
    check_patient(parsed.patient, ins, traits)
    header = structured_header(
        volet,
        document_id=document_id,
        set_id=set_id,
        version=version,
        created=parsed.created or created,
        patient=ins,
        traits=traits,
        author=author or parsed.author,
        custodian=parsed.custodian,
        practice_setting=sets.lookup(sets.practice_settings, practice_setting, "JDV_J04"),
        facility_type=sets.lookup(sets.facility_types, facility_type, "JDV_J02"),
        replaces=replaces,
    )
    if isinstance(parsed, SummaryHandoff):
        build = build_ips if volet is IPS_FR else build_vsm
        return BuiltDocument(volet, header, build(header, parsed))
    if not 0 <= item < len(parsed.vaccinations):
        raise StructuredHandoffInvalid(f"Vaccination n° {item + 1} absente des données du logiciel métier.")
    return BuiltDocument(volet, header, build_vaccination_note(header, parsed.vaccinations[item]))
