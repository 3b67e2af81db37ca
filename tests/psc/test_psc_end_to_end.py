"""The real PscClient against the real sandbox PSC provider over TLS (mutual TLS with the test PKI's
structure certificate): CIBA login approved by the automatic phone, refused, expired, cancelled; the ID
token checked against the provider's JWKS; the provider's injected token faults refused by the client
with PSC-JETON-INVALIDE; refresh; logout. Neither side was written from the other: these tests are
where they meet (CIBA Core 1.0 poll mode, ansforge/psc-edc-proxy-esante)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from app.dmp_client.core.context import AuthMode
from app.dmp_client.core.errors import (
    PscClientRefused,
    PscExpired,
    PscInvalidToken,
    PscRefused,
    PscUnknownProfessional,
)
from app.dmp_client.core.ns import SAML2
from app.dmp_client.errors import PscCancelled, PscSessionExpired
from app.dmp_client.options import PscSettings
from app.dmp_client.psc_client import PscClient
from app.services.session import DmpSession, EcpsLogin, StructureLogin
from sandbox import cards
from sandbox.host.server import DmpHost
from sandbox.psc import professionals
from sandbox.psc.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    PscFaults,
    PscProvider,
)
from tests.dmp_client.test_documents_e2e import patient, report
from tests.host_fixture import settings_for
from tests.psc.psc_helpers import client_tls

GP = cards.card("generaliste")


@pytest.fixture
def psc_faults() -> PscFaults:
    """The provider (tests/psc/conftest.py) with the automatic phone approving quickly."""
    return PscFaults(interval=0, phone="approve", phone_delay=0.2)


@pytest.fixture
def client(provider: PscProvider) -> Iterator[PscClient]:
    settings = PscSettings(url=provider.issuer, client_id=DEFAULT_CLIENT_ID, client_auth="mtls", timeout=10)
    with PscClient(settings, tls=client_tls(provider.config.pki_dir)) as psc_client:
        yield psc_client


def test_login_approved_by_the_phone_validates_the_id_token_against_the_jwks(
    client: PscClient, provider: PscProvider
) -> None:
    shown: list[str] = []
    session = client.login(GP.national_id, on_pending=lambda p: shown.append(p.binding_message))
    assert len(shown) == 1 and len(shown[0]) == 2 and shown[0].isdigit()
    assert session.identity.subject == professionals.subject(GP.national_id)
    assert session.tokens.refresh_token
    # The key the ID token names is in the provider's JWKS, fetched by the client.
    assert len(list(client.keys().keys)) >= 1
    assert client.check(session) is not None


def test_login_refused_on_the_phone(client: PscClient, provider: PscProvider) -> None:
    provider.config.faults.phone = "refuse"
    with pytest.raises(PscRefused) as caught:
        client.login(GP.national_id)
    assert caught.value.code == "PSC-REFUS"


def test_login_expired_when_nobody_answers(client: PscClient, provider: PscProvider) -> None:
    provider.config.faults.phone = "manual"
    provider.config.faults.expires_in = 1
    provider.config.faults.interval = 1
    with pytest.raises(PscExpired) as caught:
        client.login(GP.national_id)
    assert caught.value.code == "PSC-EXPIRE"


def test_login_cancelled_by_the_user(client: PscClient, provider: PscProvider) -> None:
    provider.config.faults.phone = "manual"
    provider.config.faults.interval = 1
    cancel = threading.Event()
    with pytest.raises(PscCancelled) as caught:
        client.login(GP.national_id, on_pending=lambda _: cancel.set(), cancel=cancel)
    assert caught.value.code == "PSC-ANNULE"


@pytest.mark.parametrize("fault", ["wrong_key", "wrong_issuer", "wrong_audience", "expired_tokens"])
def test_injected_token_faults_are_refused(client: PscClient, provider: PscProvider, fault: str) -> None:
    setattr(provider.config.faults, fault, True)
    with pytest.raises(PscInvalidToken) as caught:
        client.login(GP.national_id)
    assert caught.value.code == "PSC-JETON-INVALIDE"


def test_refresh_gives_new_tokens_and_the_old_refresh_token_is_spent(
    client: PscClient, provider: PscProvider
) -> None:
    session = client.login(GP.national_id)
    renewed = client.refresh(session)
    assert renewed.tokens.access_token != session.tokens.access_token
    assert renewed.identity.subject == session.identity.subject
    with pytest.raises(PscSessionExpired):  # the provider rotates refresh tokens
        client.refresh(session)
    assert client.refresh(renewed).identity.subject == session.identity.subject


def test_logout_ends_the_provider_session(client: PscClient, provider: PscProvider) -> None:
    session = client.login(GP.national_id)
    assert client.logout(session) is True
    with pytest.raises(PscSessionExpired):  # its refresh token is gone with it
        client.refresh(session)


def test_client_secret_basic_login(provider: PscProvider) -> None:
    pki = provider.config.pki_dir
    settings = PscSettings(
        url=provider.issuer,
        client_id=DEFAULT_CLIENT_ID,
        client_auth="secret",
        trust_files=(pki / "trust-bundle.pem",),
        timeout=10,
    )
    with PscClient(settings, secret=DEFAULT_CLIENT_SECRET) as by_secret:
        session = by_secret.login(GP.national_id)
        assert session.identity.subject == professionals.subject(GP.national_id)
    with PscClient(settings, secret="not-the-secret") as wrong, pytest.raises(PscClientRefused):
        wrong.login(GP.national_id)


def test_unknown_professional(client: PscClient) -> None:
    with pytest.raises(PscUnknownProfessional):
        client.login("800000000000")


def test_slow_down_adds_five_seconds_then_the_login_succeeds(
    client: PscClient, provider: PscProvider
) -> None:
    provider.config.faults.slow_down_polls = 1
    started = time.monotonic()
    session = client.login(GP.national_id)
    assert time.monotonic() - started >= 5  # CIBA §11: the interval grows by 5 s
    assert session.identity.national_id == GP.national_id


def test_the_sandbox_id_token_carries_no_auth_req_id_claim(provider: PscProvider) -> None:
    """CIBA Core 1.0 §10.3.1 asks for ``urn:openid:params:jwt:claim:auth_req_id`` in push mode only;
    PSC polls, so the client's DMP_PSC_EXIGER_AUTH_REQ_ID stays off by default [UNSURE]: on, it
    refuses the sandbox's (poll-mode) tokens."""
    settings = PscSettings(
        url=provider.issuer, client_id=DEFAULT_CLIENT_ID, timeout=10, require_auth_req_id=True
    )
    tls = client_tls(provider.config.pki_dir)
    with PscClient(settings, tls=tls) as strict, pytest.raises(PscInvalidToken):
        strict.login(GP.national_id)


# -- AIR: the e-CPS session against the in-process sandbox DMP host ---------------------------------


def test_air_find_and_get_with_the_real_provider_then_a_replayed_vihf_is_refused(
    client: PscClient, host: DmpHost, pki_dir: Path, tmp_path: Path
) -> None:
    ins, traits = patient("P01")  # the GP is its médecin traitant
    with DmpSession(settings_for(host, pki_dir)) as feeder:
        feeder.connect(StructureLogin())
        sent = feeder.client.send(ins, report(tmp_path, traits))  # feeding is not AIR's
    login = client.login(GP.national_id)
    with DmpSession(settings_for(host, pki_dir)) as session:
        session.connect(EcpsLogin(client, login, situation=2))  # the hospital (the structure)
        c = session.connection
        assert c is not None and c.mode is AuthMode.INDIRECT_REINFORCED and c.actor_id == GP.national_id
        found = session.client.find_documents(ins)
        entry = next(e for e in found if e.unique_id == sent.unique_id)
        body = io.BytesIO()
        session.client.retrieve(ins, entry, body)
        assert body.getvalue()
    record = host.config.record_dir
    assert record is not None
    queries: list[bytes] = []
    ids: list[str | None] = []
    for path in sorted(record.glob("*-requete.xml")):
        data = path.read_bytes()
        for assertion in etree.fromstring(data).iter(f"{{{SAML2}}}Assertion"):
            mode = assertion.find(f".//{{{SAML2}}}Attribute[@Name='Authentification_mode']")
            if mode is not None and mode.findtext(f"{{{SAML2}}}AttributeValue") == "INDIRECTE_RENFORCEE":
                ids.append(assertion.get("ID"))
                if b"RegistryStoredQuery" in data:
                    queries.append(data)
    assert len(ids) >= 2 and len(set(ids)) == len(ids)  # a fresh VIHF per request, every one AIR
    # The same request replayed as it went on the wire (its VIHF signed by the structure, ORG TLS):
    # the host serves an AIR VIHF once.
    tls = client_tls(pki_dir / "pki")
    action = "urn:ihe:iti:2007:RegistryStoredQuery"
    with httpx.Client(verify=tls, timeout=30) as raw:
        again = raw.post(
            f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services/registry",
            content=queries[0],
            headers={"Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'},
        )
    assert again.status_code == 500
    assert "DMPVihfInvalid" in again.text and "déjà servi" in again.text
