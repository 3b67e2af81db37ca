"""The database key: 32 random bytes kept in the operating system's keyring, never on disk.

Windows: the Credential Manager; macOS: the Keychain; Linux: a Secret Service (gnome-keyring,
KWallet). Backends that would keep the key in clear (keyrings.alt's plaintext file) or that keep
nothing (fail, null) are refused: the store then refuses to open rather than weaken the encryption.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from app.store.errors import KeyMalformed, KeyringUnavailable

SERVICE = "fr.dmp-client.base-locale"
KEY_BYTES = 32
_REFUSED_BACKENDS = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def platform_backend() -> Any:
    """The platform's keyring, named rather than auto-detected (keyring's detection imports and
    probes every installed backend: ~45 ms of start-up here). ``PYTHON_KEYRING_BACKEND`` (keyring's
    own setting) still chooses another one; refused backends stay refused (``_backend_is_secure``).
    keyring itself (~30 ms of imports) loads here, with the first key read: dmp-gui opens the base
    behind its shown window."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        import keyring

        return keyring.get_keyring()
    if sys.platform == "win32":
        from keyring.backends.Windows import WinVaultKeyring  # the Credential Manager

        return WinVaultKeyring()
    if sys.platform == "darwin":
        from keyring.backends.macOS import Keyring as MacKeyring

        return MacKeyring()
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring  # D-Bus Secret Service

    return SecretServiceKeyring()  # type: ignore[no-untyped-call]


def _backend_is_secure(backend: Any) -> bool:
    module = type(backend).__module__
    if any(module.startswith(prefix) for prefix in _REFUSED_BACKENDS):
        return False
    if module.startswith("keyring.backends.chainer"):
        return any(_backend_is_secure(b) for b in getattr(backend, "backends", ()))
    return True


class KeyStore:
    """Reads and creates named keys in the system keyring (one name per database)."""

    def __init__(self, service: str = SERVICE, backend: Any = None) -> None:
        self.service = service
        self._backend = backend

    @property
    def backend(self) -> Any:
        backend = self._backend or platform_backend()
        if not _backend_is_secure(backend):
            raise KeyringUnavailable()
        return backend

    def get(self, name: str) -> bytes | None:
        import keyring.errors

        try:
            text = self.backend.get_password(self.service, name)
        except keyring.errors.KeyringError as error:
            raise KeyringUnavailable() from error
        except Exception as error:  # D-Bus and platform errors surface as their own types
            raise KeyringUnavailable() from error
        if text is None:
            return None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise KeyMalformed() from None
        if len(key) != KEY_BYTES:
            raise KeyMalformed()
        return key

    def create(self, name: str) -> bytes:
        """A new random key, stored before it is used (a key that cannot be stored is never used)."""
        import keyring.errors

        key = os.urandom(KEY_BYTES)
        try:
            self.backend.set_password(self.service, name, key.hex())
        except keyring.errors.KeyringError as error:
            raise KeyringUnavailable() from error
        except Exception as error:
            raise KeyringUnavailable() from error
        if self.get(name) != key:
            raise KeyringUnavailable("Le trousseau n'a pas conservé la clé de la base locale.")
        return key

    def delete(self, name: str) -> None:
        import keyring.errors

        try:
            self.backend.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            return
        except Exception as error:
            raise KeyringUnavailable() from error


STRUCTURE_SERVICE = "fr.dmp-client.cle-structure"
STRUCTURE_PASSWORD = "mot-de-passe"  # the one password of the structure's encrypted key files


class SecretStore:
    """Text secrets in the system keyring (the structure key's password), as :class:`KeyStore` keeps keys."""

    def __init__(self, service: str = STRUCTURE_SERVICE, backend: Any = None) -> None:
        self._keys = KeyStore(service, backend)

    def get(self, name: str = STRUCTURE_PASSWORD) -> str | None:
        try:
            value = self._keys.backend.get_password(self._keys.service, name)
        except KeyringUnavailable:
            raise
        except Exception as error:
            raise KeyringUnavailable() from error
        return value if isinstance(value, str) else None

    def set(self, value: str, name: str = STRUCTURE_PASSWORD) -> None:
        try:
            self._keys.backend.set_password(self._keys.service, name, value)
        except KeyringUnavailable:
            raise
        except Exception as error:
            raise KeyringUnavailable() from error
        if self.get(name) != value:
            raise KeyringUnavailable(
                "Le trousseau n'a pas conservé le mot de passe de la clé de la structure."
            )

    def delete(self, name: str = STRUCTURE_PASSWORD) -> None:
        self._keys.delete(name)
