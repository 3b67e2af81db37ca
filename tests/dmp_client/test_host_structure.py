"""End to end in indirect mode: the client and the sandbox host over real mutual TLS.

Every message both sides exchange is validated against the official schemas (SOAP 1.2 envelope,
WS-Addressing, WS-Security, SAML 2.0); the host's rules answer with faults shaped like the real ones.
"""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from lxml import etree

from app.dmp_client.client import DmpClient
from app.dmp_client.core.errors import SoapFault
from app.dmp_client.core.hl7v3 import DmpState
from app.dmp_client.errors import HostUnreachable, TlsError
from app.dmp_client.factory import structure_client
from app.ins import Ins
from sandbox import pki
from sandbox.host.server import DmpHost
from tests.dmp_client.helpers import ROOT, envelope_schema, structure_signer
from tests.host_fixture import settings_for

TEST = "1.2.250.1.213.1.4.10"


def ins(matricule: str, oid: str = TEST) -> Ins:
    return Ins.parse(matricule, oid)


def recorded(host: DmpHost) -> list[etree._Element]:
    folder = host.config.record_dir
    assert folder is not None
    return [etree.fromstring(p.read_bytes()) for p in sorted(folder.glob("*.xml"))]


@pytest.mark.parametrize(
    ("matricule", "state"),
    [
        ("150081505104018", DmpState.ACTIVE),
        ("169039924304295", DmpState.CLOSED),
        ("188102B17295165", DmpState.NONE),
    ],
)
def test_status_of_each_kind_of_dmp(
    structure_client: DmpClient, host: DmpHost, matricule: str, state: DmpState
) -> None:
    status = structure_client.status(ins(matricule))
    assert status.state is state
    assert not status.authorized and not status.treating_doctor  # the structure is nobody's MT
    if state is DmpState.CLOSED:
        assert (status.closed_on, status.closing_reason) == ("20250115093000", "FERMETURE_DEMANDE_PATIENT")
    schema = envelope_schema()
    for message in recorded(host):  # the request as received and the response as sent
        assert schema.validate(message), schema.error_log


def test_admin_data_shows_oppositions(structure_client: DmpClient) -> None:
    status = structure_client.admin_data(ins("256104410907756"))
    assert status.observations["OPPOSITION_BRIS_DE_GLACE"] and status.observations["OPPOSITION_ACCES_URGENCE"]


def test_rights_matrix_refuses_authorisation_with_a_structure_certificate(
    structure_client: DmpClient, host: DmpHost
) -> None:
    with pytest.raises(SoapFault) as caught:
        structure_client.set_authorization(ins("150081505104018"))
    assert caught.value.subcode == "DMPAccessDeniedByRightsService"
    assert host.store.journal_rows(1)[0]["result"] == "refus DMPAccessDeniedByRightsService"
    schema = envelope_schema()
    assert all(schema.validate(m) for m in recorded(host))  # the fault too


def test_production_ins_is_refused_by_the_test_platform(structure_client: DmpClient) -> None:
    production = next(o for o in ("1.2.250.1.213.1.4." + n for n in "89") if o != TEST)
    with pytest.raises(SoapFault, match="INS de test"):
        structure_client.status(ins("150081505104018", production))


def test_vihf_signed_with_the_authentication_certificate_is_refused(
    structure_client: DmpClient, pki_dir: Path
) -> None:
    structure_client.signer = structure_signer(pki_dir, "auth")
    with pytest.raises(SoapFault) as caught:
        structure_client.status(ins("150081505104018"))
    assert caught.value.subcode == "DMPInvalidCertificate"
    assert "certificat de signature" in caught.value.user_message


def test_vihf_signed_by_a_foreign_ca_is_refused(structure_client: DmpClient) -> None:
    foreign = pki.make_ca("AC ETRANGERE")
    _, sign = pki.structure_certificates("990000017", "CH DU BAC A SABLE", foreign)
    assert sign.key is not None
    from app.dmp_client.core.signing import SoftwareKeySigner

    structure_client.signer = SoftwareKeySigner(sign.key, sign.certificate)
    with pytest.raises(SoapFault) as caught:
        structure_client.status(ins("150081505104018"))
    assert caught.value.subcode == "DMPInvalidCertificate"


def test_missing_homologation_number_is_refused(structure_client: DmpClient) -> None:
    structure_client.session = replace(
        structure_client.session, software=replace(structure_client.session.software, homologation="")
    )
    with pytest.raises(SoapFault, match="LPS_ID_HOMOLOGATION_DMP"):
        structure_client.status(ins("150081505104018"))


def test_wrong_structure_is_refused(structure_client: DmpClient) -> None:
    actor = replace(structure_client.session.actor, structure_id="1990000099")
    structure_client.session = replace(structure_client.session, actor=actor)
    with pytest.raises(SoapFault, match="Structure introuvable"):
        structure_client.status(ins("150081505104018"))


def test_untrusted_server_is_refused(host: DmpHost, pki_dir: Path, tmp_path: Path) -> None:
    other_root = pki.make_ca("TEST AC RACINE AUTRE")
    bundle = tmp_path / "other.pem"
    bundle.write_bytes(other_root.cert_pem())
    settings = replace(settings_for(host, pki_dir), trust_files=(bundle,))
    client = structure_client(settings)
    try:
        with pytest.raises(TlsError):
            client.status(ins("150081505104018"))
    finally:
        client.close()


def test_client_without_a_certificate_is_refused_by_the_host(host: DmpHost, pki_dir: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki_dir / "pki" / "trust-bundle.pem"))
    url = f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services/patients"
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.post(url, content=b"<x/>", verify=context, timeout=5)


def test_injected_host_errors_and_dropped_connections(structure_client: DmpClient, host: DmpHost) -> None:
    host.config.faults.error_rate = 1.0
    with pytest.raises(SoapFault) as caught:
        structure_client.status(ins("150081505104018"))
    assert caught.value.dmp_code == "Receiver"
    host.config.faults.error_rate = 0.0
    host.config.faults.drop_rate = 1.0
    with pytest.raises(HostUnreachable):
        structure_client.status(ins("150081505104018"))


def test_host_refuses_hostile_xml(host: DmpHost, pki_dir: Path) -> None:
    folder = pki_dir / "pki"
    context = ssl.create_default_context(cafile=str(folder / "trust-bundle.pem"))
    context.load_cert_chain(folder / "structure-auth.pem", folder / "structure-auth.key")
    url = f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services/patients"
    body = b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>'
    answer = httpx.post(url, content=body, verify=context, headers={"Content-Type": "application/soap+xml"})
    assert (
        answer.status_code == 500
        and b"DMPInvalidRequest" in answer.content
        and b"root:" not in answer.content
    )


def test_unknown_service_path(host: DmpHost, pki_dir: Path) -> None:
    folder = pki_dir / "pki"
    context = ssl.create_default_context(cafile=str(folder / "trust-bundle.pem"))
    context.load_cert_chain(folder / "structure-auth.pem", folder / "structure-auth.key")
    base = f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services/"
    assert httpx.post(base + "inconnu", content=b"<x/>", verify=context).status_code == 404
    assert httpx.post(base + "DocumentRegistry_Service", content=b"<x/>", verify=context).status_code == 500


def test_official_sample_messages_parse_with_the_hardened_parser() -> None:
    from app.dmp_client.core.xml import parse_xml

    samples = sorted((ROOT / "resources" / "spec" / "samples" / "ipf").glob("*.xml"))
    assert len(samples) == 5
    for sample in samples:
        assert parse_xml(sample.read_bytes()) is not None
