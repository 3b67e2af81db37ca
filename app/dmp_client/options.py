"""What the client's assembly (:mod:`app.dmp_client.factory`) reads of the settings.

:class:`app.settings.Settings` is built at the edge from every configuration layer and holds the
store's and the transport's settings too, so it sits above this package (docs/architecture.md);
the factory only needs the fields below and names them here, so nothing in ``app.dmp_client``
imports ``app.config.settings`` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.dmp_client.core.context import Software
from app.dmp_client.core.psc_params import DEFAULT_ACR, DEFAULT_SCOPE, Channel
from app.dmp_client.errors import PscNotConfigured

if TYPE_CHECKING:
    from app.dmp_client.limits import Timeouts


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
class PscSettings:
    """The PSC part of the settings (app/config/settings.py; docs/configuration.md)."""

    url: str | None = None  # DMP_PSC_URL: the issuer (discovery under it)
    client_id: str | None = None  # DMP_PSC_CLIENT_ID
    client_auth: str = "mtls"  # DMP_PSC_AUTH_CLIENT: mtls (structure certificate) or secret (keyring)
    channel: Channel = Channel.MOBILE  # DMP_PSC_CANAL
    acr_values: str = DEFAULT_ACR  # DMP_PSC_ACR
    scope: str = DEFAULT_SCOPE  # DMP_PSC_PORTEE
    timeout: float = 30.0  # DMP_PSC_DELAI_S: one HTTP exchange [UNSURE]
    trust_files: tuple[Path, ...] = ()  # DMP_PSC_TRUST_FILES; empty: the system's roots
    leeway: int = 30  # DMP_PSC_TOLERANCE_HORLOGE_S [UNSURE]
    require_auth_req_id: bool = False  # DMP_PSC_EXIGER_AUTH_REQ_ID [UNSURE] (CIBA §10.1.1)
    refresh_margin: float = 30.0  # DMP_PSC_MARGE_RAFRAICHISSEMENT_S: refresh when less is left

    def check(self) -> tuple[str, str]:
        if not self.url or not self.client_id:
            raise PscNotConfigured()
        if not self.url.startswith("https://"):
            raise PscNotConfigured(
                "L'adresse de Pro Santé Connect (DMP_PSC_URL) doit commencer par https://."
            )
        return self.url.rstrip("/"), self.client_id


class ClientSettings(Protocol):
    """The settings a client is assembled from (:class:`app.settings.Settings` has them all)."""

    @property
    def host_url(self) -> str: ...
    @property
    def trust_files(self) -> tuple[Path, ...]: ...
    @property
    def proxy(self) -> str | None: ...
    @property
    def software(self) -> Software: ...
    @property
    def sender_oid(self) -> str: ...
    @property
    def pkcs11_module(self) -> str | None: ...
    @property
    def structure(self) -> StructureCredentials | None: ...
    @property
    def timeouts(self) -> Timeouts: ...
    @property
    def max_response_bytes(self) -> int: ...
    @property
    def trace_dir(self) -> Path | None: ...
    @property
    def is_sandbox(self) -> bool: ...  # training mode: the sandbox's card serial probe (app/card/session.py)
