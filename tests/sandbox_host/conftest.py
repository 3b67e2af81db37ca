"""Fixtures: card-like identities (software keys issued by the test PKI's PERSONNES CA, so no card rig
is needed) and the structure identity, each with a client of the in-process host over mutual TLS."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from app.dmp_client.core.context import (
    NON_PS_ROLE_CODE_SYSTEM,
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    AccessContext,
    Actor,
    AuthMode,
    Code,
    Purpose,
    Software,
)
from app.dmp_client.core.signing import SoftwareKeySigner
from app.ins import Ins
from sandbox import cards, pki
from sandbox.host.server import DmpHost, HostConfig
from tests.sandbox_host.xdskit import INS_OID, P01, HostClient, Identity

SOFTWARE = Software("Client DMP", "0.1.0", "BAC-A-SABLE")


@pytest.fixture
def host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    """As tests/host_fixture.py, with a short shutdown poll (the default 0.5 s dominates short tests)."""
    server = DmpHost(
        ("127.0.0.1", 0), HostConfig(pki_dir / "pki", tmp_path / "host", record_dir=tmp_path / "record")
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Who:
    """An identity's keys and certificates (the VIHF/XAdES signer and the TLS client certificate)."""

    def __init__(
        self, sign_key: rsa.RSAPrivateKey, sign_cert: x509.Certificate, tls: tuple[Path, Path]
    ) -> None:
        self.sign_key = sign_key
        self.sign_cert = sign_cert
        self.tls = tls

    def identity(self, actor: Actor, mode: AuthMode, purpose: Purpose, matricule: str) -> Identity:
        context = AccessContext(actor, mode, purpose, Ins.parse(matricule, INS_OID), SOFTWARE)
        return Identity(context, SoftwareKeySigner(self.sign_key, self.sign_cert), *self.tls)


@pytest.fixture(scope="session")
def people(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Who, Actor]]:
    """Software 'cards' for the sandbox's professionals, plus the structure (indirect mode)."""
    folder = pki_dir / "pki"
    out = tmp_path_factory.mktemp("cards")
    result: dict[str, tuple[Who, Actor]] = {}
    for profile in cards.load_cards():
        card = pki.software_card(folder, profile, out, with_chain=True)
        if profile.profession:
            roles: tuple[Code, ...] = (Code(profile.profession, PROFESSION_CODE_SYSTEM),)
            if profile.specialty:
                roles += (Code(profile.specialty, SPECIALTY_CODE_SYSTEM),)
        else:
            roles = (Code(profile.role or "SECRETARIAT_MEDICAL", NON_PS_ROLE_CODE_SYSTEM),)
        situation = profile.situations[0]
        actor = Actor(
            profile.national_id,
            f"{profile.given_name} {profile.surname}",
            roles,
            situation.structure_id,
            situation.sector,
        )
        result[profile.key] = (Who(card.sign_key, card.sign_cert, (card.tls_cert, card.tls_key)), actor)
    structure = cards.load_structure()
    sign_key = load_pem_private_key((folder / "structure-sign.key").read_bytes(), None)
    assert isinstance(sign_key, rsa.RSAPrivateKey)
    sign = x509.load_pem_x509_certificate((folder / "structure-sign.pem").read_bytes())
    actor = Actor(
        "LOCAL-0042",
        "JEAN DUPONT",
        (Code("10", PROFESSION_CODE_SYSTEM),),
        structure.id_nat_struct,
        structure.sector,
    )
    who = Who(sign_key, sign, (folder / "structure-auth.pem", folder / "structure-auth.key"))
    result["structure"] = (who, actor)
    return result


Connect = Callable[..., HostClient]


@pytest.fixture
def connect(host: DmpHost, pki_dir: Path, people: dict[str, tuple[Who, Actor]]) -> Iterator[Connect]:
    """``connect("generaliste", purpose=…, matricule=…)`` → a client acting as that person."""
    opened: list[HostClient] = []

    def make(key: str, purpose: Purpose = Purpose.NORMAL, matricule: str = P01) -> HostClient:
        who, actor = people[key]
        mode = AuthMode.INDIRECT if key == "structure" else AuthMode.DIRECT
        client = HostClient(host.server_address[1], pki_dir, who.identity(actor, mode, purpose, matricule))
        client.who = who  # type: ignore[attr-defined]
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
