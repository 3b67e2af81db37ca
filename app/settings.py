"""Configuration as a value: built once at the edge (command line, GUI) and passed down.

Today it comes from the environment, with the embedded sandbox as the default (the rig writes the
variables; see docs/cards.md). Machine policy files and the settings dialog arrive with their issues.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app import __version__
from app.dmp_client.core.context import Software
from app.dmp_client.transport import Timeouts
from app.store.local import StoreSettings

SANDBOX_HOMOLOGATION = "BAC-A-SABLE"
DEFAULT_SENDER_OID = "1.2.250.1.999.42.1"  # the LPS's OID: set by the vendor [configurable]


@dataclass(frozen=True)
class StructureCredentials:
    """Indirect mode: the structure's TLS (AUTH_CLI) and signature (SIGN) certificates and keys."""

    auth_cert: Path
    auth_key: Path
    sign_cert: Path
    sign_key: Path
    key_password: str | None
    structure_id: str
    sector: str
    user_id: str
    user_name: str
    structure_name: str = ""
    # Default author of documents sent by the structure: "IdNat|Prénom|NOM|G15_10/SM04"
    author: str | None = None


@dataclass(frozen=True)
class Settings:
    host_url: str
    trust_files: tuple[Path, ...]
    software: Software
    sender_oid: str
    pkcs11_module: str | None
    structure: StructureCredentials | None
    proxy: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    is_sandbox: bool = False
    store: StoreSettings = field(default_factory=StoreSettings.from_env)

    @classmethod
    def from_env(cls) -> Settings:
        rig = os.environ.get("DMP_SANDBOX_DIR")
        software = Software(
            name=os.environ.get("DMP_LPS_NOM", "Client DMP"),
            version=__version__,
            homologation=os.environ.get("DMP_LPS_HOMOLOGATION", SANDBOX_HOMOLOGATION),
        )
        pki = Path(rig) / "pki" if rig else None
        trust = os.environ.get("DMP_TRUST_FILES")
        trust_files = (
            tuple(Path(p) for p in trust.split(os.pathsep))
            if trust
            else ((pki / "trust-bundle.pem",) if pki else ())
        )
        structure = None
        if pki is not None:
            structure = StructureCredentials(
                pki / "structure-auth.pem",
                pki / "structure-auth.key",
                pki / "structure-sign.pem",
                pki / "structure-sign.key",
                None,
                "1990000017",
                "SA01",
                "3990000017/secretariat",
                "NADIA SECRETAIRE",
                "CH DU BAC A SABLE",
                os.environ.get("DMP_STRUCTURE_AUTEUR", "899900012342|PAUL|CARDIOLOGUE|G15_10/SM04"),
            )
        return cls(
            host_url=os.environ.get("DMP_HOST_URL", "https://localhost:8443/si-dmp-server/v2/services"),
            trust_files=trust_files,
            software=software,
            sender_oid=os.environ.get("DMP_LPS_OID", DEFAULT_SENDER_OID),
            pkcs11_module=os.environ.get("DMP_PKCS11_MODULE"),
            structure=structure,
            proxy=os.environ.get("DMP_PROXY"),
            is_sandbox=rig is not None,
            store=StoreSettings.from_env(),
        )
