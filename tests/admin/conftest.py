"""Fixtures for the administrative transactions: a legacy-profile host and direct-mode clients.

Direct mode without the card rig: the card holder's authentication and signature certificates are
issued here by the test PKI's PERSONNES CA, with software keys (the host only sees TLS and the VIHF).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from app.dmp_client.client import DmpClient, Session
from app.dmp_client.core.context import (
    NON_PS_ROLE_CODE_SYSTEM,
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    Actor,
    AuthMode,
    Code,
    Purpose,
)
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.factory import structure_client as make_structure_client
from app.dmp_client.transport import Endpoint, Transport, client_context
from sandbox import cards, pki
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread
from tests.host_fixture import settings_for

DirectClient = Callable[..., DmpClient]


@pytest.fixture
def legacy_host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    config = HostConfig(pki_dir / "pki", tmp_path / "legacy", profile="legacy", record_dir=tmp_path / "rec")
    server = DmpHost(("127.0.0.1", 0), config)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def legacy_structure_client(legacy_host: DmpHost, pki_dir: Path) -> Iterator[DmpClient]:
    client = make_structure_client(settings_for(legacy_host, pki_dir))
    yield client
    client.close()


@pytest.fixture(scope="session")
def card_keys(
    pki_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Path, SoftwareKeySigner]]:
    """Per virtual card: TLS certificate and key files, and the VIHF signer (software keys)."""
    folder = pki_dir / "pki"
    ca_key = load_pem_private_key((folder / "ca-personnes.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = pki.Issued(x509.load_pem_x509_certificate((folder / "ca-personnes.pem").read_bytes()), ca_key)
    out = tmp_path_factory.mktemp("cards")
    keys = {}
    for profile in cards.load_cards():
        subject = pki.card_subject(
            profile.national_id, profile.surname, profile.given_name, profile.profession_label
        )
        auth_key, sign_key = pki.new_key(), pki.new_key()
        auth = pki.card_auth_certificate(subject, auth_key.public_key(), ca)
        sign = pki.card_sign_certificate(subject, sign_key.public_key(), ca)
        cert_path, key_path = out / f"{profile.key}-auth.pem", out / f"{profile.key}-auth.key"
        cert_path.write_bytes(pki.Issued(auth, None).cert_pem())
        pki.write_pem_key(key_path, auth_key)
        keys[profile.key] = (cert_path, key_path, SoftwareKeySigner(sign_key, sign))
    return keys


def card_actor(key: str) -> Actor:
    profile = cards.card(key)
    roles: list[Code] = []
    if profile.profession:
        roles.append(Code(profile.profession, PROFESSION_CODE_SYSTEM, profile.profession_label))
        if profile.specialty:
            roles.append(Code(profile.specialty, SPECIALTY_CODE_SYSTEM))
    elif profile.role:
        roles.append(Code(profile.role, NON_PS_ROLE_CODE_SYSTEM))
    situation = profile.situations[0]
    return Actor(
        profile.national_id,
        f"{profile.given_name} {profile.surname}",
        tuple(roles),
        situation.structure_id,
        situation.sector,
    )


@pytest.fixture
def direct_client(
    card_keys: dict[str, tuple[Path, Path, SoftwareKeySigner]], pki_dir: Path
) -> Iterator[DirectClient]:
    """``direct_client(host, "generaliste", purpose=…)``: a direct-mode client of that card holder."""
    made: list[DmpClient] = []

    def make(host: DmpHost, key: str, purpose: Purpose = Purpose.NORMAL) -> DmpClient:
        settings = settings_for(host, pki_dir)
        endpoint = Endpoint(settings.host_url, settings.trust_files)
        cert, private, signer = card_keys[key]
        tls = client_context(endpoint, cert, private)
        session = Session(card_actor(key), AuthMode.DIRECT, settings.software, settings.sender_oid, purpose)
        client = DmpClient(Transport(endpoint, tls, settings.timeouts), signer, session)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
