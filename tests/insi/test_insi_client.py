"""The INSi client (app/dmp_client/insi_client.py) over the project's Transport, against a small
in-test endpoint (an httpx transport answering like INSi from the public example answers). The
integration with the sandbox INSi host over real mutual TLS is the coordinator's (sandbox/insi/)."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from app.config.layers import Config
from app.config.settings import Settings
from app.dmp_client.core import insi
from app.dmp_client.core.errors import InsiFault, InsiMalformedResponse, InsiOtherPerson
from app.dmp_client.errors import InsiHttpError, InsiNotConfigured, InsiTimeout, InsiUnreachable
from app.dmp_client.insi_client import InsiClient, InsiSettings, installation_instance, split_url
from app.ins import IdentityTraits, Ins, Nir

FIXTURES = Path(__file__).resolve().parent / "fixtures"
XSD = Path(__file__).resolve().parents[2] / "resources" / "spec" / "insi" / "xsd" / "ServiceIdentiteCertifiee"
RECSANS = etree.XMLSchema(etree.parse(str(XSD / "INSi_RECSANS_INS.xsd")))
INSTANCE = "3f0c7a52-5d2e-4c1b-9a43-2f6f1b0d9e11"
SETTINGS = InsiSettings(url="https://insi.test:9443/lps", idam="BAC-A-SABLE", timeout=5.0)
TRAITS = IdentityTraits.parse("ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14", "63220")
NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def soap(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"content-type": "application/soap+xml; charset=utf-8"}
    )


class FakeInsi:
    """Records each request and answers from a queue of handlers."""

    def __init__(self, *answers: bytes | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else soap(answer)

    def bodies(self) -> list[etree._Element]:
        return [etree.fromstring(r.content)[1][0] for r in self.requests]


def client(fake: FakeInsi) -> InsiClient:
    return InsiClient.open(
        SETTINGS, httpx.MockTransport(fake), (), ("ClientDMP", "1.0.0", INSTANCE), "899900012342"
    )


def test_a_search_is_posted_to_the_configured_address_with_its_soap_action() -> None:
    fake = FakeInsi(fixture("TEST_2.04_cas2.xml"))
    result = client(fake).search(insi.TraitsSearch.first_step(TRAITS))
    assert result.report is insi.Report.FOUND and result.identity is not None
    assert result.identity.ins.matricule.value == "109076322083489"
    (request,) = fake.requests
    assert str(request.url) == "https://insi.test:9443/lps"
    assert request.headers["content-type"] == (
        "application/soap+xml; charset=UTF-8; "
        'action="urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"'
    )
    assert RECSANS.validate(fake.bodies()[0])


def test_the_guided_search_adds_the_first_names_then_the_birthplace_after_02() -> None:
    several = fixture("REP_CR02_insi-client.fixture.xml")
    fake = FakeInsi(several, several, fixture("TEST_2.04_cas2.xml"))
    result, search = client(fake).search_guided(TRAITS)
    assert result.report is insi.Report.FOUND and search.birth_place == "63220"
    sent = [[etree.QName(e).localname for e in body] for body in fake.bodies()]
    assert sent == [
        ["NomNaissance", "Prenom", "Sexe", "DateNaissance"],
        ["NomNaissance", "Prenom", "Prenom", "Prenom", "Sexe", "DateNaissance"],
        ["NomNaissance", "Prenom", "Prenom", "Prenom", "Sexe", "DateNaissance", "LieuNaissance"],
    ]


def test_the_guided_search_stops_with_the_next_step_when_nothing_is_left_to_add() -> None:
    fake = FakeInsi(fixture("REP_CR02_insi-client.fixture.xml"))
    result, _ = client(fake).search_guided(IdentityTraits.parse("ECETINSI", "PIERRE", "M", "2009-07-14"))
    assert result.next_step is insi.NextStep.ADD_FIRST_NAMES_THEN_BIRTHPLACE and len(fake.requests) == 1
    fake = FakeInsi(fixture("REP_CR01.xml"))
    result, _ = client(fake).search_guided(TRAITS)
    assert result.next_step is insi.NextStep.OTHER_CRITERIA and len(fake.requests) == 1


def test_verification_sends_every_trait_and_compares_the_ins() -> None:
    fake = FakeInsi(fixture("TEST_2.04_cas2.xml"), fixture("TEST_2.04_cas2.xml"))
    known = Ins.parse("109076322083489", "1.2.250.1.213.1.4.10")
    assert client(fake).verify(known, TRAITS).outcome is insi.Verification.CONFIRMED
    assert fake.bodies()[0][-1].text == "63220"
    former = Ins.parse("209076322083439", "1.2.250.1.213.1.4.10")
    assert client(fake).verify(former, TRAITS).outcome is insi.Verification.REPLACED


def test_a_vitale_search_checks_freshness_and_the_beneficiary() -> None:
    own = Nir.parse("109076322083489")
    fake = FakeInsi(fixture("TEST_2.04_cas2.xml"), fixture("TEST_2.04_cas2.xml"))
    insi_client = client(fake)
    insi_client.clock = lambda: NOW
    fresh = insi.VitaleBeneficiary(NOW - timedelta(minutes=1), 1, "2009-07-14", own=own)
    assert insi_client.search_with_vitale(fresh).identity is not None
    assert "rechercherInsAvecCarteVitale" in fake.requests[0].headers["content-type"]
    other = insi.VitaleBeneficiary(NOW, 2, "2012-01-05", own=own)
    with pytest.raises(InsiOtherPerson):
        insi_client.search_with_vitale(other)


def test_faults_and_http_errors_become_insi_errors() -> None:
    fault = (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
        b"<soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text>"
        b'Erreur</soap:Text></soap:Reason><soap:Detail><siram:Erreur xmlns:siram="urn:siram" '
        b'severite="erreur" code="insi_102">Instance inconnue</siram:Erreur></soap:Detail></soap:Fault>'
        b"</soap:Body></soap:Envelope>"
    )
    fake = FakeInsi(lambda r: soap(fault, 500), lambda r: httpx.Response(403), lambda r: soap(b"<html/>"))
    insi_client = client(fake)
    search = insi.TraitsSearch.first_step(TRAITS)
    with pytest.raises(InsiFault) as caught:
        insi_client.search(search)
    assert caught.value.host_code == "insi_102"
    with pytest.raises(InsiHttpError) as http:
        insi_client.search(search)
    assert "403" in http.value.user_message
    with pytest.raises(InsiMalformedResponse):
        insi_client.search(search)


def test_an_unreachable_or_silent_insi_gives_insi_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    search = insi.TraitsSearch.first_step(TRAITS)
    with pytest.raises(InsiUnreachable):
        client(FakeInsi(refuse, refuse)).search(search)  # idempotent: one retry, then the error
    with pytest.raises(InsiTimeout):
        client(FakeInsi(silent)).search(search)


def test_an_oversized_answer_is_refused_without_reading_it_all() -> None:
    huge = b"<a>" + b"x" * (insi.MAX_ANSWER_BYTES + 10) + b"</a>"
    with pytest.raises(InsiMalformedResponse):
        client(FakeInsi(huge)).search(insi.TraitsSearch.first_step(TRAITS))


@pytest.mark.parametrize(
    "settings",
    [
        InsiSettings(),
        InsiSettings(url="https://insi.test/lps"),
        InsiSettings(url="http://insi.test/lps", idam="X"),
        InsiSettings(url="https://insi.test", idam="X"),
        InsiSettings(url="https://insi.test/lps?x=1", idam="X"),
    ],
)
def test_an_unusable_configuration_is_refused_naming_the_setting(settings: InsiSettings) -> None:
    with pytest.raises(InsiNotConfigured) as caught:
        settings.check()
    assert "DMP_INSI_URL" in caught.value.user_message


def test_split_url() -> None:
    assert split_url("https://qualiflps-services-ps-tlsm.ameli.fr:443/lps") == (
        "https://qualiflps-services-ps-tlsm.ameli.fr:443",
        "lps",
    )
    assert split_url("https://h/a/b/") == ("https://h/a", "b")


def test_the_settings_read_the_insi_keys() -> None:
    config = Config.load(
        environ={"DMP_INSI_URL": "https://insi.test/lps", "DMP_INSI_IDAM": "CNDA-1", "DMP_INSI_DELAI_S": "30"}
    )
    settings = Settings.load(config).insi
    assert settings == InsiSettings("https://insi.test/lps", "CNDA-1", 30.0)
    assert Settings.load(Config.load(environ={})).insi == InsiSettings(None, None, 60.0)


def test_the_installation_instance_is_made_once_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "donnees"
    first = installation_instance(folder)
    assert uuid.UUID(first) and installation_instance(folder) == first
    if os.name == "posix":
        assert stat.S_IMODE((folder / "insi-instance").stat().st_mode) == 0o600
    (folder / "insi-instance").write_text("abîmé", encoding="utf-8")
    with pytest.raises(InsiNotConfigured):
        installation_instance(folder)


def test_concurrent_first_starts_agree_on_one_instance(tmp_path: Path) -> None:
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda: found.append(installation_instance(tmp_path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 8


def test_the_time_out_bounds_the_whole_exchange() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)
        raise httpx.ReadTimeout("slow", request=request)

    insi_client = InsiClient.open(
        InsiSettings(SETTINGS.url, SETTINGS.idam, 0.2),
        httpx.MockTransport(FakeInsi(slow)),
        (),
        ("n", "1", INSTANCE),
        "e",
    )
    start = time.monotonic()
    with pytest.raises(InsiTimeout):
        insi_client.search(insi.TraitsSearch.first_step(TRAITS))
    assert time.monotonic() - start < 5
