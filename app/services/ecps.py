"""e-CPS (Pro Santé Connect) for the command line and the GUI: the PSC client opened from the
settings (client authentication by the structure's certificate or the keyring's secret), and the
command line's e-CPS session kept between commands.

The command line runs one process per command, so ``dmp ecps connexion`` keeps the validated session
(tokens, identity, the exercise chosen) for ``dmp ecps statut|deconnexion`` and ``--mode ecps``: in
a file of the local data folder (0600) encrypted with AES-GCM under a random key kept in the system
keyring (a token set is too long for some keyrings, e.g. Windows' 2560-byte credentials). Its tokens
are validated again (signature, issuer, audience, expiry) or refreshed before any use.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.config.settings import Settings
from app.dmp_client.core.errors import PscMalformedResponse
from app.dmp_client.errors import ClientConfigError, PscSecretMissing, PscSessionExpired
from app.errors import DmpClientError
from app.store.errors import KeyringUnavailable
from app.store.keys import KeyStore, SecretStore

if TYPE_CHECKING:  # the JOSE and HTTP stacks are imported at first use
    from app.dmp_client.core.psc import PscSession
    from app.dmp_client.psc_client import PscClient
    from app.services.session import EcpsLogin

PSC_SERVICE = "fr.dmp-client.ecps"
SECRET_NAME = "secret-client"  # DMP_PSC_AUTH_CLIENT = secret: the client secret
SESSION_KEY_NAME = "cle-session"  # the key of the stored command-line session
SESSION_FILE = "ecps-session.bin"


def secret_store() -> SecretStore:
    return SecretStore(PSC_SERVICE)


def abandon(psc: PscClient, session: PscSession | None = None) -> None:
    """A PSC client nobody will use (a login cancelled, refused or not turned into a session): the
    provider's session, if it gave one, ended on a best-effort basis, and the client closed. Blocks."""
    try:
        if session is not None:
            with contextlib.suppress(DmpClientError):  # the provider forgets it anyway
                psc.logout(session)
    finally:
        psc.close()


def open_psc(settings: Settings) -> PscClient:
    """The PSC client of the settings: mTLS with the structure's ORG AUTH_CLI certificate, or the
    client secret from the keyring (PSC-SECRET-ABSENT when missing)."""
    from app.dmp_client.psc_client import PscClient, mtls_context

    psc = settings.psc
    psc.check()
    if psc.client_auth == "mtls":
        creds = settings.structure
        if creds is None:
            raise ClientConfigError(
                "Aucun certificat de structure n'est configuré pour authentifier le logiciel auprès de "
                "Pro Santé Connect (DMP_PSC_AUTH_CLIENT = mtls)."
            )
        tls = mtls_context(psc.trust_files, creds.auth_cert, creds.auth_key, creds.key_password)
        return PscClient(psc, tls=tls)
    try:
        secret = secret_store().get(SECRET_NAME)
    except KeyringUnavailable:
        secret = None
    if not secret:
        raise PscSecretMissing()
    return PscClient(psc, secret=secret)


@dataclass(frozen=True)
class Stored:
    session: PscSession
    situation: int | None


class SessionFile:
    """The command line's e-CPS session: ``folder/ecps-session.bin`` under a keyring key."""

    def __init__(self, folder: Path, keys: KeyStore | None = None) -> None:
        self.path = folder / SESSION_FILE
        self.keys = keys or KeyStore(PSC_SERVICE)

    def save(self, session: PscSession, situation: int | None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self.keys.get(SESSION_KEY_NAME) or self.keys.create(SESSION_KEY_NAME)
        nonce = os.urandom(12)
        data = json.dumps({"session": session.to_json(), "situation": situation}).encode("utf-8")
        blob = nonce + AESGCM(key).encrypt(nonce, data, SESSION_FILE.encode())
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(tmp, self.path)

    def load(self) -> Stored:
        """The stored session; PSC-SESSION-EXPIREE when there is none (or it cannot be opened)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from app.dmp_client.core.psc import PscSession

        try:
            blob = self.path.read_bytes()
        except OSError:
            raise PscSessionExpired(
                "Aucune session e-CPS ouverte : « dmp ecps connexion » d'abord."
            ) from None
        key = self.keys.get(SESSION_KEY_NAME)
        if key is None or len(blob) < 13 or len(blob) > 1024 * 1024:
            raise PscSessionExpired()
        try:
            data = json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], SESSION_FILE.encode()))
            situation = data.get("situation")
            return Stored(
                PscSession.from_json(data["session"]), situation if isinstance(situation, int) else None
            )
        except (InvalidTag, ValueError, KeyError, TypeError, AttributeError, PscMalformedResponse):
            raise PscSessionExpired() from None

    def delete(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(KeyringUnavailable):
            self.keys.delete(SESSION_KEY_NAME)


def stored_login(settings: Settings, *, situation: int | None = None) -> EcpsLogin:
    """The command line's ``--mode ecps``: the stored session checked again (or refreshed; the
    refreshed tokens are stored back), the exercise chosen at ``dmp ecps connexion`` (or
    ``situation``), not logged out at the command's end."""
    from app.services.session import EcpsLogin

    store = SessionFile(settings.store.folder)
    stored = store.load()
    psc = open_psc(settings)
    try:
        session = psc.check(stored.session)
    except BaseException:
        psc.close()
        raise
    chosen = situation if situation is not None else stored.situation
    if session is not stored.session:
        store.save(session, chosen)

    def keep(fresh: PscSession) -> None:
        store.save(fresh, chosen)

    return EcpsLogin(psc, session, chosen, logout=False, on_refresh=keep)
