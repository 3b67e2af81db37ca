"""The host's administrative transactions, under the host profile (``HostConfig.profile``).

- TD0.4 ``patientList`` (service ``patientsSpecific``), TD0.5 PDQv3 (``patients``, régulation only),
  TD1.6 ``listAuthorizationByPatient`` and TD0.3 with ``role`` MEDECIN_TRAITANT (``habilitations``).
- TD1.1 create (PRPA_IN201311UV02), TD1.2 reactivate, TD1.3b modify and TD1.4 close (PRPA_IN201314UV02).

Profiles: ``current`` applies the Mon espace santé rules (FI-526 2024): a professional can no longer
create a DMP, TD1.2 is gone, TD1.3b / TD1.4 only apply to DMPs not attached to MES (every seeded DMP
is attached). ``legacy`` is the pre-MES DMP: a professional creates a DMP with the patient's express
consent (observation CONSENTEMENT_OUVERTURE_DMP), modifies, closes and reactivates it.

Rights refusals are SOAP faults ``DMPAccessDeniedByRightsService``; states of the DMP (DMPFound,
DMPClosed, DMPNotFound…) come back in the HL7v3 acknowledgement (AE), as on the real host.
This module shares no code with the client (import-linter contract).
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
import uuid

from lxml import etree

from sandbox import cards
from sandbox.host import habilitations
from sandbox.host.faults import HostFault
from sandbox.host.reply import Reply
from sandbox.host.store import Store
from sandbox.host.vihf import TEST_OIDS, Caller

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
HAB = "urn:si-dmp-habilitations"
PAT = "urn:si-dmp-patients"
GDP = "asip:ci-sis:gdp:2010"
H = {"h": HL7}
DMP_DEVICE = "1.2.250.1.213.4.1.1.1"
INTERACTION_OID = "2.16.840.1.113883.1.6"
REASON_CS = "1.2.250.1.213.1.1.4.11"
OBSERVATION_CS = "1.2.250.1.213.4.1.2.3"
CLOSING_CS = "1.2.250.1.213.4.1.2.4"
PS_ID_OID = "1.2.250.1.71.4.2.1"
CLOSING_REASONS = {"FERMETURE_DEMANDE_PATIENT"}
PHYSICIAN = "10"
DENIED = "DMPAccessDeniedByRightsService"


def _el(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{HL7}}}{tag}", attrib=attributes)


def _first(node: etree._Element, path: str) -> etree._Element | None:
    found = node.xpath(path, namespaces=H)
    return found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None


def _text(node: etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")


def _deny(reason: str) -> HostFault:
    return HostFault(DENIED, reason)


def _legacy(store: Store) -> bool:
    return store.profile == "legacy"


def _is_cpe(caller: Caller) -> bool:
    return caller.mode == "DIRECTE" and not caller.professions


def _structure_professionals(structure_id: str) -> list[str]:
    return [
        c.national_id for c in cards.load_cards() if any(s.structure_id == structure_id for s in c.situations)
    ]


def _patient_of(caller: Caller, requested_root: str | None, requested: str | None) -> str:
    """The request's patient must be the VIHF's resource-id."""
    if caller.patient_matricule is None:
        raise HostFault("DMPVihfInvalid", "Identifiant du patient (resource-id) absent du VIHF.")
    if requested_root is not None and requested_root != caller.patient_oid:
        raise HostFault("XDSPatientIdDoesNotMatch", "L'OID de l'INS de la requête diffère de celui du VIHF.")
    if requested is not None and requested != caller.patient_matricule:
        raise HostFault("XDSPatientIdDoesNotMatch", "Le patient de la requête n'est pas celui du VIHF.")
    return caller.patient_matricule


def _ws_child(payload: etree._Element, namespace: str, local: str) -> str:
    return (payload.findtext(f"{{{namespace}}}{local}") or payload.findtext(local) or "").strip()


# --- TD0.4 patientList ---------------------------------------------------------------------------------


def patient_list(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD0.4: the caller's authorised DMPs (LASTAUTORIZATION) or those with new documents (LASTDOC).

    A CPS sees its own authorisations; a CPE those of the professionals of its structure; a structure
    certificate only new authorisations of its professionals (FI-526).
    """
    start = _ws_child(payload, PAT, "startDate")
    date_type = _ws_child(payload, PAT, "dateType")
    if len(start) != 14 or not start.isdigit() or date_type not in ("LASTAUTORIZATION", "LASTDOC"):
        raise HostFault("DMPInvalidRequest", "patientList : startDate (aaaaMMjjHHmmss) et dateType attendus.")
    if caller.mode != "DIRECTE" and date_type != "LASTAUTORIZATION":
        raise _deny("Certificat de structure : seule la liste des nouvelles autorisations est permise.")
    professionals = (
        [caller.national_id]
        if caller.mode == "DIRECTE" and caller.professions
        else _structure_professionals(caller.structure_id)
    )
    rows = store.authorized_dmps(professionals, start if date_type == "LASTAUTORIZATION" else None)
    response = etree.Element(f"{{{PAT}}}patientListResponse", nsmap={"ns1": PAT})
    output = etree.SubElement(response, f"{{{PAT}}}output")
    seen: set[str] = set()
    for row in rows:
        matricule = row["matricule"]
        last_add = store.last_submission(matricule)
        if matricule in seen or (date_type == "LASTDOC" and (last_add is None or last_add < start)):
            continue
        seen.add(matricule)
        data = etree.SubElement(output, f"{{{PAT}}}patientlistData")
        identifier = etree.SubElement(data, f"{{{PAT}}}patientIdentifier")
        etree.SubElement(identifier, f"{{{PAT}}}nationalId").text = matricule
        etree.SubElement(identifier, f"{{{PAT}}}nationalIdType").text = row["oid"]
        for tag, value in (
            ("lastName", row["birth_name"] or ""),
            ("firstName", (row["first_names"] or "").split(" ")[0]),
            ("dateOfBirth", _hl7_date(row["birth_date"] or "")),
            ("MT", "true" if store.treating_doctor(matricule) in professionals else "false"),
            ("message", "false"),
        ):
            etree.SubElement(data, f"{{{PAT}}}{tag}").text = value
        for tag, value in (
            ("lastAccessDate", store.last_access(matricule, row["ps_id"])),
            ("lastUpdateDate", last_add),
            ("lastAddDate", last_add),
        ):
            if value:
                etree.SubElement(data, f"{{{PAT}}}{tag}").text = value
    etree.SubElement(output, f"{{{PAT}}}status").text = "DMPOk"
    return Reply("urn:si-dmp-patients:PatientSpecificEndPoint:patientListResponse", response, "TD0.4", None)


def _hl7_date(iso: str) -> str:
    parts = [p for p in iso.split("-") if p]
    while len(parts) > 1 and parts[-1] == "00":
        parts.pop()
    return "".join(parts)


# --- TD1.6 listAuthorizationByPatient and TD0.3 médecin traitant ------------------------------------


def _open_dmp(store: Store, matricule: str) -> None:
    row = store.patient(matricule)
    if row is None or row["state"] == "none":
        raise HostFault("DMPNotFound", "Ce patient n'a pas de DMP.")
    if row["state"] == "terminated":
        raise HostFault("DMPClosed", "Le DMP de ce patient est fermé.")


def list_authorizations(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD1.6: normal mode, direct authentication, by a professional authorised on the DMP."""
    mode = _ws_child(payload, HAB, "mode") or "TOUTE"
    if mode not in ("ACTIVE", "INTERDITE", "TOUTE"):
        raise HostFault("DMPInvalidRequest", "Mode inconnu (ACTIVE, INTERDITE ou TOUTE).")
    if caller.mode != "DIRECTE" or caller.purpose != "normal":
        raise _deny("Liste des professionnels autorisés : mode normal et authentification directe requis.")
    matricule = _patient_of(caller, None, None)
    _open_dmp(store, matricule)
    if not store.is_authorized(matricule, caller.national_id):
        raise _deny("Vous n'êtes pas autorisé à accéder à ce DMP.")
    holders = {c.national_id: c for c in cards.load_cards()}
    treating = store.treating_doctor(matricule)
    response = etree.Element(f"{{{HAB}}}listAuthorizationByPatientResponse", nsmap={"ns1": HAB})
    output = etree.SubElement(response, f"{{{HAB}}}output")
    # The sandbox keeps no list of blocked professionals: INTERDITE is always empty.
    for row in store.patient_authorizations(matricule) if mode != "INTERDITE" else []:
        holder = holders.get(row["ps_id"])
        item = etree.SubElement(output, f"{{{HAB}}}listOfAuthorizationByPatient")
        codes = []
        if holder is not None and holder.profession:
            codes.append(f"G15_{holder.profession}" + (f"/{holder.specialty}" if holder.specialty else ""))
        for tag, value in (
            ("nationalId", row["ps_id"]),
            ("nationalIdType", PS_ID_OID),
            ("firstName", holder.given_name if holder else ""),
            ("lastName", holder.surname if holder else ""),
            *(("codeSpeciality", code) for code in codes),
            *(("libSpeciality", holder.profession_label) for _ in codes if holder),
            ("startOfAuthorization", row["since"]),
            ("lastActionDate", store.last_access(matricule, row["ps_id"]) or row["since"]),
            ("mode", "ACTIVE"),
        ):
            etree.SubElement(item, f"{{{HAB}}}{tag}").text = value
        if row["ps_id"] == treating:
            etree.SubElement(item, f"{{{HAB}}}specificRight").text = "MEDECIN_TRAITANT"
    etree.SubElement(output, f"{{{HAB}}}status").text = "DMPOk"
    etree.SubElement(output, f"{{{HAB}}}context")
    return Reply(
        "urn:si-dmp-habilitations:HabilitationsEndPoint:listAuthorizationByPatientResponse",
        response,
        "TD1.6",
        matricule,
    )


def set_authorization(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD0.3: with ``role`` MEDECIN_TRAITANT, declare oneself (or stop being) the médecin traitant DMP;
    without it, the plain authorisation of sandbox/host/habilitations.py."""
    role = _ws_child(payload, HAB, "role")
    if not role:
        return habilitations.set_authorization(payload, caller, store)
    action = _ws_child(payload, HAB, "action")
    if role != "MEDECIN_TRAITANT" or action not in ("AJOUT", "SUPPRESSION"):
        raise HostFault(
            "DMPInvalidRequest", "Rôle (MEDECIN_TRAITANT) ou action (AJOUT, SUPPRESSION) inconnus."
        )
    if caller.mode != "DIRECTE" or caller.purpose != "normal":
        raise _deny("Médecin traitant : mode normal et authentification directe requis.")
    matricule = _patient_of(caller, None, None)
    _open_dmp(store, matricule)
    if action == "AJOUT":
        if PHYSICIAN not in caller.professions:
            raise _deny("Seul un médecin peut se déclarer médecin traitant du patient.")
        already = store.treating_doctor(matricule) == caller.national_id
        store.set_treating_doctor(matricule, caller.national_id)
        context = "Déjà médecin traitant" if already else ""
    else:
        if not store.clear_treating_doctor(matricule, caller.national_id):
            raise _deny("Seul le médecin traitant du patient peut se retirer de ce rôle.")
        context = ""
    response = etree.Element(f"{{{HAB}}}setAuthorizationResponse", nsmap={None: HAB})
    output = etree.SubElement(response, f"{{{HAB}}}output")
    etree.SubElement(output, f"{{{HAB}}}status").text = "DMPOk"
    etree.SubElement(output, f"{{{HAB}}}context").text = context
    return Reply(
        "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse",
        response,
        "TD0.3",
        matricule,
    )


# --- HL7v3 pieces ----------------------------------------------------------------------------------


def _transmission(tag: str, request: etree._Element) -> etree._Element:
    root = etree.Element(f"{{{HL7}}}{tag}", nsmap={None: HL7, "xsi": XSI}, ITSVersion="XML_1.0")
    _el(root, "id", root=str(uuid.uuid4()))
    _el(root, "creationTime", value=_stamp())
    _el(root, "interactionId", root=INTERACTION_OID, extension=tag)
    _el(root, "processingCode", code="P")
    _el(root, "processingModeCode", code="T")
    _el(root, "acceptAckCode", code="NE")
    sender = _first(request, "h:sender/h:device/h:id")
    for role, oid in (
        ("receiver", sender.get("root", "") if sender is not None else ""),
        ("sender", DMP_DEVICE),
    ):
        party = _el(root, role, typeCode="RCV" if role == "receiver" else "SND")
        _el(_el(party, "device", classCode="DEV", determinerCode="INSTANCE"), "id", root=oid)
    return root


def _acknowledge(root: etree._Element, request: etree._Element, error: tuple[str, str] | None) -> None:
    ack = _el(root, "acknowledgement", typeCode="AE" if error else "AA")
    request_id = request.find(f"{{{HL7}}}id")
    attributes = {
        k: v
        for k, v in (request_id.attrib.items() if request_id is not None else [])
        if k in ("root", "extension")
    }
    _el(_el(ack, "targetMessage"), "id", **attributes)
    if error:
        detail = _el(ack, "acknowledgementDetail", typeCode="E")
        _el(detail, "code", code=error[0])
        _el(detail, "text").text = error[1]


def _observations(patient: etree._Element) -> dict[str, bool]:
    found: dict[str, bool] = {}
    for node in patient.xpath(
        "./*[starts-with(local-name(), 'subjectOf')]/h:administrativeObservation", namespaces=H
    ):
        assert isinstance(node, etree._Element)
        code = _first(node, "h:code")
        value = _first(node, "h:value")
        if code is not None and code.get("code"):
            found[code.get("code", "")] = value is not None and value.get("value") == "true"
    return found


# --- TD1.1, TD1.2, TD1.3b, TD1.4 ---------------------------------------------------------------------


def _registration_answer(
    request: etree._Element,
    wrapper: str,
    tag: str,
    reason: str,
    matricule: str,
    oid: str,
    status: str | None,
    error: tuple[str, str] | None,
) -> etree._Element:
    envelope = etree.Element(f"{{{GDP}}}{wrapper}", nsmap={"gdp": GDP})
    root = _transmission(tag, request)
    envelope.append(root)
    _acknowledge(root, request, error)
    act = _el(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code=tag.replace("_IN", "_TE"), codeSystem=INTERACTION_OID)
    _el(act, "reasonCode", code=reason, codeSystem=REASON_CS)
    if status is not None:
        event = _el(
            _el(act, "subject", typeCode="SUBJ", contextConductionInd="false"),
            "registrationEvent",
            classCode="REG",
            moodCode="EVN",
        )
        _el(event, "statusCode", code="completed")
        patient = _el(_el(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
        _el(patient, "id", root=oid, extension=matricule)
        _el(patient, "statusCode", code=status)
        _el(_el(event, "custodian", typeCode="CST"), "assignedEntity", classCode="ASSIGNED").append(
            etree.Element(f"{{{HL7}}}id", root=DMP_DEVICE)
        )
    return envelope


def _request_patient(payload: etree._Element, caller: Caller) -> tuple[etree._Element, str, str]:
    patient = _first(payload, "h:controlActProcess/h:subject/h:registrationRequest/h:subject1/h:patient")
    identifier = _first(patient, "h:id") if patient is not None else None
    if patient is None or identifier is None or identifier.get("root") not in TEST_OIDS:
        raise HostFault("DMPInvalidRequest", "Requête HL7v3 incomplète : patient et INS de test attendus.")
    matricule = _patient_of(caller, identifier.get("root"), identifier.get("extension"))
    return patient, matricule, identifier.get("root", "")


def _contact(patient: etree._Element) -> tuple[str, str]:
    telecoms = [
        {"value": t.get("value", ""), "use": t.get("use", "")}
        for t in patient.findall(f"{{{HL7}}}patientPerson/{{{HL7}}}telecom")
    ]
    addr = _first(patient, "h:patientPerson/h:addr")
    address = (
        {etree.QName(c).localname: _text(c) for c in addr if isinstance(c.tag, str)}
        if addr is not None
        else {}
    )
    return json.dumps(telecoms, ensure_ascii=False), json.dumps(address, ensure_ascii=False)


def _check_writer(caller: Caller, what: str) -> None:
    """Legacy rules [UNSURE]: any authenticated actor (CPS, CPE at the admissions desk, structure), in
    normal access mode only."""
    if caller.purpose != "normal":
        raise _deny(f"{what} : mode d'accès normal requis.")


def create_dmp(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD1.1 (CREA_RD): refused under the current profile; legacy needs the express consent."""
    reason = _first(payload, "h:controlActProcess/h:reasonCode")
    if reason is None or reason.get("code") != "CREA_RD":
        raise HostFault("DMPInvalidRequest", "PRPA_IN201311UV02 : reasonCode CREA_RD attendu.")
    patient, matricule, oid = _request_patient(payload, caller)
    if not _legacy(store):
        raise _deny(
            "Un professionnel ne peut plus créer de DMP : le patient active son profil Mon espace santé."
        )
    _check_writer(caller, "Création de DMP")
    observations = _observations(patient)
    if not observations.get("CONSENTEMENT_OUVERTURE_DMP", False):
        raise HostFault(
            "DMPInvalidRequest",
            "Création refusée : consentement exprès du patient (CONSENTEMENT_OUVERTURE_DMP) absent.",
        )
    person = _first(patient, "h:patientPerson")
    family = _first(person, "h:name/h:family[@qualifier='BR']") if person is not None else None
    if family is None and person is not None:
        family = _first(person, "h:name/h:family")
    given = _first(person, "h:name/h:given") if person is not None else None
    gender = _first(person, "h:administrativeGenderCode") if person is not None else None
    birth = _first(person, "h:birthTime") if person is not None else None
    if not (_text(family) and _text(given) and gender is not None and birth is not None):
        raise HostFault(
            "DMPInvalidRequest", "Création : nom de naissance, prénom, sexe et date de naissance attendus."
        )
    value = birth.get("value", "")
    birth_date = "-".join(p for p in (value[:4], value[4:6] or "00", value[6:8] or "00"))
    created = store.create_dmp(
        matricule,
        oid,
        (_text(family), _text(given), gender.get("code", ""), birth_date),
        caller.national_id,
        (
            observations.get("OPPOSITION_BRIS_DE_GLACE", False),
            observations.get("OPPOSITION_ACCES_URGENCE", False),
        ),
        _contact(patient),
    )
    error = None if created else ("DMPFound", "Un DMP existe déjà pour ce patient.")
    answer = _registration_answer(
        payload,
        "PRPA_IN201311UV02_Response",
        "PRPA_IN201312UV02" if created else "PRPA_IN201313UV02",
        "CREA_RD",
        matricule,
        oid,
        "active" if created else None,
        error,
    )
    return Reply("urn:hl7-org:v3:PRPA_IN201311ResponseUV02", answer, "TD1.1", matricule)


TRANSACTIONS = {"REAC": "TD1.2", "MODIF_DATA": "TD1.3b", "FERM": "TD1.4"}


def revise_dmp(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD1.2 (REAC), TD1.3b (MODIF_DATA), TD1.4 (FERM) under the host profile."""
    reason_node = _first(payload, "h:controlActProcess/h:reasonCode")
    reason = reason_node.get("code", "") if reason_node is not None else ""
    if reason not in TRANSACTIONS:
        raise HostFault(
            "DMPInvalidRequest", "PRPA_IN201314UV02 : reasonCode REAC, MODIF_DATA ou FERM attendu."
        )
    transaction = TRANSACTIONS[reason]
    patient, matricule, oid = _request_patient(payload, caller)
    what = {
        "REAC": "Réactivation du DMP",
        "MODIF_DATA": "Modification des données de gestion",
        "FERM": "Fermeture du DMP",
    }[reason]
    row = store.patient(matricule)
    if not _legacy(store):
        if reason == "REAC":
            raise _deny("La réactivation d'un DMP par un professionnel n'existe plus (Mon espace santé).")
        if row is not None and row["state"] != "none" and store.mes_attached(matricule):
            raise _deny(f"{what} impossible : ce DMP est rattaché à Mon espace santé, où le patient le gère.")
    _check_writer(caller, what)
    error: tuple[str, str] | None = None
    if row is None or row["state"] == "none":
        error = ("DMPNotFound", "Ce patient n'a pas de DMP.")
    elif reason == "REAC":
        if not store.set_dmp_state(matricule, "active"):
            error = ("DMPInvalidRequest", "Le DMP n'est pas fermé : rien à réactiver.")
    elif row["state"] == "terminated":
        error = ("DMPClosed", "Le DMP de ce patient est fermé.")
    elif reason == "FERM":
        status = _first(patient, "h:statusCode")
        closing = _first(payload, "h:controlActProcess/h:reasonOf/h:detectedIssueEvent/h:code")
        code = closing.get("code", "") if closing is not None else ""
        if status is None or status.get("code") != "terminated" or code not in CLOSING_REASONS:
            raise HostFault(
                "DMPInvalidRequest", "Fermeture : statusCode terminated et motif de fermeture connu attendus."
            )
        store.set_dmp_state(matricule, "terminated", code)
    else:
        observations = _observations(patient)
        store.update_admin_data(
            matricule,
            (
                observations.get("OPPOSITION_BRIS_DE_GLACE", False),
                observations.get("OPPOSITION_ACCES_URGENCE", False),
            ),
            _contact(patient),
        )
    after = store.patient(matricule)
    answer = _registration_answer(
        payload,
        "PRPA_IN201314UV02_Response",
        "PRPA_IN201316UV02" if error else "PRPA_IN201315UV02",
        reason,
        matricule,
        oid,
        after["state"] if after is not None and not error else None,
        error,
    )
    return Reply("urn:hl7-org:v3:PRPA_IN201314ResponseUV02", answer, transaction, matricule)


# --- TD0.5 PDQv3 -------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.upper())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace("'", " ").split())


def find_candidates(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD0.5: régulation mode only (CPS or structure certificate in centre_15, FI-526)."""
    if caller.purpose != "centre_15" or _is_cpe(caller):
        raise _deny("Recherche d'un patient sans INS : mode régulation (centre 15) requis.")
    parameters = _first(payload, "h:controlActProcess/h:queryByParameter/h:parameterList")
    if parameters is None:
        raise HostFault("DMPInvalidRequest", "PRPA_IN201305UV02 : parameterList attendu.")
    family = _normal(_text(_first(parameters, "h:livingSubjectName/h:value/h:family")))
    given = _normal(_text(_first(parameters, "h:livingSubjectName/h:value/h:given")))
    birth = _first(parameters, "h:livingSubjectBirthTime/h:value")
    gender = _first(parameters, "h:livingSubjectAdministrativeGender/h:value")
    birth_value = birth.get("value", "") if birth is not None else ""
    gender_value = gender.get("code", "") if gender is not None else ""
    if not (family or given or birth_value or gender_value):
        raise HostFault("DMPInvalidRequest", "Recherche sans critère.")
    matches = []
    for row in store.dmp_patients():
        if family and _normal(row["birth_name"] or "") != family:
            continue
        if given and given not in _normal(row["first_names"] or "").split(" "):
            continue
        if birth_value and _hl7_date(row["birth_date"] or "") != birth_value:
            continue
        if gender_value and row["sex"] != gender_value:
            continue
        matches.append(row)
    root = _transmission("PRPA_IN201306UV02", payload)
    _acknowledge(root, payload, None)
    act = _el(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code="PRPA_TE201306UV02", codeSystem=INTERACTION_OID)
    for row in matches:
        event = _el(
            _el(act, "subject", typeCode="SUBJ", contextConductionInd="false"),
            "registrationEvent",
            classCode="REG",
            moodCode="EVN",
        )
        _el(event, "statusCode", code="active")
        patient = _el(_el(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
        _el(patient, "id", root=row["oid"], extension=row["matricule"])
        _el(patient, "statusCode", code=row["state"])
        person = _el(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
        name = _el(person, "name")
        _el(name, "given").text = row["first_names"]
        _el(name, "family", qualifier="BR").text = row["birth_name"]
        _el(person, "administrativeGenderCode", code=row["sex"] or "U")
        _el(person, "birthTime", value=_hl7_date(row["birth_date"] or ""))
        match = _el(
            _el(patient, "subjectOf1", typeCode="SBJ"),
            "queryMatchObservation",
            classCode="COND",
            moodCode="EVN",
        )
        _el(match, "code", code="POURCENTAGE")
        value = _el(match, "value", value="100")
        value.set(f"{{{XSI}}}type", "INT")
        observation = _el(
            _el(patient, "subjectOf2", typeCode="SBJ"),
            "administrativeObservation",
            classCode="OBS",
            moodCode="EVN",
        )
        _el(observation, "code", code="OPPOSITION_ACCES_URGENCE", codeSystem=OBSERVATION_CS)
        flag = _el(observation, "value", value="true" if row["opposition_centre_15"] else "false")
        flag.set(f"{{{XSI}}}type", "BL")
        _el(_el(event, "custodian", typeCode="CST"), "assignedEntity", classCode="ASSIGNED").append(
            etree.Element(f"{{{HL7}}}id", root=DMP_DEVICE)
        )
    ack = _el(act, "queryAck")
    query_id = _first(payload, "h:controlActProcess/h:queryByParameter/h:queryId")
    _el(ack, "queryId", **({"root": query_id.get("root", "")} if query_id is not None else {}))
    _el(ack, "queryResponseCode", code="OK" if matches else "NF")
    for tag, count in (
        ("resultTotalQuantity", len(matches)),
        ("resultCurrentQuantity", len(matches)),
        ("resultRemainingQuantity", 0),
    ):
        _el(ack, tag, value=str(count))
    query = _first(payload, "h:controlActProcess/h:queryByParameter")
    if query is not None:
        act.append(etree.fromstring(etree.tostring(query)))
    return Reply("urn:hl7-org:v3:PRPA_IN201306UV02", root, "TD0.5", None)
