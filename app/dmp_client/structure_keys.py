"""The structure's keys and certificates as the vendor or IT delivers them: unencrypted PEM, encrypted
PEM (PKCS#8 or traditional), or PKCS#12 (.p12/.pfx: key and certificate in one file). The password of
an encrypted file comes from the system keyring (app/config/settings.py reads it there; never from a
plain file or the environment): its absence and a wrong password are typed errors that say what to do.

Python's ``ssl`` loads a client certificate from PEM files only; a PKCS#12 bundle is therefore given
to it as a temporary PEM file whose key is re-encrypted with a one-time random password (only
ciphertext reaches the disk, and the file is removed as soon as ``ssl`` has read it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
    pkcs12,
)

from app.dmp_client.errors import ClientConfigError, StructureKeyPasswordMissing, StructureKeyPasswordWrong
from app.dmp_client.key_files import is_encrypted as is_encrypted  # re-exported
from app.dmp_client.key_files import is_pem as is_pem
from app.dmp_client.transport import Endpoint, client_context


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ClientConfigError(f"Fichier de la structure illisible : {path} ({error.strerror}).") from None


def load_key_and_certificate(
    path: Path, password: str | None
) -> tuple[PrivateKeyTypes, x509.Certificate | None, list[x509.Certificate]]:
    """The private key of a PEM or PKCS#12 file, and for PKCS#12 its certificate and chain."""
    data = _read(path)
    secret = password.encode("utf-8") if password is not None else None
    if is_pem(data):
        if b"ENCRYPTED" in data and secret is None:
            raise StructureKeyPasswordMissing()
        try:
            return load_pem_private_key(data, secret if b"ENCRYPTED" in data else None), None, []
        except TypeError:  # cryptography: encrypted but no password given
            raise StructureKeyPasswordMissing() from None
        except ValueError:
            if b"ENCRYPTED" in data:
                raise StructureKeyPasswordWrong() from None
            raise ClientConfigError(f"Clé de la structure illisible : {path} (PEM mal formé).") from None
    if secret is None:
        raise StructureKeyPasswordMissing()
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, secret)
    except ValueError:  # a wrong password and a damaged bundle are one error in PKCS#12
        raise StructureKeyPasswordWrong() from None
    if key is None:
        raise ClientConfigError(f"Le fichier PKCS#12 de la structure ne contient pas de clé : {path}.")
    return key, certificate, list(chain)


def load_certificate(path: Path, password: str | None) -> x509.Certificate:
    """A PEM certificate, or the certificate of a PKCS#12 bundle."""
    data = _read(path)
    if is_pem(data):
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError:
            raise ClientConfigError(f"Certificat de la structure illisible : {path}.") from None
    _, certificate, _ = load_key_and_certificate(path, password)
    if certificate is None:
        raise ClientConfigError(f"Le fichier PKCS#12 de la structure ne contient pas de certificat : {path}.")
    return certificate


def tls_context(endpoint: Endpoint, certificate: Path, key: Path, password: str | None) -> ssl.SSLContext:
    """The TLS client context with the structure's AUTH_CLI certificate and key in any of the forms above."""
    private_key, bundled, chain = load_key_and_certificate(key, password)  # typed errors first
    data = _read(key)
    if is_pem(data):
        return client_context(endpoint, certificate, key, password if b"ENCRYPTED" in data else None)
    cert = load_certificate(certificate, password) if certificate != key else bundled
    if cert is None:
        raise ClientConfigError(f"Le fichier PKCS#12 de la structure ne contient pas de certificat : {key}.")
    one_time = secrets.token_urlsafe(32)
    certificates = b"".join(c.public_bytes(Encoding.PEM) for c in (cert, *chain))  # the leaf first
    encryption = BestAvailableEncryption(one_time.encode("ascii"))
    pem = certificates + private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    fd, name = tempfile.mkstemp(prefix="dmp-structure-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return client_context(endpoint, Path(name), Path(name), one_time)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
