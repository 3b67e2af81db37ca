"""Builders and parsers of the administrative transactions (TD0.3 MT, TD0.4, TD0.5, TD1.1–TD1.6).

The proprietary messages are validated against schemas written from the WSDLs' field lists
(tests/admin/data); no HL7v3 PRPA schema is shipped, so the HL7v3 messages are checked field by
field against the official examples' structure.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core import admin
from app.dmp_client.core.admin import (
    AdminReason,
    AuthorizationMode,
    DateType,
    DemographicQuery,
    DmpPatient,
    Gender,
)
from app.dmp_client.core.errors import LocalProtocolError, MalformedResponse, RemoteError
from app.dmp_client.core.habilitations import AuthorizationAction
from app.ins import Ins
from tests.host_fixture import card_actor

DATA = Path(__file__).parent / "data"
H = {"h": "urn:hl7-org:v3"}
INS = Ins.parse("188102B17295165", "1.2.250.1.213.1.4.10")
LPS = "1.2.250.1.999.42.1"


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / name)))


def valid(name: str, element: etree._Element) -> None:
    checker = schema(name)
    assert checker.validate(element), checker.error_log


def patient(**changes: object) -> DmpPatient:
    base = DmpPatient(
        INS,
        "SANTONI",
        "PAUL ANGE",
        Gender.MALE,
        dt.date(1988, 10, 3),
        telecoms=(("tel:0102030405", "HP"),),
        address=admin.Address("1 rue du Port", "20200", "BASTIA", "France"),
        opposition_centre_15=True,
    )
    return base.__class__(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def one(root: etree._Element, path: str) -> str:
    found = root.xpath(f"string({path})", namespaces=H)
    assert isinstance(found, str)
    return found


# --- TD0.4 ------------------------------------------------------------------------------------------


def test_patient_list_request_matches_the_wsdl() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    request = admin.build_patient_list(dt.datetime(2025, 6, 1, 10, 0, tzinfo=paris), DateType.LAST_DOCUMENT)
    valid("si-dmp-patients.xsd", request)
    ns = {"p": "urn:si-dmp-patients"}
    assert request.findtext("p:startDate", namespaces=ns) == "20250601080000"  # UTC
    assert request.findtext("p:dateType", namespaces=ns) == "LASTDOC"


PATIENT_LIST_RESPONSE = """<ns1:patientListResponse xmlns:ns1="urn:si-dmp-patients"><ns1:output>
<ns1:patientlistData>
 <ns1:patientIdentifier><ns1:nationalId>0740724093302701701806</ns1:nationalId>
  <ns1:nationalIdType>1.2.250.1.213.1.4.2</ns1:nationalIdType></ns1:patientIdentifier>
 <ns1:patientIdentifier><ns1:nationalId>207058575627097</ns1:nationalId>
  <ns1:nationalIdType>1.2.250.1.213.1.4.10</ns1:nationalIdType></ns1:patientIdentifier>
 <ns1:lastName>DURAND</ns1:lastName><ns1:firstName>CLAIRE</ns1:firstName>
 <ns1:dateOfBirth>20070514</ns1:dateOfBirth><ns1:MT>true</ns1:MT><ns1:message>false</ns1:message>
 <ns1:lastAccessDate>20210601094105</ns1:lastAccessDate><ns1:lastAddDate>20210525134735</ns1:lastAddDate>
</ns1:patientlistData><ns1:status>DMPOk</ns1:status></ns1:output></ns1:patientListResponse>"""


def test_patient_list_response_as_in_the_official_example() -> None:
    payload = etree.fromstring(PATIENT_LIST_RESPONSE)
    valid("si-dmp-patients.xsd", payload)
    [entry] = admin.parse_patient_list_response(payload)
    assert entry.ins == Ins.parse("207058575627097", "1.2.250.1.213.1.4.10")
    assert entry.other_ids == (("1.2.250.1.213.1.4.2", "0740724093302701701806"),)
    assert entry.treating_doctor and not entry.message
    assert (entry.last_access, entry.last_update, entry.last_add) == (
        "20210601094105",
        None,
        "20210525134735",
    )
    assert "DURAND" not in repr(entry)


def test_patient_list_error_status_and_malformed_answers() -> None:
    refused = PATIENT_LIST_RESPONSE.replace("DMPOk", "DMPAccessDeniedByRightsService")
    with pytest.raises(RemoteError) as caught:
        admin.parse_patient_list_response(etree.fromstring(refused))
    assert caught.value.code == "DMP:DMPAccessDeniedByRightsService"
    for text in (
        '<other xmlns="urn:si-dmp-patients"/>',
        '<patientListResponse xmlns="urn:si-dmp-patients"/>',
        '<patientListResponse xmlns="urn:si-dmp-patients"><output/></patientListResponse>',
        PATIENT_LIST_RESPONSE.replace("<ns1:MT>true", "<ns1:MT>oui"),
    ):
        with pytest.raises(MalformedResponse):
            admin.parse_patient_list_response(etree.fromstring(text))


def test_unqualified_children_are_read_too() -> None:
    text = (
        '<patientListResponse xmlns="urn:si-dmp-patients"><output xmlns=""><patientlistData>'
        "<MT>false</MT><message>true</message></patientlistData><status>DMPOk</status></output>"
        "</patientListResponse>"
    )
    [entry] = admin.parse_patient_list_response(etree.fromstring(text))
    assert entry.ins is None and entry.message


# --- TD1.6 and TD0.3 (médecin traitant) ----------------------------------------------------------------


def test_list_authorizations_request_and_official_response() -> None:
    request = admin.build_list_authorizations(AuthorizationMode.ALL)
    valid("si-dmp-habilitations.xsd", request)
    assert request.findtext("{urn:si-dmp-habilitations}mode") == "TOUTE"
    response = etree.fromstring(
        '<ns1:listAuthorizationByPatientResponse xmlns:ns1="urn:si-dmp-habilitations"><ns1:output>'
        "<ns1:listOfAuthorizationByPatient><ns1:nationalId>899900063480</ns1:nationalId>"
        "<ns1:nationalIdType>1.2.250.1.71.4.2.1</ns1:nationalIdType><ns1:firstName>MAX</ns1:firstName>"
        "<ns1:lastName>LIBRE</ns1:lastName><ns1:codeSpeciality>G15_10/SM26</ns1:codeSpeciality>"
        "<ns1:libSpeciality>Médecin</ns1:libSpeciality>"
        "<ns1:startOfAuthorization>20210601135804</ns1:startOfAuthorization>"
        "<ns1:lastActionDate>20210601140606</ns1:lastActionDate><ns1:mode>ACTIVE</ns1:mode>"
        "<ns1:specificRight>MEDECIN_TRAITANT</ns1:specificRight>"
        "</ns1:listOfAuthorizationByPatient><ns1:status>DMPOk</ns1:status><ns1:context/></ns1:output>"
        "</ns1:listAuthorizationByPatientResponse>"
    )
    valid("si-dmp-habilitations.xsd", response)
    [item] = admin.parse_list_authorizations_response(response)
    assert (item.national_id, item.specialties, item.mode) == ("899900063480", ("G15_10/SM26",), "ACTIVE")
    assert item.treating_doctor


def test_list_authorizations_without_a_professional_id_is_malformed() -> None:
    text = (
        '<listAuthorizationByPatientResponse xmlns="urn:si-dmp-habilitations"><output>'
        "<listOfAuthorizationByPatient/><status>DMPOk</status></output></listAuthorizationByPatientResponse>"
    )
    with pytest.raises(MalformedResponse):
        admin.parse_list_authorizations_response(etree.fromstring(text))


@pytest.mark.parametrize("action", list(AuthorizationAction))
def test_treating_doctor_declaration_carries_the_role(action: AuthorizationAction) -> None:
    request = admin.build_set_treating_doctor(action)
    valid("si-dmp-habilitations.xsd", request)
    ns = {"a": "urn:si-dmp-habilitations"}
    assert request.findtext("a:action", namespaces=ns) == action.value
    assert request.findtext("a:role", namespaces=ns) == "MEDECIN_TRAITANT"


# --- TD0.5 ------------------------------------------------------------------------------------------


def test_find_candidates_request() -> None:
    query = DemographicQuery("SANTONI", "PAUL", dt.date(1988, 10, 3), Gender.MALE)
    root = admin.build_find_candidates(query, LPS)
    assert root.tag == "{urn:hl7-org:v3}PRPA_IN201305UV02"
    assert one(root, "h:interactionId/@extension") == "PRPA_IN201305UV02"
    assert one(root, "h:receiver/h:device/h:id/@root") == "1.2.250.1.213.4.1.1.1"
    assert one(root, "h:sender/h:device/h:id/@root") == LPS
    assert one(root, "h:controlActProcess/h:code/@code") == "PRPA_TE201305UV02"
    params = root.xpath("h:controlActProcess/h:queryByParameter/h:parameterList/*", namespaces=H)
    assert [etree.QName(p).localname for p in params] == [
        "livingSubjectAdministrativeGender",
        "livingSubjectBirthTime",
        "livingSubjectName",
    ]
    assert one(params[1], "h:value/@value") == "19881003"
    assert one(params[2], "h:value/h:family") == "SANTONI"
    assert one(params[2], "h:semanticsText") == "LivingSubject.name"
    assert "SANTONI" not in repr(query)


def test_find_candidates_needs_a_criterion_and_a_well_formed_date() -> None:
    with pytest.raises(LocalProtocolError):
        admin.build_find_candidates(DemographicQuery(), LPS)
    with pytest.raises(LocalProtocolError):
        admin.build_find_candidates(DemographicQuery(birth_date="1988-10"), LPS)
    partial = admin.build_find_candidates(DemographicQuery(birth_date="198810"), LPS)
    assert one(partial, "//h:livingSubjectBirthTime/h:value/@value") == "198810"


PDQ_RESPONSE = """<PRPA_IN201306UV02 xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<acknowledgement><typeCode code="AA"/></acknowledgement>
<controlActProcess><subject><registrationEvent><subject1><patient>
 <id extension="157069329642881" root="1.2.250.1.213.1.4.10"/>
 <id extension="1418878867934420256667" root="1.2.250.1.213.1.4.2"/>
 <statusCode code="active"/>
 <patientPerson><name><given>IRENE</given><family qualifier="SP">ENCHAINE</family>
 <family qualifier="BR">DECHAINE</family></name><administrativeGenderCode code="F"/>
 <birthTime value="19570628"/></patientPerson>
 <subjectOf1><queryMatchObservation><code code="POURCENTAGE"/><value value="100" xsi:type="INT"/>
 </queryMatchObservation></subjectOf1>
 <subjectOf2><administrativeObservation><code code="OPPOSITION_ACCES_URGENCE"/>
 <value value="false" xsi:type="BL"/></administrativeObservation></subjectOf2>
</patient></subject1></registrationEvent></subject>
<queryAck><queryResponseCode code="OK"/></queryAck></controlActProcess></PRPA_IN201306UV02>"""


def test_find_candidates_response_as_in_the_official_example() -> None:
    [candidate] = admin.parse_find_candidates_response(etree.fromstring(PDQ_RESPONSE))
    assert candidate.ins is not None and candidate.ins.matricule.value == "157069329642881"
    assert candidate.other_ids == (("1.2.250.1.213.1.4.2", "1418878867934420256667"),)
    assert (candidate.birth_names, candidate.used_names, candidate.given) == (
        ("DECHAINE",),
        ("ENCHAINE",),
        ("IRENE",),
    )
    assert (candidate.gender, candidate.birth_date, candidate.match) == ("F", "19570628", 100)
    assert candidate.observations == {"OPPOSITION_ACCES_URGENCE": False}
    assert "DECHAINE" not in repr(candidate)


def test_find_candidates_nothing_found_and_errors() -> None:
    none = PDQ_RESPONSE.replace('code="OK"', 'code="NF"')
    assert admin.parse_find_candidates_response(etree.fromstring(none)) == []
    refused = PDQ_RESPONSE.replace(
        '<acknowledgement><typeCode code="AA"/>',
        '<acknowledgement typeCode="AE"><acknowledgementDetail><code code="DMPAccessDeniedByRightsService"/>'
        "<text>mode</text></acknowledgementDetail>",
    )
    with pytest.raises(RemoteError) as caught:
        admin.parse_find_candidates_response(etree.fromstring(refused))
    assert caught.value.dmp_code == "DMPAccessDeniedByRightsService"
    for text in (
        '<PRPA_IN201308UV02 xmlns="urn:hl7-org:v3"/>',
        '<PRPA_IN201306UV02 xmlns="urn:hl7-org:v3"/>',
        PDQ_RESPONSE.replace('code="OK"', 'code="QE"'),
    ):
        with pytest.raises(MalformedResponse):
            admin.parse_find_candidates_response(etree.fromstring(text))


# --- TD1.1 / TD1.2 / TD1.3b / TD1.4 -----------------------------------------------------------------


def test_create_request_structure() -> None:
    actor = card_actor("generaliste")
    root = admin.build_create_dmp(patient(), actor, LPS, consent=True)
    assert root.tag == "{urn:hl7-org:v3}PRPA_IN201311UV02"
    act = "h:controlActProcess"
    assert one(root, f"{act}/h:reasonCode/@code") == "CREA_RD"
    assert one(root, f"{act}/h:reasonCode/@codeSystem") == "1.2.250.1.213.1.1.4.11"
    request = f"{act}/h:subject/h:registrationRequest"
    assert one(root, f"{request}/@moodCode") == "RQO"
    pat = f"{request}/h:subject1/h:patient"
    assert (one(root, f"{pat}/h:id/@root"), one(root, f"{pat}/h:id/@extension")) == (
        "1.2.250.1.213.1.4.10",
        "188102B17295165",
    )
    assert one(root, f"{pat}/h:statusCode/@code") == "active"
    person = f"{pat}/h:patientPerson"
    assert [etree.QName(c).localname for c in root.xpath(f"{person}/*", namespaces=H)] == [
        "name",
        "telecom",
        "administrativeGenderCode",
        "birthTime",
        "addr",
    ]
    assert one(root, f"{person}/h:name/h:family[@qualifier='BR']") == "SANTONI"
    assert one(root, f"{person}/h:birthTime/@value") == "19881003"
    observations = {
        one(o, "h:code/@code"): one(o, "h:value/@value")
        for o in root.xpath(f"{pat}/h:subjectOf/h:administrativeObservation", namespaces=H)
    }
    assert observations == {
        "CONSENTEMENT_OUVERTURE_DMP": "true",
        "OPPOSITION_BRIS_DE_GLACE": "false",
        "OPPOSITION_ACCES_URGENCE": "true",
    }
    assert one(root, f"{request}/h:author/h:assignedEntity/h:id/@extension") == actor.national_id
    assert one(root, f"{request}/h:author/h:assignedEntity/h:representedOrganization/h:id/@extension") == (
        actor.structure_id
    )
    assert "SANTONI" not in repr(patient())


def test_close_request_as_in_the_official_example() -> None:
    root = admin.build_revise_dmp(AdminReason.CLOSE, INS, card_actor("generaliste"), LPS)
    assert root.tag == "{urn:hl7-org:v3}PRPA_IN201314UV02"
    assert one(root, "h:controlActProcess/h:reasonCode/@code") == "FERM"
    pat = "h:controlActProcess/h:subject/h:registrationRequest/h:subject1/h:patient"
    assert one(root, f"{pat}/h:statusCode/@code") == "terminated"
    issue = "h:controlActProcess/h:reasonOf/h:detectedIssueEvent"
    assert one(root, f"{issue}/h:code/@code") == "FERMETURE_DEMANDE_PATIENT"
    assert one(root, f"{issue}/h:code/@codeSystem") == "1.2.250.1.213.4.1.2.4"


def test_modify_and_reactivate_requests() -> None:
    actor = card_actor("generaliste")
    modify = admin.build_revise_dmp(AdminReason.MODIFY, INS, actor, LPS, data=patient())
    assert one(modify, "h:controlActProcess/h:reasonCode/@code") == "MODIF_DATA"
    assert len(modify.xpath("//h:administrativeObservation", namespaces=H)) == 2  # no consent here
    reactivate = admin.build_revise_dmp(AdminReason.REACTIVATE, INS, actor, LPS)
    assert one(reactivate, "h:controlActProcess/h:reasonCode/@code") == "REAC"
    assert not reactivate.xpath("//h:reasonOf", namespaces=H)
    with pytest.raises(LocalProtocolError):
        admin.build_revise_dmp(AdminReason.MODIFY, INS, actor, LPS)
    with pytest.raises(LocalProtocolError):
        admin.build_revise_dmp(AdminReason.CREATE, INS, actor, LPS)
    other = Ins.parse("207058575627097", "1.2.250.1.213.1.4.10")
    with pytest.raises(LocalProtocolError):
        admin.build_revise_dmp(AdminReason.MODIFY, other, actor, LPS, data=patient())


CLOSE_RESPONSE = """<ns2:PRPA_IN201314UV02_Response xmlns="urn:hl7-org:v3" xmlns:ns2="asip:ci-sis:gdp:2010">
<PRPA_IN201315UV02 ITSVersion="XML_1.0"><acknowledgement typeCode="AA"><targetMessage><id root="1"/>
</targetMessage></acknowledgement><controlActProcess classCode="CACT" moodCode="EVN">
<reasonCode code="FERM"/><subject><registrationEvent><statusCode code="completed"/><subject1><patient>
<statusCode code="terminated"/></patient></subject1></registrationEvent></subject></controlActProcess>
</PRPA_IN201315UV02></ns2:PRPA_IN201314UV02_Response>"""


def test_revise_response_as_in_the_official_example() -> None:
    result = admin.parse_revise_dmp_response(etree.fromstring(CLOSE_RESPONSE))
    assert (result.interaction, result.reason, result.patient_status) == (
        "PRPA_IN201315UV02",
        "FERM",
        "terminated",
    )


def test_create_rejected_with_dmp_found() -> None:
    text = (
        '<gdp:PRPA_IN201311UV02_Response xmlns="urn:hl7-org:v3" xmlns:gdp="asip:ci-sis:gdp:2010">'
        '<PRPA_IN201313UV02><acknowledgement typeCode="AE"><acknowledgementDetail><code code="DMPFound"/>'
        "<text>existe</text></acknowledgementDetail></acknowledgement></PRPA_IN201313UV02>"
        "</gdp:PRPA_IN201311UV02_Response>"
    )
    with pytest.raises(RemoteError) as caught:
        admin.parse_create_dmp_response(etree.fromstring(text))
    assert caught.value.dmp_code == "DMPFound" and "existe déjà" in caught.value.user_message
    with pytest.raises(MalformedResponse):
        admin.parse_create_dmp_response(etree.fromstring(CLOSE_RESPONSE))
