"""An in-process sandbox DMP host over real mutual TLS, and structure-mode and direct-mode clients.

The test PKI is generated once per session (no card rig needed); each test gets a fresh host on
a free loopback port with freshly seeded data.
"""

from __future__ import annotations

import os
import socketserver
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from app.config.settings import Settings
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
from app.dmp_client.factory import author_of
from app.dmp_client.factory import structure_client as make_structure_client
from app.dmp_client.transport import Endpoint, Transport, client_context
from sandbox import cards, pki
from sandbox import rig as sandbox_rig
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread

Server = TypeVar("Server", bound=socketserver.BaseServer)


@contextmanager
def serving(server: Server, serve_in_thread: Callable[[Server], object]) -> Iterator[Server]:
    """``server`` (a sandbox server on a loopback port) served by its module's ``serve_in_thread``,
    shut down and closed afterwards."""
    serve_in_thread(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki-rig")
    sandbox_rig.build_pki(folder)
    return folder


@pytest.fixture
def rig_dir(pki_dir: Path, tmp_path: Path) -> Path:
    """A rig folder of this test (``sandbox.rig``'s state, logs) with the session's test PKI linked
    in: for the rig's server starters, never the card rig."""
    folder = tmp_path / "rig"
    folder.mkdir()
    (folder / "pki").symlink_to(pki_dir / "pki")
    return folder


@pytest.fixture
def host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    config = HostConfig(pki_dir / "pki", tmp_path / "host", record_dir=tmp_path / "record")
    with serving(DmpHost(("127.0.0.1", 0), config), serve_in_thread) as server:
        yield server


def sandbox_env(host: DmpHost, pki_dir: Path, store: Path | None = None) -> dict[str, str]:
    """The environment that points the product at the in-process sandbox host (and a store)."""
    env = {
        "DMP_SANDBOX_DIR": str(pki_dir),
        "DMP_HOST_URL": f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services",
    }
    if store is not None:
        env["DMP_STORE_DIR"] = str(store)
    return env


def settings_for(host: DmpHost, pki_dir: Path) -> Settings:
    env = sandbox_env(host, pki_dir)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings.load()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def structure_client(host: DmpHost, pki_dir: Path) -> Iterator[DmpClient]:
    client = make_structure_client(settings_for(host, pki_dir))
    yield client
    client.close()


DirectClient = Callable[..., DmpClient]


@pytest.fixture(scope="session")
def card_keys(
    pki_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Path, SoftwareKeySigner]]:
    """Per virtual card: TLS certificate and key files, and the VIHF signer (software keys)."""
    out = tmp_path_factory.mktemp("cards")
    keys = {}
    for profile in cards.load_cards():
        card = pki.software_card(pki_dir / "pki", profile, out)
        keys[profile.key] = (card.tls_cert, card.tls_key, SoftwareKeySigner(card.sign_key, card.sign_cert))
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
        profile = cards.card(key)
        situation = profile.situations[0]
        author = author_of(
            profile.national_id,
            profile.given_name,
            profile.surname,
            profile.profession,
            profile.specialty,
            situation.structure_id,
            situation.name,
        )
        session = Session(
            card_actor(key), AuthMode.DIRECT, settings.software, settings.sender_oid, purpose, author
        )
        client = DmpClient(Transport(endpoint, tls, settings.timeouts), signer, session)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
