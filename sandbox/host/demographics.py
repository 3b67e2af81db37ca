"""TD0.2 / TD1.3a: the HL7v3 get demographics (PRPA_IN201307UV02 → PRPA_IN201308UV02)."""

from __future__ import annotations

import datetime as dt
import uuid

from lxml import etree

from sandbox.host.faults import HostFault
from sandbox.host.reply import Reply, vihf_patient
from sandbox.host.store import Store
from sandbox.host.vihf import Caller

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
H = {"h": HL7}


def _el(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{HL7}}}{tag}", attrib=attributes)


def _first(node: etree._Element, path: str) -> etree._Element | None:
    found = node.xpath(path, namespaces=H)
    return found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None


def get_demographics(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """PRPA_IN201307UV02 (TEST_EXST for TD0.2, CNSLT_DATA for TD1.3a) → PRPA_IN201308UV02."""
    reason = _first(payload, "h:controlActProcess/h:reasonCode")
    value = _first(
        payload, "h:controlActProcess/h:queryByParameter/h:parameterList/h:patientIdentifier/h:value"
    )
    if reason is None or value is None or reason.get("code") not in ("TEST_EXST", "CNSLT_DATA"):
        raise HostFault(
            "DMPInvalidRequest", "Requête HL7v3 incomplète : reasonCode et patientIdentifier attendus."
        )
    if value.get("root") != caller.patient_oid:
        raise HostFault("XDSPatientIdDoesNotMatch", "L'OID de l'INS de la requête diffère de celui du VIHF.")
    matricule = vihf_patient(caller, value.get("extension"))
    transaction = "TD0.2" if reason.get("code") == "TEST_EXST" else "TD1.3a"
    row = store.patient(matricule)
    response = _response_skeleton(payload)
    act = response.find(f"{{{HL7}}}controlActProcess")
    assert act is not None
    if row is None or row["state"] == "none":
        _query_ack(act, payload, "NF")
        return Reply("urn:hl7-org:v3:PRPA_IN201308UV02", response, transaction, matricule)
    authorized = store.is_authorized(matricule, caller.national_id)
    is_mt = store.treating_doctor(matricule) == caller.national_id
    _attention(response, "AUTORISATION", "1.2.250.1.213.4.1.2.6.1", authorized)
    _attention_bl(response, "STATUT_MT", "1.2.250.1.213.4.1.2.6.3", is_mt)
    subject = _el(act, "subject", typeCode="SUBJ")
    event = _el(subject, "registrationEvent", classCode="REG", moodCode="EVN")
    _el(event, "statusCode", code="active")
    if row["state"] == "terminated" and row["closed_on"]:
        _el(event, "effectiveTime", value=row["closed_on"])
    subject1 = _el(event, "subject1", typeCode="SBJ")
    patient = _el(subject1, "patient", classCode="PAT")
    _el(patient, "id", root=row["oid"], extension=matricule)
    _el(patient, "statusCode", code=row["state"])
    person = _el(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
    name = _el(person, "name")
    _el(name, "family", qualifier="BR").text = row["birth_name"]
    _el(name, "given").text = row["first_names"]
    _el(person, "administrativeGenderCode", code=row["sex"], codeSystem="2.16.840.1.113883.5.1")
    _el(person, "birthTime", value=_hl7_date(row["birth_date"]))
    for code, flag in (
        ("OPPOSITION_BRIS_DE_GLACE", row["opposition_bris_de_glace"]),
        ("OPPOSITION_ACCES_URGENCE", row["opposition_centre_15"]),
        ("RATTACHEMENT_ENS", 1),
    ):
        if transaction == "TD1.3a" or code == "RATTACHEMENT_ENS":
            observation = _el(
                _el(patient, "subjectOf1", typeCode="SBJ"),
                "administrativeObservation",
                classCode="OBS",
                moodCode="EVN",
            )
            _el(observation, "code", code=code, codeSystem="1.2.250.1.213.4.1.2.3")
            bl = _el(observation, "value", value="true" if flag else "false")
            bl.set(f"{{{XSI}}}type", "BL")
    if row["state"] == "terminated" and row["closing_reason"]:
        issue = _el(
            _el(act, "reasonOf", typeCode="RSON"), "detectedIssueEvent", classCode="ALRT", moodCode="EVN"
        )
        _el(issue, "code", code=row["closing_reason"], codeSystem="1.2.250.1.213.4.1.2.4")
    _query_ack(act, payload, "OK")
    store.record_first_access(matricule, caller.national_id)
    return Reply("urn:hl7-org:v3:PRPA_IN201308UV02", response, transaction, matricule)


def _hl7_date(iso: str) -> str:
    """``1969-03-00`` → ``196903``: HL7 TS with the precision that is known."""
    parts = iso.split("-")
    while len(parts) > 1 and parts[-1] == "00":
        parts.pop()
    return "".join(parts)


def _response_skeleton(request: etree._Element) -> etree._Element:
    response = etree.Element(
        f"{{{HL7}}}PRPA_IN201308UV02", nsmap={None: HL7, "xsi": XSI}, ITSVersion="XML_1.0"
    )
    _el(response, "id", root=str(uuid.uuid4()))
    _el(response, "creationTime", value=dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S"))
    _el(response, "interactionId", root="2.16.840.1.113883.1.6", extension="PRPA_IN201308UV02")
    _el(response, "processingCode", code="P")
    _el(response, "processingModeCode", code="T")
    _el(response, "acceptAckCode", code="NE")
    ack = _el(response, "acknowledgement", typeCode="AA")
    target = _el(ack, "targetMessage")
    request_id = request.find(f"{{{HL7}}}id")
    _el(target, "id", root=request_id.get("root", "") if request_id is not None else "")
    act = _el(response, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code="PRPA_TE201308UV02", codeSystem="2.16.840.1.113883.1.6")
    return response


def _attention(response: etree._Element, key: str, code_system: str, authorized: bool) -> None:
    line = etree.Element(f"{{{HL7}}}attentionLine")
    _el(line, "keyWordText", code=key, codeSystem=code_system)
    value = _el(
        line, "value", code="VALIDE" if authorized else "NON_AUTORISE", codeSystem="1.2.250.1.213.4.1.2.6.2"
    )
    value.set(f"{{{XSI}}}type", "CE")
    response.find(f"{{{HL7}}}acceptAckCode").addnext(line)  # type: ignore[union-attr]


def _attention_bl(response: etree._Element, key: str, code_system: str, flag: bool) -> None:
    line = etree.Element(f"{{{HL7}}}attentionLine")
    _el(line, "keyWordText", code=key, codeSystem=code_system)
    value = _el(line, "value", value="true" if flag else "false")
    value.set(f"{{{XSI}}}type", "BL")
    anchor = response.findall(f"{{{HL7}}}attentionLine")[-1]
    anchor.addnext(line)


def _query_ack(act: etree._Element, request: etree._Element, code: str) -> None:
    ack = _el(act, "queryAck")
    query_id = _first(request, "h:controlActProcess/h:queryByParameter/h:queryId")
    _el(ack, "queryId", root=query_id.get("root", "") if query_id is not None else "")
    _el(ack, "queryResponseCode", code=code)
