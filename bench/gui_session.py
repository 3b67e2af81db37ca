"""A sandbox session for the desktop application without the card rig: an in-process sandbox host
over mutual TLS and the sandbox GP in direct mode with the test PKI's card-shaped software keys (the
certificates and VIHF the card would give). Used by the screenshots and the GUI benchmark."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.config.settings import Settings
from app.dmp_client.client import DmpClient, Session
from app.dmp_client.core.context import (
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    Actor,
    AuthMode,
    Code,
    Purpose,
)
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.factory import author_of
from app.dmp_client.transport import Endpoint, Transport, client_context
from app.services.workspace import Connection, Workspace
from app.store.local_store import LocalStore, StoreSettings
from sandbox import cards, keyring_daemon, pki, rig
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread


class SandboxSession:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="dmp-gui-sandbox-"))
        rig.build_pki(self.folder)
        self.secrets = keyring_daemon.start(self.folder / "keyring")
        os.environ.update(keyring_daemon.client_env(self.secrets))
        self.host = DmpHost(("127.0.0.1", 0), HostConfig(self.folder / "pki", self.folder / "host"))
        serve_in_thread(self.host)
        os.environ["DMP_SANDBOX_DIR"] = str(self.folder)
        os.environ["DMP_HOST_URL"] = (
            f"https://localhost:{self.host.server_address[1]}/si-dmp-server/v2/services"
        )
        os.environ["DMP_STORE_DIR"] = str(self.folder / "store")
        self.settings = Settings.load()

    def gp_workspace(self) -> Workspace:
        profile = cards.card("generaliste")
        (self.folder / "cards").mkdir(exist_ok=True)
        card = pki.software_card(self.folder / "pki", profile, self.folder / "cards")
        endpoint = Endpoint(self.settings.host_url, self.settings.trust_files)
        situation = profile.situations[0]
        roles = (
            Code(profile.profession or "", PROFESSION_CODE_SYSTEM, profile.profession_label),
            Code(profile.specialty or "", SPECIALTY_CODE_SYSTEM),
        )
        actor = Actor(
            profile.national_id, f"{profile.given_name} {profile.surname}", roles, situation.structure_id,
            situation.sector,
        )  # fmt: skip
        author = author_of(
            profile.national_id, profile.given_name, profile.surname, profile.profession, profile.specialty,
            situation.structure_id, situation.name,
        )  # fmt: skip
        session = Session(actor, AuthMode.DIRECT, self.settings.software, self.settings.sender_oid,
                          Purpose.NORMAL, author)  # fmt: skip
        transport = Transport(
            endpoint, client_context(endpoint, card.tls_cert, card.tls_key), self.settings.timeouts
        )
        client = DmpClient(transport, SoftwareKeySigner(card.sign_key, card.sign_cert), session)
        workspace = Workspace(self.settings, LocalStore.open(StoreSettings(self.folder / "store")))
        workspace.attach(
            client,
            Connection(AuthMode.DIRECT, Purpose.NORMAL, profile.national_id,
                       f"{profile.given_name} {profile.surname}", situation.name, f"n° 1 — {situation.name}",
                       "Virtual PCD 00 00"),
        )  # fmt: skip
        return workspace

    def close(self) -> None:
        self.host.shutdown()
        self.host.server_close()
        keyring_daemon.stop(self.secrets)
