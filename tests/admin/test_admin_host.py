"""The administrative transactions end to end against the in-process sandbox host, both profiles.

Every envelope exchanged is validated against the SOAP/WS-A/WSS/SAML driver schema, the proprietary
bodies against the WSDL-derived schemas; each refusal of the rights matrix is checked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.client import DmpClient
from app.dmp_client.core import admin
from app.dmp_client.core.admin import (
    AdminReason,
    AuthorizationMode,
    ConsentRequired,
    DateType,
    DemographicQuery,
    DmpPatient,
    Gender,
    RegulationOnly,
)
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.errors import RemoteError, SoapFault
from app.dmp_client.core.hl7v3 import DmpState
from app.ins import Ins
from sandbox.host.server import DmpHost
from tests.dmp_client.helpers import envelope_schema
from tests.host_fixture import DirectClient

TEST = "1.2.250.1.213.1.4.10"
P01, P02, P03, P05, P07 = (
    "207058575627097",
    "188102B17295165",
    "150081505104018",
    "169039924304295",
    "256104410907756",
)
DATA = Path(__file__).parent / "data"
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def ins(matricule: str) -> Ins:
    return Ins.parse(matricule, TEST)


def santoni(**changes: object) -> DmpPatient:
    values: dict[str, object] = {
        "ins": ins(P02),
        "birth_name": "SANTONI",
        "given": "PAUL ANGE",
        "gender": Gender.MALE,
        "birth_date": dt.date(1988, 10, 3),
        "telecoms": (("tel:0102030405", "HP"),),
    }
    return DmpPatient(**{**values, **changes})  # type: ignore[arg-type]


def denied(caught: pytest.ExceptionInfo[SoapFault]) -> bool:
    return caught.value.subcode == "DMPAccessDeniedByRightsService"


def check_recordings(host: DmpHost) -> None:
    folder = host.config.record_dir
    assert folder is not None
    envelope = envelope_schema()
    bodies = {
        "urn:si-dmp-patients": etree.XMLSchema(etree.parse(str(DATA / "si-dmp-patients.xsd"))),
        "urn:si-dmp-habilitations": etree.XMLSchema(etree.parse(str(DATA / "si-dmp-habilitations.xsd"))),
    }
    for path in sorted(folder.glob("*.xml")):
        message = etree.fromstring(path.read_bytes())
        assert envelope.validate(message), (path.name, envelope.error_log)
        body = message.find("{http://www.w3.org/2003/05/soap-envelope}Body")
        assert body is not None
        for child in body:
            schema = bodies.get(etree.QName(child).namespace or "")
            if schema is not None:
                assert schema.validate(child), (path.name, schema.error_log)


# --- TD0.4 ------------------------------------------------------------------------------------------


def test_patient_list_of_the_treating_doctor(host: DmpHost, direct_client: DirectClient) -> None:
    doctor = direct_client(host, "generaliste")
    entries = doctor.list_patients(LONG_AGO)
    assert {e.ins.matricule.value for e in entries if e.ins} == {P01, P03, "285127505612353"}
    assert all(e.treating_doctor for e in entries)
    assert doctor.list_patients(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == []
    check_recordings(host)


def test_patient_list_new_documents(host: DmpHost, direct_client: DirectClient) -> None:
    entries = direct_client(host, "generaliste").list_patients(LONG_AGO, DateType.LAST_DOCUMENT)
    assert all(e.last_add for e in entries)  # only DMPs with documents (none when no document store)


def test_patient_list_for_a_cpe_covers_its_structure(host: DmpHost, direct_client: DirectClient) -> None:
    direct_client(host, "specialiste").set_authorization(ins(P07))
    entries = direct_client(host, "secretaire").list_patients(LONG_AGO)
    assert P07 in {e.ins.matricule.value for e in entries if e.ins}


def test_patient_list_with_a_structure_certificate(structure_client: DmpClient) -> None:
    assert isinstance(structure_client.list_patients(LONG_AGO), list)
    with pytest.raises(SoapFault) as caught:
        structure_client.list_patients(LONG_AGO, DateType.LAST_DOCUMENT)
    assert denied(caught)


# --- TD0.5 ------------------------------------------------------------------------------------------


def test_find_patient_in_regulation_mode(host: DmpHost, direct_client: DirectClient) -> None:
    regulator = direct_client(host, "generaliste", Purpose.CENTRE_15)
    [found] = regulator.find_patients(DemographicQuery("le goff", birth_date=dt.date(1956, 10, 30)))
    assert found.ins == ins(P07) and found.observations == {"OPPOSITION_ACCES_URGENCE": True}
    assert found.match == 100 and found.birth_names == ("LE GOFF",)
    assert regulator.find_patients(DemographicQuery("SANTONI")) == []  # no DMP, nothing to find
    [petit] = regulator.find_patients(DemographicQuery("PETIT", "ELODIE", gender=Gender.FEMALE))
    assert petit.ins == ins("285127505612353")
    check_recordings(host)


def test_find_patient_with_a_structure_certificate_in_regulation(structure_client: DmpClient) -> None:
    assert structure_client.with_purpose(Purpose.CENTRE_15).find_patients(DemographicQuery("DURAND"))


def test_find_patient_outside_regulation_is_refused(host: DmpHost, direct_client: DirectClient) -> None:
    doctor = direct_client(host, "generaliste")
    with pytest.raises(RegulationOnly):
        doctor.find_patients(DemographicQuery("DURAND"))
    payload = admin.build_find_candidates(DemographicQuery("DURAND"), doctor.session.sender_oid)
    with pytest.raises(SoapFault) as caught:  # sent anyway: the host refuses it too
        doctor._exchange(
            "patients",
            admin.ACTION_FIND_CANDIDATES,
            admin.ACTION_FIND_CANDIDATES_RESPONSE,
            payload,
            None,
            10,
            idempotent=True,
        )
    assert denied(caught)
    cpe = direct_client(host, "secretaire", Purpose.CENTRE_15)
    with pytest.raises(SoapFault) as caught:
        cpe.find_patients(DemographicQuery("DURAND"))
    assert denied(caught)


# --- TD1.6 and TD0.3 médecin traitant -------------------------------------------------------------------


def test_list_authorizations(host: DmpHost, direct_client: DirectClient) -> None:
    doctor = direct_client(host, "generaliste")
    [mt] = doctor.list_authorizations(ins(P01))
    assert mt.national_id == "899900012341" and mt.treating_doctor and mt.specialties == ("G15_10/SM54",)
    direct_client(host, "infirmier").set_authorization(ins(P01))
    listed = doctor.list_authorizations(ins(P01), AuthorizationMode.ACTIVE)
    assert [a.national_id for a in listed] == ["899900012341", "899900012343"]
    assert doctor.list_authorizations(ins(P01), AuthorizationMode.BLOCKED) == []
    check_recordings(host)


def test_list_authorizations_refusals(
    host: DmpHost, direct_client: DirectClient, structure_client: DmpClient
) -> None:
    for client in (
        structure_client,  # indirect
        direct_client(host, "generaliste", Purpose.BREAK_GLASS),  # not normal mode
        direct_client(host, "specialiste"),  # not authorised on this DMP
    ):
        with pytest.raises(SoapFault) as caught:
            client.list_authorizations(ins(P01))
        assert denied(caught)
    with pytest.raises(SoapFault) as closed:
        direct_client(host, "generaliste").list_authorizations(ins(P05))
    assert closed.value.subcode == "DMPClosed"


def test_declare_then_withdraw_as_treating_doctor(host: DmpHost, direct_client: DirectClient) -> None:
    cardiologist = direct_client(host, "specialiste")
    assert cardiologist.set_treating_doctor(ins(P07)).status == "DMPOk"
    status = cardiologist.status(ins(P07))
    assert status.treating_doctor and status.authorized
    cardiologist.set_treating_doctor(ins(P07), declare=False)
    assert not cardiologist.status(ins(P07)).treating_doctor
    with pytest.raises(SoapFault) as caught:  # only the MT may withdraw as MT
        cardiologist.set_treating_doctor(ins(P01), declare=False)
    assert denied(caught)
    check_recordings(host)


def test_treating_doctor_refusals(
    host: DmpHost, direct_client: DirectClient, structure_client: DmpClient
) -> None:
    for client in (
        direct_client(host, "infirmier"),  # not a physician
        direct_client(host, "generaliste", Purpose.CENTRE_15),
        structure_client,
    ):
        with pytest.raises(SoapFault) as caught:
            client.set_treating_doctor(ins(P07))
        assert denied(caught)


# --- TD1.1 to TD1.4, current profile (Mon espace santé) ----------------------------------------------


def test_current_profile_refuses_creation_reactivation_and_attached_dmps(
    host: DmpHost, direct_client: DirectClient
) -> None:
    doctor = direct_client(host, "generaliste")
    for call in (
        lambda: doctor.create_dmp(santoni(), consent=True),
        lambda: doctor.reactivate_dmp(ins(P05)),
        lambda: doctor.update_admin_data(santoni(ins=ins(P03), birth_name="BERNARD", given="JEAN")),
        lambda: doctor.close_dmp(ins(P03)),
    ):
        with pytest.raises(SoapFault) as caught:
            call()
        assert denied(caught)
    assert host.store.journal_rows(1)[0]["result"] == "refus DMPAccessDeniedByRightsService"
    assert doctor.status(ins(P03)).state is DmpState.ACTIVE
    check_recordings(host)


def test_creation_needs_consent_on_the_client(host: DmpHost, direct_client: DirectClient) -> None:
    with pytest.raises(ConsentRequired):
        direct_client(host, "generaliste").create_dmp(santoni(), consent=False)


# --- TD1.1 to TD1.4, legacy profile --------------------------------------------------------------------


def test_legacy_life_cycle(legacy_host: DmpHost, direct_client: DirectClient) -> None:
    doctor = direct_client(legacy_host, "generaliste")
    assert doctor.status(ins(P02)).state is DmpState.NONE
    created = doctor.create_dmp(santoni(opposition_break_glass=True), consent=True)
    assert (created.interaction, created.patient_status) == ("PRPA_IN201312UV02", "active")
    status = doctor.admin_data(ins(P02))
    assert status.state is DmpState.ACTIVE and status.authorized  # the creator is authorised
    assert status.observations["OPPOSITION_BRIS_DE_GLACE"]
    assert not legacy_host.store.mes_attached(P02)
    with pytest.raises(RemoteError) as found:
        doctor.create_dmp(santoni(), consent=True)
    assert found.value.dmp_code == "DMPFound"
    updated = doctor.update_admin_data(santoni(opposition_centre_15=True, telecoms=()))
    assert updated.reason == "MODIF_DATA"
    assert doctor.admin_data(ins(P02)).observations["OPPOSITION_ACCES_URGENCE"]
    closed = doctor.close_dmp(ins(P02))
    assert closed.patient_status == "terminated"
    status = doctor.status(ins(P02))
    assert status.state is DmpState.CLOSED and status.closing_reason == "FERMETURE_DEMANDE_PATIENT"
    with pytest.raises(RemoteError) as already:
        doctor.close_dmp(ins(P02))
    assert already.value.dmp_code == "DMPClosed"
    reactivated = doctor.reactivate_dmp(ins(P02))
    assert reactivated.patient_status == "active"
    assert doctor.status(ins(P02)).state is DmpState.ACTIVE
    check_recordings(legacy_host)


def test_legacy_refusals(
    legacy_host: DmpHost, direct_client: DirectClient, legacy_structure_client: DmpClient
) -> None:
    doctor = direct_client(legacy_host, "generaliste")
    no_consent = admin.build_create_dmp(
        santoni(), doctor.session.actor, doctor.session.sender_oid, consent=False
    )
    with pytest.raises(SoapFault) as caught:
        doctor._exchange(
            "patients",
            admin.ACTION_ADD_PATIENT,
            admin.ACTION_ADD_PATIENT_RESPONSE,
            no_consent,
            ins(P02),
            10,
            idempotent=False,
        )
    assert caught.value.subcode == "DMPInvalidRequest" and "consentement" in caught.value.reason
    with pytest.raises(SoapFault) as caught:
        direct_client(legacy_host, "generaliste", Purpose.BREAK_GLASS).close_dmp(ins(P03))
    assert denied(caught)
    with pytest.raises(RemoteError) as active:
        doctor.reactivate_dmp(ins(P03))
    assert active.value.dmp_code == "DMPInvalidRequest"
    with pytest.raises(RemoteError) as missing:
        doctor.close_dmp(ins(P02))
    assert missing.value.dmp_code == "DMPNotFound"
    # A structure (hospital admissions) may create a DMP in the legacy profile.
    assert legacy_structure_client.create_dmp(santoni(), consent=True).patient_status == "active"


def test_request_patient_must_be_the_vihf_patient(legacy_host: DmpHost, direct_client: DirectClient) -> None:
    doctor = direct_client(legacy_host, "generaliste")
    payload = admin.build_revise_dmp(AdminReason.CLOSE, ins(P03), doctor.session.actor, "1.2.3")
    with pytest.raises(SoapFault) as caught:
        doctor._exchange(
            "patients",
            admin.ACTION_REVISE_PATIENT,
            admin.ACTION_REVISE_PATIENT_RESPONSE,
            payload,
            ins(P01),
            10,
            idempotent=False,
        )
    assert caught.value.subcode == "XDSPatientIdDoesNotMatch"
