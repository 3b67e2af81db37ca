"""TD0.2 / TD1.3a messages: the request's documented fields and every response shape."""

from __future__ import annotations

import pytest
from lxml import etree

from app.dmp_client.core.errors import MalformedResponse, RemoteError
from app.dmp_client.core.hl7v3 import (
    DmpState,
    Reason,
    build_get_demographics,
    parse_get_demographics_response,
)
from tests.dmp_client.helpers import TEST_INS

H = "urn:hl7-org:v3"


def test_request_fields() -> None:
    root = build_get_demographics(TEST_INS, "1.2.250.1.999.42.1", Reason.TEST_EXISTENCE)
    ns = {"h": H}
    assert root.xpath("string(h:controlActProcess/h:reasonCode/@code)", namespaces=ns) == "TEST_EXST"
    assert (
        root.xpath("string(h:controlActProcess/h:reasonCode/@codeSystem)", namespaces=ns)
        == "1.2.250.1.213.1.1.4.11"
    )
    value = root.xpath(
        "h:controlActProcess/h:queryByParameter/h:parameterList/h:patientIdentifier/h:value", namespaces=ns
    )[0]
    assert (value.get("root"), value.get("extension")) == ("1.2.250.1.213.1.4.10", "207058575627097")
    assert root.xpath("string(h:receiver/h:device/h:id/@root)", namespaces=ns) == "1.2.250.1.213.4.1.1.1"
    assert root.xpath("string(h:sender/h:device/h:id/@root)", namespaces=ns) == "1.2.250.1.999.42.1"
    assert root.xpath("string(h:acceptAckCode/@code)", namespaces=ns) == "AL"


def response(inner: str, ack: str = "AA", lines: str = "") -> etree._Element:
    return etree.fromstring(
        f'<PRPA_IN201308UV02 xmlns="{H}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{lines}'
        f'<acknowledgement typeCode="{ack}"><acknowledgementDetail><code code="DMPClosed"/>'
        f"<text>DMP fermé</text></acknowledgementDetail></acknowledgement>"
        f'<controlActProcess classCode="CACT" moodCode="EVN">{inner}</controlActProcess></PRPA_IN201308UV02>'
    )


OK_PATIENT = (
    '<subject><registrationEvent><statusCode code="active"/><subject1><patient><statusCode code="active"/>'
    '<subjectOf1><administrativeObservation><code code="OPPOSITION_BRIS_DE_GLACE"/>'
    '<value xsi:type="BL" value="true"/>'
    "</administrativeObservation></subjectOf1></patient></subject1></registrationEvent></subject>"
    '<queryAck><queryResponseCode code="OK"/></queryAck>'
)
LINES = (
    '<attentionLine><keyWordText code="AUTORISATION"/><value code="VALIDE"/></attentionLine>'
    '<attentionLine><keyWordText code="STATUT_MT"/><value value="true"/></attentionLine>'
)


def test_active_authorised_treating_doctor_with_observations() -> None:
    status = parse_get_demographics_response(response(OK_PATIENT, lines=LINES))
    assert status.state is DmpState.ACTIVE and status.authorized and status.treating_doctor
    assert status.observations == {"OPPOSITION_BRIS_DE_GLACE": True}


def test_no_dmp() -> None:
    status = parse_get_demographics_response(response('<queryAck><queryResponseCode code="NF"/></queryAck>'))
    assert status.state is DmpState.NONE and not status.exists and not status.authorized


def test_error_acknowledgement_carries_the_dmp_code() -> None:
    with pytest.raises(RemoteError) as caught:
        parse_get_demographics_response(response("", ack="AE"))
    assert caught.value.dmp_code == "DMPClosed" and caught.value.code == "DMP:DMPClosed"
    assert "fermé" in caught.value.user_message


@pytest.mark.parametrize(
    "payload",
    [
        '<other xmlns="urn:hl7-org:v3"/>',
        f'<PRPA_IN201308UV02 xmlns="{H}"><controlActProcess/></PRPA_IN201308UV02>',
    ],
)
def test_malformed_responses(payload: str) -> None:
    with pytest.raises(MalformedResponse):
        parse_get_demographics_response(etree.fromstring(payload))


def test_unknown_query_response_code_and_status() -> None:
    with pytest.raises(MalformedResponse):
        parse_get_demographics_response(response('<queryAck><queryResponseCode code="QE"/></queryAck>'))
    with pytest.raises(MalformedResponse):
        parse_get_demographics_response(
            response(
                OK_PATIENT.replace(
                    '<statusCode code="active"/><subjectOf1', '<statusCode code="nullified"/><subjectOf1'
                )
            )
        )
