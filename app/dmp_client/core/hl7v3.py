"""HL7v3 patient messages of the ``patients`` service: TD0.2 (test of existence) and TD1.3a.

Request PRPA_IN201307UV02 with ``reasonCode`` TEST_EXST or CNSLT_DATA (TRE_R271) and the INS as
``patientIdentifier``; response PRPA_IN201308UV02 read as Mediboard and the official examples do:
``acknowledgement@typeCode`` (AA/AE/AR) and its detail code (e.g. DMPClosed), ``queryAck/
queryResponseCode`` (OK / NF), the patient's ``statusCode`` (active / terminated), closing date and
reason, ``attentionLine`` AUTORISATION (value@code) and STATUT_MT (value@value), and the
``administrativeObservation`` flags. The shared spec ships no HL7v3 PRPA schema: these messages are
checked against the documented structure only [UNSURE].
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from app.dmp_client.core.errors import MalformedResponse, RemoteError
from app.dmp_client.core.ns import HL7V3, XSI, q
from app.ins import Ins

ACTION_GET_DEMOGRAPHICS = "urn:hl7-org:v3:PRPA_IN201307UV02"
ACTION_GET_DEMOGRAPHICS_RESPONSE = "urn:hl7-org:v3:PRPA_IN201308UV02"
DMP_DEVICE_OID = "1.2.250.1.213.4.1.1.1"
REASON_CODE_SYSTEM = "1.2.250.1.213.1.1.4.11"
INTERACTION_OID = "2.16.840.1.113883.1.6"
AUTHORIZATION_KEY = "AUTORISATION"
TREATING_DOCTOR_KEY = "STATUT_MT"


class Reason(StrEnum):
    TEST_EXISTENCE = "TEST_EXST"
    READ_ADMIN_DATA = "CNSLT_DATA"


def _hl7(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, q(HL7V3, tag), attrib=attributes)


def timestamp(moment: dt.datetime) -> str:
    """``yyyyMMddHHmmss`` in UTC (naive values are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y%m%d%H%M%S")


def transmission_wrapper(interaction: str, sender_oid: str, now: dt.datetime | None = None) -> etree._Element:
    """The HL7v3 transmission wrapper of every DMP patient message: id, time, interaction, codes,
    receiver the DMP, sender the LPS."""
    root = etree.Element(q(HL7V3, interaction), nsmap={None: HL7V3, "xsi": XSI}, ITSVersion="XML_1.0")
    _hl7(root, "id", root=str(uuid.uuid4()))
    _hl7(root, "creationTime", value=timestamp(now or dt.datetime.now(dt.UTC)))
    _hl7(root, "interactionId", root=INTERACTION_OID, extension=interaction)
    _hl7(root, "processingCode", code="P")
    _hl7(root, "processingModeCode", code="T")
    _hl7(root, "acceptAckCode", code="AL")
    for role, oid in (("receiver", DMP_DEVICE_OID), ("sender", sender_oid)):
        party = _hl7(root, role, typeCode="RCV" if role == "receiver" else "SND")
        device = _hl7(party, "device", classCode="DEV", determinerCode="INSTANCE")
        _hl7(device, "id", root=oid)
    return root


def build_get_demographics(
    ins: Ins, sender_oid: str, reason: Reason, *, now: dt.datetime | None = None
) -> etree._Element:
    """PRPA_IN201307UV02 for TD0.2 (TEST_EXST) or TD1.3a (CNSLT_DATA)."""
    root = transmission_wrapper("PRPA_IN201307UV02", sender_oid, now)
    act = _hl7(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _hl7(act, "code", code="PRPA_TE201307UV02", codeSystem=INTERACTION_OID)
    _hl7(act, "reasonCode", code=reason.value, codeSystem=REASON_CODE_SYSTEM)
    query = _hl7(act, "queryByParameter")
    _hl7(query, "queryId", root=str(uuid.uuid4()))
    _hl7(query, "statusCode", code="new")
    _hl7(query, "responsePriorityCode", code="I")
    parameters = _hl7(query, "parameterList")
    identifier = _hl7(parameters, "patientIdentifier")
    _hl7(identifier, "value", **ins.to_hl7v3_attributes())
    _hl7(identifier, "semanticsText").text = "Patient.id"
    return root


class DmpState(StrEnum):
    ACTIVE = "active"
    CLOSED = "terminated"
    NONE = "none"


@dataclass(frozen=True)
class DmpStatus:
    """What TD0.2 tells: does the DMP exist, is it open, is this professional authorised, MT."""

    state: DmpState
    authorization: str | None
    treating_doctor: bool
    closed_on: str | None = None
    closing_reason: str | None = None
    observations: dict[str, bool] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.state is not DmpState.NONE

    @property
    def authorized(self) -> bool:
        return self.authorization == "VALIDE"


def _find(root: etree._Element, path: str) -> etree._Element | None:
    found = root.xpath(path, namespaces={"h": HL7V3})
    return found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None


def _attr(root: etree._Element, path: str, name: str) -> str | None:
    node = _find(root, path)
    return node.get(name) if node is not None else None


def parse_get_demographics_response(payload: etree._Element) -> DmpStatus:
    """Read PRPA_IN201308UV02; an AE/AR acknowledgement becomes a RemoteError with the DMP's code."""
    if payload.tag != q(HL7V3, "PRPA_IN201308UV02"):
        raise MalformedResponse("Réponse HL7v3 inattendue (PRPA_IN201308UV02 attendu).")
    ack = _attr(payload, "h:acknowledgement", "typeCode")
    if ack is None:
        raise MalformedResponse("Réponse HL7v3 sans accusé de réception.")
    detail_code = _attr(payload, "h:acknowledgement/h:acknowledgementDetail/h:code", "code")
    detail_node = _find(payload, "h:acknowledgement/h:acknowledgementDetail/h:text")
    detail_text = "".join(detail_node.itertext()).strip() if detail_node is not None else ""
    if ack not in ("AA", "CA"):
        raise RemoteError(detail_code or ack, detail_text)
    response_code = _attr(payload, "h:controlActProcess/h:queryAck/h:queryResponseCode", "code")
    if response_code == "NF":
        return DmpStatus(DmpState.NONE, None, False)
    if response_code != "OK":
        raise MalformedResponse(f"Code de réponse HL7v3 inattendu ({response_code}).")
    patient = "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient"
    status = _attr(payload, f"{patient}/h:statusCode", "code")
    if status not in ("active", "terminated"):
        raise MalformedResponse(f"Statut de DMP inattendu ({status}).")
    observations = {}
    for node in payload.xpath(f"{patient}//h:administrativeObservation", namespaces={"h": HL7V3}):
        code = _attr(node, "h:code", "code")
        value = _attr(node, "h:value", "value")
        if code:
            observations[code] = value == "true"
    return DmpStatus(
        state=DmpState(status),
        authorization=_attr(
            payload, f"h:attentionLine[h:keyWordText/@code='{AUTHORIZATION_KEY}']/h:value", "code"
        ),
        treating_doctor=_attr(
            payload, f"h:attentionLine[h:keyWordText/@code='{TREATING_DOCTOR_KEY}']/h:value", "value"
        )
        == "true",
        closed_on=_attr(
            payload, "h:controlActProcess/h:subject/h:registrationEvent/h:effectiveTime", "value"
        ),
        closing_reason=_attr(payload, "h:controlActProcess/h:reasonOf/h:detectedIssueEvent/h:code", "code"),
        observations=observations,
    )
