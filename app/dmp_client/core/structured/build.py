"""The VSM 2023.01 and VAC-NOTE 2023.01 CDA documents (structured body, coded entries).

Built with lxml elements only. The shapes follow the ANS examples (``resources/spec/cda-examples/
structured/``) and are checked in the tests by the CDA XSD, the volet schematron and both CI-SIS
content-model schematrons. The header is the level-1 builder's :class:`~app.dmp_client.core.cda.
DocumentHeader` (same fields, same XDS mapping); only the templates, the code, the service event
and the body differ. Entry and section ids derive from the document id, so that a document built
twice from the same input (the upload queue's retries) has the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from app.dmp_client.core.cda import (
    PS_ID_ROOT,
    STRUCTURE_ID_ROOT,
    Author,
    DocumentHeader,
    Organization,
    WrittenCda,
    clinical_document,
    custodian_and_legal_authenticator,
    encounter_facility,
    hl7_time,
    ii,
    person_name,
    record_target,
    replaced_document,
)
from app.dmp_client.core.cda import (
    element as _el,
)
from app.dmp_client.core.ns import XSI
from app.dmp_client.core.structured import model as m
from app.dmp_client.core.structured.handoff import value_set
from app.dmp_client.core.valuesets import Concept, value_sets
from app.ins import IdentityTraits, Ins

XSI_TYPE = f"{{{XSI}}}type"
FORMAT_SCHEME = "1.2.250.1.213.1.1.4.2.282"  # TRE_A06 (JDV_J10)
STRUCTURED_MEDIA_TYPE = "text/xml"


@dataclass(frozen=True)
class Volet:
    """What distinguishes a volet's header: templates, document code, service event, formatCode."""

    name: str
    templates: tuple[tuple[str, str | None], ...]
    type_code: str  # JDV_J07
    title: str
    service_event: Concept
    format_code: Concept


_COMMON = (("2.16.840.1.113883.2.8.2.1", None), ("1.2.250.1.213.1.1.1.1", None))
VSM = Volet(
    "VSM",
    # 1.2.250.1.213.1.1.1.13: "Conformité au VSM" (Entete_VSM_2023.sch). [UNSURE] no extension: the
    # only example (VSM 1.4) writes extension="201310"; the 2023.01 rule checks the root only.
    (*_COMMON, ("1.2.250.1.213.1.1.1.13", None)),
    "SYNTH",
    "Synthèse médicale",
    # Entete_VSM_2023.sch's second rule (shadowed upstream, so checked by our own tests)
    Concept("34117-2", m.LOINC, "Historique et clinique"),
    Concept("urn:asip:ci-sis:vsm:2012", FORMAT_SCHEME, "Synthèse médicale"),
)
IPS_FR = Volet(
    "IPS-FR",
    (*_COMMON, ("2.16.840.1.113883.10.22.1.1", None), ("1.2.250.1.213.1.1.1.51", "2024.01")),
    "60591-5",
    "Synthèse médicale (IPS-FR)",
    Concept("60591-5", m.LOINC, "Synthèse médicale"),
    # JDV_J10: the IHE PCC formatCode of the IPS (TRE_A11). [UNSURE] the DMP's list (J60) not checked.
    Concept("urn:ihe:pcc:ips:2020", "1.3.6.1.4.1.19376.1.2.3", "Synthèse médicale"),
)
VAC_NOTE = Volet(
    "VAC-NOTE",
    (*_COMMON, ("1.3.6.1.4.1.19376.1.5.3.1.1.18.1.2", None), ("1.2.250.1.213.1.1.1.46", "2023.01")),
    "87273-9",
    "Note de vaccination",
    Concept("87273-9", m.LOINC, "Note de vaccination"),
    Concept("urn:asip:ci-sis:vac-note:2021", FORMAT_SCHEME, "Note de vaccination"),
)


def structured_header(
    volet: Volet,
    *,
    document_id: str,
    set_id: str,
    version: int,
    created: dt.datetime,
    patient: Ins,
    traits: IdentityTraits,
    author: Author,
    custodian: Organization,
    practice_setting: Concept,
    facility_type: Concept,
    service_start: dt.datetime | None = None,
    replaces: str | None = None,
    title: str | None = None,
) -> DocumentHeader:
    """The level-1 header record for a structured document of this volet."""
    return DocumentHeader(
        document_id=document_id,
        set_id=set_id,
        version=version,
        type_code=value_sets().type_code(volet.type_code),
        title=title or volet.title,
        created=created,
        service_start=service_start or created,
        service_stop=None,
        patient=patient,
        traits=traits,
        author=author,
        legal_authenticator=author.person,
        custodian=custodian,
        practice_setting=practice_setting,
        facility_type=facility_type,
        media_type=STRUCTURED_MEDIA_TYPE,
        replaces=replaces,
    )


# -- element helpers ---------------------------------------------------------------------------


def _code(parent: etree._Element, tag: str, code: m.Code | Concept, **extra: str) -> etree._Element:
    if isinstance(code, Concept):
        code = m.Code(code.code, code.code_system, code.display_name)
    attributes = {"code": code.code}
    if code.display:
        attributes["displayName"] = code.display
    attributes["codeSystem"] = code.system
    if code.system_name:
        attributes["codeSystemName"] = code.system_name
    return _el(parent, tag, **attributes, **extra)


def _templates(parent: etree._Element, *roots: str) -> None:
    for root in roots:
        _el(parent, "templateId", root=root)


def _day(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _when(parent: etree._Element, tag: str, day: dt.date | None) -> etree._Element:
    return _el(parent, tag, value=_day(day)) if day else _el(parent, tag, nullFlavor="UNK")


def _reference(parent: etree._Element, tag: str, anchor: str) -> etree._Element:
    node = _el(parent, tag)
    _el(node, "reference", value=f"#{anchor}")
    return node


class _Ids:
    """Section and entry ids (UUIDs) derived from the document id: same input, same bytes."""

    def __init__(self, document_id: str) -> None:
        self._base = document_id
        self._count = 0

    def __call__(self) -> str:
        self._count += 1
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self._base}/{self._count}")).upper()


# -- header ------------------------------------------------------------------------------------


def _header(volet: Volet, h: DocumentHeader) -> etree._Element:
    doc = clinical_document(h)
    for root, extension in volet.templates:
        if extension:
            _el(doc, "templateId", root=root, extension=extension)
        else:
            _el(doc, "templateId", root=root)
    ii(doc, "id", h.document_id)
    _code(doc, "code", h.type_code)
    _el(doc, "title", h.title)
    _el(doc, "effectiveTime", value=hl7_time(h.created))
    _el(doc, "confidentialityCode", code="N", displayName="Normal", codeSystem="2.16.840.1.113883.5.25")
    _el(doc, "languageCode", code="fr-FR")
    ii(doc, "setId", h.set_id)
    _el(doc, "versionNumber", value=str(h.version))
    record_target(doc, h)
    _author(doc, h.author, h.created)
    custodian_and_legal_authenticator(doc, h)
    event = _el(_el(doc, "documentationOf"), "serviceEvent")
    _code(event, "code", volet.service_event)
    _el(_el(event, "effectiveTime"), "low", value=hl7_time(h.service_start))
    performer = _el(_el(event, "performer", typeCode="PRF"), "assignedEntity")
    _assigned(performer, h.author, h.practice_setting)
    replaced_document(doc, h)
    _code(encounter_facility(doc, h), "code", h.facility_type)
    return doc


def _document(volet: Volet, h: DocumentHeader) -> tuple[etree._Element, etree._Element, _Ids]:
    """The document with ``volet``'s header, its empty structured body, and the ids for its
    sections and entries."""
    doc = _header(volet, h)
    return doc, _el(_el(doc, "component"), "structuredBody"), _Ids(h.document_id)


def _author(parent: etree._Element, author: Author, time: dt.datetime, **attributes: str) -> None:
    node = _el(parent, "author", **attributes)
    _el(node, "time", value=hl7_time(time))
    assigned = _el(node, "assignedAuthor")
    _el(assigned, "id", root=PS_ID_ROOT, extension=author.person.national_id)
    _code(assigned, "code", author.specialty)
    person_name(_el(assigned, "assignedPerson"), author.person)
    organization = _el(assigned, "representedOrganization")
    _el(organization, "id", root=STRUCTURE_ID_ROOT, extension=author.organization.id_nat_struct)
    _el(organization, "name", author.organization.name)


def _assigned(entity: etree._Element, author: Author, practice_setting: Concept | None) -> None:
    _el(entity, "id", root=PS_ID_ROOT, extension=author.person.national_id)
    _code(entity, "code", author.specialty)
    person_name(_el(entity, "assignedPerson"), author.person)
    organization = _el(entity, "representedOrganization")
    _el(organization, "id", root=STRUCTURE_ID_ROOT, extension=author.organization.id_nat_struct)
    _el(organization, "name", author.organization.name)
    if practice_setting is not None:
        _code(
            organization, "standardIndustryClassCode", practice_setting, codeSystemName="practiceSettingCode"
        )


# -- narrative ---------------------------------------------------------------------------------


def _section(
    parent: etree._Element, ids: _Ids, templates: tuple[str, ...], code: Concept, title: str
) -> etree._Element:
    section = _el(_el(parent, "component"), "section")
    _templates(section, *templates)
    _el(section, "id", root=ids())
    _code(section, "code", code)
    _el(section, "title", title)
    return section


Cell = str | tuple[str, str]  # plain text, or (anchor ID, text) referenced by an entry


def _table(section: etree._Element, heads: tuple[str, ...], rows: list[list[Cell]]) -> None:
    table = _el(_el(section, "text"), "table", border="1")
    row = _el(_el(table, "thead"), "tr")
    for head in heads:
        _el(row, "th", head)
    body = _el(table, "tbody")
    for cells in rows:
        row = _el(body, "tr")
        for cell in cells:
            td = _el(row, "td")
            if isinstance(cell, tuple):
                _el(td, "content", cell[1], ID=cell[0])
            else:
                td.text = cell
    return None


def _paragraph(section: etree._Element, text: str) -> None:
    _el(_el(section, "text"), "paragraph", text)


def _french(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "-"


# -- VSM ---------------------------------------------------------------------------------------

_PROBLEMS_ACTIVE = (
    "2.16.840.1.113883.10.20.1.11",
    "1.3.6.1.4.1.19376.1.5.3.1.3.6",
    "1.2.250.1.213.1.1.2.132",
)
_PROBLEMS_PAST = ("1.3.6.1.4.1.19376.1.5.3.1.3.8", "1.2.250.1.213.1.1.2.134")
_ALLERGIES = ("2.16.840.1.113883.10.20.1.2", "1.3.6.1.4.1.19376.1.5.3.1.3.13", "1.2.250.1.213.1.1.2.137")
_DIAGNOSIS = m.Code("282291009", m.SNOMED, "interprétation diagnostique")
_DRUG_ALLERGY = m.Code("416098002", m.SNOMED, "allergie médicamenteuse")
_OTHER_ALLERGY = m.Code("419199007", m.SNOMED, "allergie à une substance")


def build_vsm(header: DocumentHeader, summary: m.SummaryHandoff) -> etree._Element:
    """The VSM 2023.01 document: the three required sections, coded entries where the EHR coded."""
    doc, body, ids = _document(VSM, header)
    top = _section(
        body,
        ids,
        ("1.2.250.1.213.1.1.2.29",),
        Concept("46612-8", m.LOINC, "Conclusions de synthèse"),
        "Pathologies, antécédents, allergies et facteurs de risque",
    )
    history = _section(
        top,
        ids,
        ("1.2.250.1.213.1.1.2.30",),
        Concept("34117-2", m.LOINC, "Historique et physique"),
        "Pathologies en cours, antécédents et allergies",
    )
    if summary.pathologies or summary.antecedents or summary.allergies:
        if summary.pathologies:
            _conditions(history, ids, summary.pathologies, active=True)
        if summary.antecedents:
            _conditions(history, ids, summary.antecedents, active=False)
        if summary.allergies:
            _allergies(history, ids, summary.allergies)
    else:
        _paragraph(history, "Aucune pathologie, aucun antécédent ni aucune allergie connus.")
    risks = _section(
        top,
        ids,
        ("1.2.250.1.213.1.1.2.31",),
        Concept(
            "57207-3",
            m.LOINC,
            "Facteurs de risque présents ou passés affectant l'état de santé et/ou une circonstance",
        ),
        "Facteurs de risque",
    )
    if summary.risk_factors:
        items = _el(_el(risks, "text"), "list")
        for factor in summary.risk_factors:
            _el(items, "item", factor)
    else:
        _paragraph(risks, "Aucun facteur de risque connu.")
    results = _section(
        body,
        ids,
        ("1.3.6.1.4.1.19376.1.5.3.1.3.27", "1.2.250.1.213.1.1.2.150"),
        Concept("30954-2", m.LOINC, "Résultats d'examens"),
        "Résultats",
    )
    if summary.results:
        _table(
            results,
            ("Date", "Examen", "Résultat"),
            [[_french(r.date), r.label, r.value] for r in summary.results],
        )
    else:
        _paragraph(results, "Aucun résultat à signaler.")
    plan = _section(
        body,
        ids,
        ("1.2.250.1.213.1.1.2.32",),
        Concept("18776-5", m.LOINC, "Plan de traitement"),
        "Traitement au long cours",
    )
    if summary.treatments:
        _treatments(plan, ids, summary.treatments)
    else:
        _paragraph(plan, "Aucun traitement au long cours.")
    return doc


def build_ips(header: DocumentHeader, summary: m.SummaryHandoff) -> etree._Element:
    """The IPS-FR 2024.01 document from the same hand-off as the VSM: the sections the volet
    requires at the top level (active problems, procedures, allergies, medication, medical devices),
    the optional ones when the hand-off has their data, the same entries as the VSM's."""
    doc, body, ids = _document(IPS_FR, header)
    _conditions(body, ids, summary.pathologies, active=True)
    if summary.antecedents:
        _conditions(body, ids, summary.antecedents, active=False)
    procedures = _section(
        body,
        ids,
        _PROCEDURES,
        Concept("47519-4", m.LOINC, "Historique des actes"),
        "Historique des actes",
    )
    _paragraph(procedures, "Aucun acte renseigné.")  # [UNSURE] procedures are not in the hand-off
    _allergies(body, ids, summary.allergies)
    _treatments(body, ids, summary.treatments)
    devices = _section(
        body,
        ids,
        _DEVICES,
        Concept("46264-8", m.LOINC, "Dispositifs médicaux"),
        "Dispositifs médicaux",
    )
    _paragraph(devices, "Aucun dispositif médical renseigné.")
    if summary.risk_factors:
        alerts = _section(
            body,
            ids,
            ("1.2.250.1.213.1.1.2.245",),  # FR-Points-de-vigilances-non-code
            Concept("44944-7", m.LOINC, "Autres alertes"),
            "Facteurs de risque et points de vigilance",
        )
        items = _el(_el(alerts, "text"), "list")
        for factor in summary.risk_factors:
            _el(items, "item", factor)
    if summary.results:
        results = _section(
            body,
            ids,
            ("1.2.250.1.213.1.1.2.244",),  # FR-Resultats (narrative)
            Concept("30954-2", m.LOINC, "Résultats d'examens"),
            "Résultats",
        )
        _table(
            results,
            ("Date", "Examen", "Résultat"),
            [[_french(r.date), r.label, r.value] for r in summary.results],
        )
    return doc


_PROCEDURES = (
    "2.16.840.1.113883.10.20.1.12",
    "1.3.6.1.4.1.19376.1.5.3.1.3.11",
    "1.3.6.1.4.1.19376.1.5.3.1.3.12",
    "1.2.250.1.213.1.1.2.136",
)
# The IPS-FR example's first root reads 2.16.840.1.11383.10.20.1.7 (a typo for CCD 2.16.840.1.113883.
# 10.20.1.7); the CCD root is written here.
_DEVICES = ("2.16.840.1.113883.10.20.1.7", "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.5", "1.2.250.1.213.1.1.2.1")


def _conditions(
    parent: etree._Element, ids: _Ids, conditions: tuple[m.Condition, ...], *, active: bool
) -> None:
    if active:
        section = _section(
            parent,
            ids,
            _PROBLEMS_ACTIVE,
            Concept("11450-4", m.LOINC, "Liste des problèmes actifs"),
            "Pathologies en cours",
        )
        prefix = "pathologie"
    else:
        section = _section(
            parent,
            ids,
            _PROBLEMS_PAST,
            Concept("11348-0", m.LOINC, "Antécédents médicaux"),
            "Antécédents médicaux",
        )
        prefix = "antecedent"
    if not conditions:  # a section the volet requires, with nothing known
        _paragraph(section, "Aucune pathologie en cours connue." if active else "Aucun antécédent connu.")
        return
    rows: list[list[Cell]] = []
    for index, condition in enumerate(conditions, 1):
        anchor = f"{prefix}-{index}"
        rows.append(
            [
                _french(condition.start),
                *([] if active else [_french(condition.end)]),
                (anchor, condition.label),
                condition.code.code if condition.code else "non codé",
            ]
        )
    heads = ("Début", "Pathologie", "CIM-10") if active else ("Début", "Fin", "Antécédent", "CIM-10")
    _table(section, heads, rows)
    for index, condition in enumerate(conditions, 1):
        anchor = f"{prefix}-{index}"
        ended = not active or condition.end is not None
        act = _concern(
            section,
            ids,
            ("1.3.6.1.4.1.19376.1.5.3.1.4.5.2", "1.2.250.1.213.1.1.3.39"),
            ended,
            condition.start,
            condition.end,
        )
        observation = _observation(
            act,
            "SUBJ",
            ("2.16.840.1.113883.10.20.1.28", "1.3.6.1.4.1.19376.1.5.3.1.4.5", "1.2.250.1.213.1.1.3.37"),
            _DIAGNOSIS,
            anchor,
            ids,
        )
        times = _el(observation, "effectiveTime")
        _when(times, "low", condition.start)
        if condition.end is not None:
            _when(times, "high", condition.end)
        if condition.code is not None:
            value = _code(observation, "value", condition.code, **{XSI_TYPE: "CD"})
        else:
            value = _el(observation, "value", **{XSI_TYPE: "CD", "nullFlavor": "OTH"})
        _reference(value, "originalText", anchor)


def _concern(
    section: etree._Element,
    ids: _Ids,
    templates: tuple[str, ...],
    ended: bool,
    start: dt.date | None,
    end: dt.date | None,
) -> etree._Element:
    act = _el(_el(section, "entry"), "act", classCode="ACT", moodCode="EVN")
    _templates(act, "2.16.840.1.113883.10.20.1.27", "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", *templates)
    _el(act, "id", root=ids())
    _el(act, "code", nullFlavor="NA")
    _el(act, "statusCode", code="completed" if ended else "active")
    times = _el(act, "effectiveTime")
    _when(times, "low", start)
    if ended:
        _when(times, "high", end)
    return act


def _observation(
    parent: etree._Element,
    relation: str,
    templates: tuple[str, ...],
    code: m.Code,
    anchor: str,
    ids: _Ids | None = None,
) -> etree._Element:
    """An observation entry under ``parent`` (``entryRelationship`` of type ``relation``, an event,
    not negated): its templates, its id when ``ids`` is given, its code, the reference to its
    narrative at ``anchor`` and the completed status."""
    observation = _el(
        _el(parent, "entryRelationship", typeCode=relation, inversionInd="false"),
        "observation",
        classCode="OBS",
        moodCode="EVN",
        negationInd="false",
    )
    _templates(observation, *templates)
    if ids is not None:
        _el(observation, "id", root=ids())
    _code(observation, "code", code)
    _reference(observation, "text", anchor)
    _el(observation, "statusCode", code="completed")
    return observation


def _allergies(parent: etree._Element, ids: _Ids, allergies: tuple[m.Allergy, ...]) -> None:
    section = _section(
        parent,
        ids,
        _ALLERGIES,
        Concept("48765-2", m.LOINC, "Allergies et hypersensibilités"),
        "Allergies et hypersensibilités",
    )
    statuses = value_set("JDV_HL7_allergyintolerance_clinical_CISIS.xml")
    if not allergies:
        _paragraph(section, "Aucune allergie ni intolérance connue.")
        return
    rows: list[list[Cell]] = []
    for index, allergy in enumerate(allergies, 1):
        kind = _DRUG_ALLERGY if allergy.agent is not None else _OTHER_ALLERGY
        rows.append(
            [
                _french(allergy.start),
                (f"allergie-{index}-type", kind.display),
                (f"allergie-{index}-agent", allergy.agent_label),
                (f"allergie-{index}-reaction", allergy.reaction or "non précisée"),
                (f"allergie-{index}-statut", statuses[allergy.status].display),
            ]
        )
    _table(section, ("Date", "Type", "Agent", "Réaction", "Statut"), rows)
    for index, allergy in enumerate(allergies, 1):
        kind = _DRUG_ALLERGY if allergy.agent is not None else _OTHER_ALLERGY
        act = _concern(
            section,
            ids,
            ("1.3.6.1.4.1.19376.1.5.3.1.4.5.3", "1.2.250.1.213.1.1.3.40"),
            allergy.status == "resolved",
            allergy.start,
            None,
        )
        observation = _observation(
            act,
            "SUBJ",
            (
                "2.16.840.1.113883.10.20.1.18",
                "2.16.840.1.113883.10.20.1.28",
                "1.3.6.1.4.1.19376.1.5.3.1.4.5",
                "1.3.6.1.4.1.19376.1.5.3.1.4.6",
                "1.2.250.1.213.1.1.3.41",
            ),
            kind,
            f"allergie-{index}-type",
            ids,
        )
        _when(_el(observation, "effectiveTime", **{XSI_TYPE: "IVL_TS"}), "low", allergy.start)
        value = _el(observation, "value", **{XSI_TYPE: "CD", "nullFlavor": "OTH"})
        _reference(value, "originalText", f"allergie-{index}-reaction")
        entity = _el(
            _el(_el(observation, "participant", typeCode="CSM"), "participantRole", classCode="MANU"),
            "playingEntity",
            classCode="MMAT",
        )
        agent = (
            _code(entity, "code", allergy.agent) if allergy.agent else _el(entity, "code", nullFlavor="OTH")
        )
        _reference(agent, "originalText", f"allergie-{index}-agent")
        _el(entity, "name", allergy.agent_label)
        status = _observation(
            observation,
            "REFR",
            (
                "2.16.840.1.113883.10.20.1.50",
                "2.16.840.1.113883.10.20.1.57",
                "1.3.6.1.4.1.19376.1.5.3.1.4.1.1",
                "1.2.250.1.213.1.1.3.30",
            ),
            m.Code("33999-4", m.LOINC, "Statut"),
            f"allergie-{index}-statut",
        )
        _code(status, "value", statuses[allergy.status], **{XSI_TYPE: "CE"})


def _treatments(plan: etree._Element, ids: _Ids, treatments: tuple[m.Treatment, ...]) -> None:
    section = _section(
        plan,
        ids,
        ("2.16.840.1.113883.10.20.1.8", "1.3.6.1.4.1.19376.1.5.3.1.3.19", "1.2.250.1.213.1.1.2.143"),
        Concept("10160-0", m.LOINC, "Traitements"),
        "Traitements",
    )
    if not treatments:
        _paragraph(section, "Aucun traitement au long cours.")
        return
    rows: list[list[Cell]] = []
    for index, t in enumerate(treatments, 1):
        rows.append(
            [
                _french(t.start),
                _french(t.end),
                (f"traitement-{index}", t.medicine_label),
                t.dosage or "-",
                t.route.display if t.route else "-",
            ]
        )
    _table(section, ("Début", "Fin", "Médicament", "Posologie", "Voie"), rows)
    for index, t in enumerate(treatments, 1):
        anchor = f"traitement-{index}"
        given = _el(
            _el(section, "entry", typeCode="DRIV"),
            "substanceAdministration",
            classCode="SBADM",
            moodCode="EVN",
        )
        _templates(
            given,
            "2.16.840.1.113883.10.20.1.24",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7",
            "1.2.250.1.213.1.1.3.42",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.1",
        )
        _el(given, "id", root=ids())
        _el(
            given,
            "code",
            code="DRUG",
            displayName="Médicament",
            codeSystem=m.HL7_ACT_CODE,
            codeSystemName="HL7:ActCode",
        )
        _reference(given, "text", anchor)
        _el(given, "statusCode", code="completed")
        times = _el(given, "effectiveTime", **{XSI_TYPE: "IVL_TS"})
        _when(times, "low", t.start)
        _when(times, "high", t.end)
        if t.route is not None:
            _code(given, "routeCode", t.route)
        product = _el(_el(given, "consumable"), "manufacturedProduct")
        _templates(
            product,
            "2.16.840.1.113883.10.20.1.53",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.2",
            "1.2.250.1.213.1.1.3.43",
        )
        material = _el(product, "manufacturedMaterial")
        # E_produitDeSante_fr: the product's ``code`` is CIS or has no codeSystem; an ATC class or
        # a UCD is then a translation of a code with nullFlavor OTH (HL7 CD).
        medicine = t.medicine
        if medicine is not None and medicine.system == m.CIS:
            _reference(_code(material, "code", medicine), "originalText", anchor)
        else:
            code = _el(material, "code", nullFlavor="OTH")
            _reference(code, "originalText", anchor)
            if medicine is not None:
                _code(code, "translation", medicine)
        _el(material, "name", t.medicine_label)


# -- VAC-NOTE ----------------------------------------------------------------------------------


def build_vaccination_note(header: DocumentHeader, vaccination: m.Vaccination) -> etree._Element:
    """The VAC-NOTE 2023.01 document for one vaccination act (the volet allows exactly one)."""
    doc, body, ids = _document(VAC_NOTE, header)
    section = _section(
        body,
        ids,
        ("2.16.840.1.113883.10.20.1.6", "1.3.6.1.4.1.19376.1.5.3.1.3.23", "1.2.250.1.213.1.1.2.147"),
        Concept("11369-6", m.LOINC, "Historique des vaccinations"),
        "Note de vaccination",
    )
    v = vaccination
    row: list[Cell] = [
        _french(v.date),
        ("vaccin", v.vaccine_cis.display),
        v.lot,
        str(v.rank) if v.rank is not None else "-",
        v.route.display if v.route else "-",
        v.site.display if v.site else "-",
        ("commentaire", v.comment) if v.comment else "-",
        f"{header.author.person.given} {header.author.person.family}",
    ]
    _table(
        section,
        (
            "Date",
            "Vaccin",
            "Lot n°",
            "Rang",
            "Voie d'administration",
            "Région d'administration",
            "Commentaire",
            "Vaccinateur",
        ),
        [row],
    )
    given = _el(
        _el(section, "entry"),
        "substanceAdministration",
        classCode="SBADM",
        moodCode="EVN",
        negationInd="false",
    )
    _templates(
        given, "2.16.840.1.113883.10.20.1.24", "1.3.6.1.4.1.19376.1.5.3.1.4.12", "1.2.250.1.213.1.1.3.45"
    )
    _el(given, "id", root=ids())
    _code(given, "code", v.kind, codeSystemName="ActSubstanceAdministrationImmunizationCode")
    _reference(given, "text", "vaccin")
    _el(given, "statusCode", code="completed")
    _el(given, "effectiveTime", value=_day(v.date))
    if v.route is not None:
        _code(given, "routeCode", v.route)
    if v.site is not None:
        _code(given, "approachSiteCode", v.site)
    product = _el(_el(given, "consumable", typeCode="CSM"), "manufacturedProduct")
    _templates(
        product, "2.16.840.1.113883.10.20.1.53", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2", "1.2.250.1.213.1.1.3.43"
    )
    material = _el(product, "manufacturedMaterial")
    code = _code(material, "code", v.vaccine_cis)
    _reference(code, "originalText", "vaccin")
    _code(code, "translation", v.vaccine_atc)
    _el(material, "name", v.vaccine_atc.display or v.vaccine_cis.display)
    _el(material, "lotNumberText", v.lot)
    performer = _el(_el(given, "performer", typeCode="PRF"), "assignedEntity")
    _assigned(performer, header.author, None)
    _author(given, header.author, header.created, typeCode="AUT", contextControlCode="OP")
    if v.rank is not None:
        rank = _el(
            _el(given, "entryRelationship", typeCode="SUBJ"), "observation", classCode="OBS", moodCode="EVN"
        )
        _templates(rank, "2.16.840.1.113883.10.20.1.46", "1.2.250.1.213.1.1.3.82")
        _code(rank, "code", m.Code("30973-2", m.LOINC, "Rang de la vaccination"))
        _el(rank, "statusCode", code="completed")
        _el(rank, "value", value=str(v.rank), **{XSI_TYPE: "INT"})
    if v.comment:
        comment = _el(
            _el(given, "entryRelationship", typeCode="SUBJ"), "act", classCode="ACT", moodCode="EVN"
        )
        _templates(
            comment, "2.16.840.1.113883.10.20.1.40", "1.3.6.1.4.1.19376.1.5.3.1.4.2", "1.2.250.1.213.1.1.3.32"
        )
        _code(comment, "code", m.Code("48767-8", m.LOINC, "Commentaire"))
        text = _reference(comment, "text", "commentaire")
        text[0].tail = v.comment
        _el(comment, "statusCode", code="completed")
    return doc


# -- value sets and output ---------------------------------------------------------------------


def write_structured(document: etree._Element, out: BinaryIO) -> WrittenCda:
    """Serialize a built document (UTF-8, with declaration) to ``out``: size, SHA-1, SHA-256."""
    data = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    out.write(data)
    return WrittenCda(len(data), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).digest())
