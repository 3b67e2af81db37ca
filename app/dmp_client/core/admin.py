"""Administrative DMP transactions: typed, pure builders and parsers (no I/O).

- TD0.4 ``patientList`` (service ``patientsSpecific``): the DMPs I am authorised on, or those with new
  documents, since a date.
- TD0.5 PDQv3 ``PRPA_IN201305UV02`` → ``PRPA_IN201306UV02``: find a patient without INS (régulation only).
- TD1.1 ``PRPA_IN201311UV02`` (CREA_RD) → ``PRPA_IN201311UV02_Response`` wrapping 312 (accept) / 313
  (reject): create a DMP, with the patient's express consent (``CONSENTEMENT_OUVERTURE_DMP``).
- TD1.2 / TD1.3b / TD1.4 ``PRPA_IN201314UV02`` (REAC / MODIF_DATA / FERM) → ``PRPA_IN201314UV02_Response``
  wrapping 315 / 316: reactivate, modify the administrative data, close.
- TD1.6 ``listAuthorizationByPatient`` (service ``habilitations``).
- TD0.3 with ``role`` = MEDECIN_TRAITANT: declare oneself (or stop being) the patient's médecin traitant.

Message shapes follow the official example messages and WSDL of the DMP package (dmp-interface.md
§2–§3); no HL7v3 PRPA schema is shipped, so the HL7v3 messages are checked against that documented
structure only [UNSURE]. docs/admin-transactions.md lists the choices and open points.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from app.dmp_client.core.context import PS_ID_OID, STRUCTURE_ID_OID, Actor
from app.dmp_client.core.errors import LocalProtocolError, MalformedResponse, ProtocolError, RemoteError
from app.dmp_client.core.habilitations import AuthorizationAction
from app.dmp_client.core.hl7v3 import (
    INTERACTION_OID,
    REASON_CODE_SYSTEM,
    _attr,
    _find,
    _hl7,
    timestamp,
    transmission_wrapper,
)
from app.dmp_client.core.ns import HABILITATIONS, HL7V3, PATIENTS_SPECIFIC, XSI, q
from app.ins import Ins, InsError

# --- actions (request → response) ------------------------------------------------------------------

ACTION_PATIENT_LIST = "urn:si-dmp-patients:PatientSpecificEndPoint:patientList"
ACTION_PATIENT_LIST_RESPONSE = "urn:si-dmp-patients:PatientSpecificEndPoint:patientListResponse"
ACTION_FIND_CANDIDATES = "urn:hl7-org:v3:PRPA_IN201305UV02"
ACTION_FIND_CANDIDATES_RESPONSE = "urn:hl7-org:v3:PRPA_IN201306UV02"
ACTION_ADD_PATIENT = "urn:hl7-org:v3:PRPA_IN201311UV02"
ACTION_ADD_PATIENT_RESPONSE = "urn:hl7-org:v3:PRPA_IN201311ResponseUV02"
ACTION_REVISE_PATIENT = "urn:hl7-org:v3:PRPA_IN201314UV02"
ACTION_REVISE_PATIENT_RESPONSE = "urn:hl7-org:v3:PRPA_IN201314ResponseUV02"
ACTION_LIST_AUTHORIZATIONS = "urn:si-dmp-habilitations:HabilitationsEndPoint:listAuthorizationByPatient"
ACTION_LIST_AUTHORIZATIONS_RESPONSE = (
    "urn:si-dmp-habilitations:HabilitationsEndPoint:listAuthorizationByPatientResponse"
)

GDP = "asip:ci-sis:gdp:2010"  # namespace of the GDP WSDL's response wrappers
OBSERVATION_CODE_SYSTEM = "1.2.250.1.213.4.1.2.3"
CLOSING_REASON_CODE_SYSTEM = "1.2.250.1.213.4.1.2.4"
GENDER_CODE_SYSTEM = "2.16.840.1.113883.5.1"
CONSENT = "CONSENTEMENT_OUVERTURE_DMP"
OPPOSITION_BREAK_GLASS = "OPPOSITION_BRIS_DE_GLACE"
OPPOSITION_CENTRE_15 = "OPPOSITION_ACCES_URGENCE"
OK = "DMPOk"
TREATING_DOCTOR_ROLE = "MEDECIN_TRAITANT"


class AdminReason(StrEnum):
    """``controlActProcess/reasonCode`` (TRE_R271) of the administrative HL7v3 messages."""

    CREATE = "CREA_RD"
    REACTIVATE = "REAC"
    MODIFY = "MODIF_DATA"
    CLOSE = "FERM"


REASON_LABELS = {
    AdminReason.CREATE: "Création de dossier",
    AdminReason.REACTIVATE: "Réactivation de dossier",
    AdminReason.MODIFY: "Modification des données de gestion du dossier",
    AdminReason.CLOSE: "Fermeture de dossier",
}


class ClosingReason(StrEnum):
    """Closing reasons (cs 1.2.250.1.213.4.1.2.4); only the one of the official example is known."""

    PATIENT_REQUEST = "FERMETURE_DEMANDE_PATIENT"


class DateType(StrEnum):
    """TD0.4 ``dateType``: new authorisations, or new documents, since ``startDate``."""

    LAST_AUTHORIZATION = "LASTAUTORIZATION"  # sic, as in the WSDL
    LAST_DOCUMENT = "LASTDOC"


class AuthorizationMode(StrEnum):
    """TD1.6 ``mode``: authorised professionals, blocked ones, or both."""

    ACTIVE = "ACTIVE"
    BLOCKED = "INTERDITE"
    ALL = "TOUTE"


class Gender(StrEnum):
    """HL7 AdministrativeGender as the DMP uses it."""

    FEMALE = "F"
    MALE = "M"
    UNDIFFERENTIATED = "U"


class ConsentRequired(ProtocolError):
    """TD1.1 without the patient's express consent: never sent."""

    code = "DMP-CONSENTEMENT"
    user_message = (
        "La création du DMP exige le consentement exprès du patient : recueillez-le avant d'envoyer."
    )


class RegulationOnly(ProtocolError):
    """TD0.5 outside régulation mode: the DMP would refuse it, so it is never sent."""

    code = "DMP-MODE-REGULATION"
    user_message = "La recherche d'un patient sans INS n'est possible qu'en mode régulation (centre 15)."


# --- shared pieces ---------------------------------------------------------------------------------


def _text(node: etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


def _bl(parent: etree._Element, value: bool) -> etree._Element:
    node = _hl7(parent, "value", value="true" if value else "false")
    node.set(q(XSI, "type"), "BL")
    return node


def _hl7_date(value: dt.date | str) -> str:
    """A birth date as HL7 TS: a date, or a partial date already in TS form (``1969``, ``196903``)."""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if not (value.isascii() and value.isdigit()) or len(value) not in (4, 6, 8):
        raise LocalProtocolError(f"Date de naissance mal formée pour le DMP ({len(value)} caractères).")
    return value


# --- TD0.4 patientList -----------------------------------------------------------------------------


def build_patient_list(start: dt.datetime, date_type: DateType) -> etree._Element:
    root = etree.Element(q(PATIENTS_SPECIFIC, "patientList"), nsmap={None: PATIENTS_SPECIFIC})
    etree.SubElement(root, q(PATIENTS_SPECIFIC, "startDate")).text = timestamp(start)
    etree.SubElement(root, q(PATIENTS_SPECIFIC, "dateType")).text = date_type.value
    return root


@dataclass(frozen=True)
class PatientListEntry:
    """One ``patientlistData``. Identity traits are the DMP's: do not display them (RG_0320)."""

    ins: Ins | None
    other_ids: tuple[tuple[str, str], ...]
    last_name: str
    first_name: str
    birth_date: str
    treating_doctor: bool
    message: bool
    last_access: str | None
    last_update: str | None
    last_add: str | None

    def __repr__(self) -> str:  # never the identity in logs
        return f"PatientListEntry(ins={self.ins!r}, treating_doctor={self.treating_doctor})"


def _child(parent: etree._Element, namespace: str, local: str) -> etree._Element | None:
    """A child in ``namespace``, or unqualified (hosts differ on elementFormDefault)."""
    found = parent.find(q(namespace, local))
    return found if found is not None else parent.find(local)


def _children(parent: etree._Element, namespace: str, local: str) -> list[etree._Element]:
    return parent.findall(q(namespace, local)) + parent.findall(local)


def _child_text(parent: etree._Element, namespace: str, local: str) -> str:
    return _text(_child(parent, namespace, local))


def _web_service_output(payload: etree._Element, namespace: str, expected: str) -> etree._Element:
    """``<expected><output>…<status/><context/></output>`` with status DMPOk, else RemoteError."""
    if etree.QName(payload).localname != expected:
        raise MalformedResponse(f"Réponse inattendue du DMP ({expected} attendu).")
    output = _child(payload, namespace, "output")
    if output is None:
        raise MalformedResponse("Réponse du DMP sans élément output.")
    status = _child_text(output, namespace, "status")
    if not status:
        raise MalformedResponse("Réponse du DMP sans statut.")
    if status != OK:
        raise RemoteError(status, _child_text(output, namespace, "context"))
    return output


def _ins_or_none(value: str, oid: str) -> Ins | None:
    """An INS (matricule + OID); None for the legacy INS-C or anything else."""
    try:
        return Ins.parse(value, oid)
    except InsError:
        return None


def _bool(text: str) -> bool:
    if text not in ("true", "false", "1", "0"):
        raise MalformedResponse(f"Booléen inattendu dans la réponse du DMP ({text[:10]!r}).")
    return text in ("true", "1")


def parse_patient_list_response(payload: etree._Element) -> list[PatientListEntry]:
    output = _web_service_output(payload, PATIENTS_SPECIFIC, "patientListResponse")
    entries = []
    for data in _children(output, PATIENTS_SPECIFIC, "patientlistData"):
        ins: Ins | None = None
        others: list[tuple[str, str]] = []
        for identifier in _children(data, PATIENTS_SPECIFIC, "patientIdentifier"):
            value = _child_text(identifier, PATIENTS_SPECIFIC, "nationalId")
            kind = _child_text(identifier, PATIENTS_SPECIFIC, "nationalIdType")
            parsed = _ins_or_none(value, kind)
            if parsed is not None and ins is None:
                ins = parsed
            else:
                others.append((kind, value))
        entries.append(
            PatientListEntry(
                ins=ins,
                other_ids=tuple(others),
                last_name=_child_text(data, PATIENTS_SPECIFIC, "lastName"),
                first_name=_child_text(data, PATIENTS_SPECIFIC, "firstName"),
                birth_date=_child_text(data, PATIENTS_SPECIFIC, "dateOfBirth"),
                treating_doctor=_bool(_child_text(data, PATIENTS_SPECIFIC, "MT") or "false"),
                message=_bool(_child_text(data, PATIENTS_SPECIFIC, "message") or "false"),
                last_access=_child_text(data, PATIENTS_SPECIFIC, "lastAccessDate") or None,
                last_update=_child_text(data, PATIENTS_SPECIFIC, "lastUpdateDate") or None,
                last_add=_child_text(data, PATIENTS_SPECIFIC, "lastAddDate") or None,
            )
        )
    return entries


# --- TD1.6 listAuthorizationByPatient ----------------------------------------------------------------


def build_list_authorizations(mode: AuthorizationMode) -> etree._Element:
    root = etree.Element(q(HABILITATIONS, "listAuthorizationByPatient"), nsmap={None: HABILITATIONS})
    etree.SubElement(root, q(HABILITATIONS, "mode")).text = mode.value
    return root


@dataclass(frozen=True)
class ProfessionalAuthorization:
    """One ``listOfAuthorizationByPatient``: a professional (or structure) authorised on, or blocked from,
    the DMP."""

    national_id: str
    id_type: str
    first_name: str
    last_name: str
    specialties: tuple[str, ...]
    specialty_labels: tuple[str, ...]
    start: str | None
    last_action: str | None
    mode: str
    specific_rights: tuple[str, ...]

    @property
    def treating_doctor(self) -> bool:
        return TREATING_DOCTOR_ROLE in self.specific_rights


def parse_list_authorizations_response(payload: etree._Element) -> list[ProfessionalAuthorization]:
    output = _web_service_output(payload, HABILITATIONS, "listAuthorizationByPatientResponse")
    result = []
    for item in _children(output, HABILITATIONS, "listOfAuthorizationByPatient"):

        def texts(local: str, node: etree._Element = item) -> tuple[str, ...]:
            return tuple(_text(n) for n in _children(node, HABILITATIONS, local))

        national_id = _child_text(item, HABILITATIONS, "nationalId")
        if not national_id:
            raise MalformedResponse("Autorisation sans identifiant de professionnel dans la réponse du DMP.")
        result.append(
            ProfessionalAuthorization(
                national_id=national_id,
                id_type=_child_text(item, HABILITATIONS, "nationalIdType"),
                first_name=_child_text(item, HABILITATIONS, "firstName"),
                last_name=_child_text(item, HABILITATIONS, "lastName"),
                specialties=texts("codeSpeciality"),
                specialty_labels=texts("libSpeciality"),
                start=_child_text(item, HABILITATIONS, "startOfAuthorization") or None,
                last_action=_child_text(item, HABILITATIONS, "lastActionDate") or None,
                mode=_child_text(item, HABILITATIONS, "mode"),
                specific_rights=texts("specificRight"),
            )
        )
    return result


# --- TD0.3 with role MEDECIN_TRAITANT -----------------------------------------------------------------


def build_set_treating_doctor(action: AuthorizationAction) -> etree._Element:
    """``setAuthorization`` with ``role`` = MEDECIN_TRAITANT (Habilitations WSDL ``roleType``)."""
    root = etree.Element(q(HABILITATIONS, "setAuthorization"), nsmap={None: HABILITATIONS})
    etree.SubElement(root, q(HABILITATIONS, "action")).text = action.value
    etree.SubElement(root, q(HABILITATIONS, "role")).text = TREATING_DOCTOR_ROLE
    return root


# --- TD0.5 PDQv3 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemographicQuery:
    """TD0.5 criteria: at least one. Names are matched by the DMP (case and accents are its business)."""

    family: str | None = None
    given: str | None = None
    birth_date: dt.date | str | None = None
    gender: Gender | None = None

    def __repr__(self) -> str:  # never the criteria in logs
        return "DemographicQuery(…)"


def build_find_candidates(
    query: DemographicQuery, sender_oid: str, *, now: dt.datetime | None = None
) -> etree._Element:
    """PRPA_IN201305UV02; parameters in the PRPA_MT201306UV02 order (gender, birth time, name)."""
    if not (query.family or query.given or query.birth_date or query.gender):
        raise LocalProtocolError("Recherche de patient sans aucun critère.")
    root = transmission_wrapper("PRPA_IN201305UV02", sender_oid, now)
    act = _hl7(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _hl7(act, "code", code="PRPA_TE201305UV02", codeSystem=INTERACTION_OID)
    params_parent = _hl7(act, "queryByParameter")
    _hl7(params_parent, "queryId", root=str(uuid.uuid4()))
    _hl7(params_parent, "statusCode", code="new")
    _hl7(params_parent, "responseModalityCode", code="R")
    _hl7(params_parent, "responsePriorityCode", code="I")
    parameters = _hl7(params_parent, "parameterList")
    if query.gender is not None:
        node = _hl7(parameters, "livingSubjectAdministrativeGender")
        _hl7(node, "value", code=query.gender.value, codeSystem=GENDER_CODE_SYSTEM)
        _hl7(node, "semanticsText").text = "LivingSubject.administrativeGender"
    if query.birth_date is not None:
        node = _hl7(parameters, "livingSubjectBirthTime")
        _hl7(node, "value", value=_hl7_date(query.birth_date))
        _hl7(node, "semanticsText").text = "LivingSubject.birthTime"
    if query.family or query.given:
        node = _hl7(parameters, "livingSubjectName")
        value = _hl7(node, "value")
        if query.family:
            _hl7(value, "family").text = query.family
        if query.given:
            _hl7(value, "given").text = query.given
        _hl7(node, "semanticsText").text = "LivingSubject.name"
    return root


@dataclass(frozen=True)
class Candidate:
    """One TD0.5 match. Traits come from the DMP: use them to choose, then qualify the INS locally."""

    ins: Ins | None
    other_ids: tuple[tuple[str, str], ...]
    status: str
    birth_names: tuple[str, ...]
    used_names: tuple[str, ...]
    given: tuple[str, ...]
    gender: str | None
    birth_date: str | None
    match: int | None
    observations: dict[str, bool]

    def __repr__(self) -> str:  # never the identity in logs
        return f"Candidate(ins={self.ins!r}, match={self.match})"


def _acknowledgement(payload: etree._Element) -> tuple[str, str | None, str]:
    """(typeCode, detail code, detail text); tolerates ``<typeCode code=…/>`` as the TD0.5 example has."""
    ack = _find(payload, "h:acknowledgement")
    if ack is None:
        raise MalformedResponse("Réponse HL7v3 sans accusé de réception.")
    type_code = ack.get("typeCode") or _attr(ack, "h:typeCode", "code")
    if not type_code:
        raise MalformedResponse("Accusé de réception HL7v3 sans typeCode.")
    return (
        type_code,
        _attr(ack, "h:acknowledgementDetail/h:code", "code"),
        _text(_find(ack, "h:acknowledgementDetail/h:text")),
    )


def _raise_for_ack(payload: etree._Element) -> None:
    type_code, detail, text = _acknowledgement(payload)
    if type_code not in ("AA", "CA"):
        raise RemoteError(detail or type_code, text)


def parse_find_candidates_response(payload: etree._Element) -> list[Candidate]:
    if payload.tag != q(HL7V3, "PRPA_IN201306UV02"):
        raise MalformedResponse("Réponse HL7v3 inattendue (PRPA_IN201306UV02 attendu).")
    _raise_for_ack(payload)
    code = _attr(payload, "h:controlActProcess/h:queryAck/h:queryResponseCode", "code")
    if code == "NF":
        return []
    if code != "OK":
        raise MalformedResponse(f"Code de réponse HL7v3 inattendu ({code}).")
    found = payload.xpath(
        "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient", namespaces={"h": HL7V3}
    )
    candidates = []
    for patient in found if isinstance(found, list) else []:
        assert isinstance(patient, etree._Element)
        ins: Ins | None = None
        others: list[tuple[str, str]] = []
        for node in patient.findall(q(HL7V3, "id")):
            root, extension = node.get("root", ""), node.get("extension", "")
            parsed = _ins_or_none(extension, root)
            if parsed is not None and ins is None:
                ins = parsed
            else:
                others.append((root, extension))
        names = patient.findall(f"{{{HL7V3}}}patientPerson/{{{HL7V3}}}name")
        families = [f for n in names for f in n.findall(q(HL7V3, "family"))]
        observations = {}
        for observation in patient.xpath(".//h:administrativeObservation", namespaces={"h": HL7V3}):
            key = _attr(observation, "h:code", "code")
            if key:
                observations[key] = _attr(observation, "h:value", "value") == "true"
        match = _attr(patient, ".//h:queryMatchObservation/h:value", "value")
        candidates.append(
            Candidate(
                ins=ins,
                other_ids=tuple(others),
                status=_attr(patient, "h:statusCode", "code") or "",
                birth_names=tuple(_text(f) for f in families if f.get("qualifier") == "BR"),
                used_names=tuple(_text(f) for f in families if f.get("qualifier") != "BR"),
                given=tuple(_text(g) for n in names for g in n.findall(q(HL7V3, "given"))),
                gender=_attr(patient, "h:patientPerson/h:administrativeGenderCode", "code"),
                birth_date=_attr(patient, "h:patientPerson/h:birthTime", "value"),
                match=int(match[:9]) if match and match.isascii() and match.isdigit() else None,
                observations=observations,
            )
        )
    return candidates


# --- TD1.1, TD1.2, TD1.3b, TD1.4: PRPA_IN201311UV02 / PRPA_IN201314UV02 ---------------------------------


@dataclass(frozen=True)
class Address:
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""


@dataclass(frozen=True)
class DmpPatient:
    """What TD1.1 and TD1.3b send: the INS, the qualified identity traits and the administrative data.

    ``telecoms`` are HL7 TEL pairs ``(value, use)``, e.g. ``("tel:0102030405", "HP")`` or
    ``("mailto:…", "")``. The oppositions are the patient's choices for break-glass and centre-15 access.
    """

    ins: Ins
    birth_name: str
    given: str
    gender: Gender
    birth_date: dt.date | str
    used_name: str | None = None
    telecoms: tuple[tuple[str, str], ...] = ()
    address: Address | None = None
    opposition_break_glass: bool = False
    opposition_centre_15: bool = False

    def __repr__(self) -> str:  # never the identity in logs
        return f"DmpPatient(ins={self.ins!r})"


def _observation(patient: etree._Element, code: str, value: bool) -> None:
    subject = _hl7(patient, "subjectOf", typeCode="SBJ")
    observation = _hl7(subject, "administrativeObservation", classCode="OBS", moodCode="EVN")
    _hl7(observation, "code", code=code, codeSystem=OBSERVATION_CODE_SYSTEM)
    _bl(observation, value)


def _person(patient: etree._Element, data: DmpPatient | None) -> None:
    person = _hl7(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
    if data is None:
        return
    name = _hl7(person, "name")
    _hl7(name, "family", qualifier="BR").text = data.birth_name
    if data.used_name:
        _hl7(name, "family", qualifier="SP").text = data.used_name
    _hl7(name, "given").text = data.given
    for value, use in data.telecoms:
        attributes = {"value": value} | ({"use": use} if use else {})
        _hl7(person, "telecom", **attributes)
    _hl7(person, "administrativeGenderCode", code=data.gender.value, codeSystem=GENDER_CODE_SYSTEM)
    _hl7(person, "birthTime", value=_hl7_date(data.birth_date))
    if data.address is not None:
        addr = _hl7(person, "addr")
        for tag, text in (
            ("streetAddressLine", data.address.street),
            ("postalCode", data.address.postal_code),
            ("city", data.address.city),
            ("country", data.address.country),
        ):
            if text:
                _hl7(addr, tag).text = text


def _author(request: etree._Element, actor: Actor) -> None:
    """The acting professional (or the structure's user), as in the official TD1.3b / TD1.4 examples."""
    entity = _hl7(_hl7(request, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
    _hl7(entity, "id", root=PS_ID_OID, extension=actor.national_id)
    person = _hl7(entity, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    _hl7(person, "name").text = actor.display_name
    organisation = _hl7(entity, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _hl7(organisation, "id", root=STRUCTURE_ID_OID, extension=actor.structure_id)


def _registration(
    interaction: str,
    reason: AdminReason,
    ins: Ins,
    data: DmpPatient | None,
    actor: Actor,
    sender_oid: str,
    now: dt.datetime | None,
    *,
    patient_status: str,
    observations: tuple[tuple[str, bool], ...],
) -> tuple[etree._Element, etree._Element]:
    if data is not None and data.ins != ins:
        raise LocalProtocolError("L'INS des données du patient diffère de celui de la requête.")
    root = transmission_wrapper(interaction, sender_oid, now)
    act = _hl7(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _hl7(act, "code", code=interaction.replace("_IN", "_TE"), codeSystem=INTERACTION_OID)
    _hl7(
        act, "reasonCode", code=reason.value, codeSystem=REASON_CODE_SYSTEM, displayName=REASON_LABELS[reason]
    )
    subject = _hl7(act, "subject", typeCode="SUBJ", contextConductionInd="false")
    request = _hl7(subject, "registrationRequest", classCode="REG", moodCode="RQO")
    _hl7(request, "statusCode", code="active")
    patient = _hl7(_hl7(request, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
    _hl7(patient, "id", **ins.to_hl7v3_attributes())
    _hl7(patient, "statusCode", code=patient_status)
    _person(patient, data)
    for code, value in observations:
        _observation(patient, code, value)
    _author(request, actor)
    return root, act


def _oppositions(data: DmpPatient) -> tuple[tuple[str, bool], ...]:
    return (
        (OPPOSITION_BREAK_GLASS, data.opposition_break_glass),
        (OPPOSITION_CENTRE_15, data.opposition_centre_15),
    )


def build_create_dmp(
    data: DmpPatient, actor: Actor, sender_oid: str, *, consent: bool, now: dt.datetime | None = None
) -> etree._Element:
    """TD1.1 PRPA_IN201311UV02 (CREA_RD). ``consent`` is carried as the administrative observation
    CONSENTEMENT_OUVERTURE_DMP; the facade refuses to send ``False``, the host refuses to create with it."""
    root, _ = _registration(
        "PRPA_IN201311UV02",
        AdminReason.CREATE,
        data.ins,
        data,
        actor,
        sender_oid,
        now,
        patient_status="active",
        observations=((CONSENT, consent), *_oppositions(data)),
    )
    return root


def build_revise_dmp(
    reason: AdminReason,
    ins: Ins,
    actor: Actor,
    sender_oid: str,
    *,
    data: DmpPatient | None = None,
    closing_reason: ClosingReason = ClosingReason.PATIENT_REQUEST,
    now: dt.datetime | None = None,
) -> etree._Element:
    """PRPA_IN201314UV02: REAC (TD1.2), MODIF_DATA (TD1.3b, needs ``data``) or FERM (TD1.4)."""
    if reason is AdminReason.CREATE:
        raise LocalProtocolError("La création d'un DMP passe par PRPA_IN201311UV02.")
    if reason is AdminReason.MODIFY and data is None:
        raise LocalProtocolError("La modification des données de gestion exige les données du patient.")
    root, act = _registration(
        "PRPA_IN201314UV02",
        reason,
        ins,
        data,
        actor,
        sender_oid,
        now,
        patient_status="terminated" if reason is AdminReason.CLOSE else "active",
        observations=_oppositions(data) if reason is AdminReason.MODIFY and data is not None else (),
    )
    if reason is AdminReason.CLOSE:
        issue = _hl7(
            _hl7(act, "reasonOf", typeCode="RSON"), "detectedIssueEvent", classCode="ALRT", moodCode="EVN"
        )
        _hl7(issue, "code", code=closing_reason.value, codeSystem=CLOSING_REASON_CODE_SYSTEM)
        _hl7(issue, "text").text = closing_reason.value
    return root


@dataclass(frozen=True)
class AdminResult:
    """What the DMP answered to TD1.1 / TD1.2 / TD1.3b / TD1.4."""

    interaction: str
    reason: str | None
    patient_status: str | None


def _parse_registration_response(
    payload: etree._Element, wrapper: str, accept: str, reject: str
) -> AdminResult:
    inner = payload
    if etree.QName(payload).localname == wrapper:
        inner = next((c for c in payload if isinstance(c.tag, str)), payload)
    if inner.tag not in (q(HL7V3, accept), q(HL7V3, reject)):
        raise MalformedResponse(f"Réponse HL7v3 inattendue ({accept} ou {reject} attendu).")
    type_code, detail, text = _acknowledgement(inner)
    if inner.tag == q(HL7V3, reject) or type_code not in ("AA", "CA"):
        raise RemoteError(detail or type_code, text)
    return AdminResult(
        interaction=etree.QName(inner).localname,
        reason=_attr(inner, "h:controlActProcess/h:reasonCode", "code"),
        patient_status=_attr(
            inner,
            "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient/h:statusCode",
            "code",
        ),
    )


def parse_create_dmp_response(payload: etree._Element) -> AdminResult:
    """``PRPA_IN201311UV02_Response`` (GDP namespace) wrapping PRPA_IN201312UV02 or PRPA_IN201313UV02;
    an AE/AR acknowledgement (e.g. DMPFound) becomes a RemoteError."""
    return _parse_registration_response(
        payload, "PRPA_IN201311UV02_Response", "PRPA_IN201312UV02", "PRPA_IN201313UV02"
    )


def parse_revise_dmp_response(payload: etree._Element) -> AdminResult:
    """``PRPA_IN201314UV02_Response`` wrapping PRPA_IN201315UV02 or PRPA_IN201316UV02."""
    return _parse_registration_response(
        payload, "PRPA_IN201314UV02_Response", "PRPA_IN201315UV02", "PRPA_IN201316UV02"
    )
