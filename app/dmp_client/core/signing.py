"""One signer interface for the card's signature key (direct mode) and the structure's key (indirect).

signxml signs with any object that has ``sign(data, padding, algorithm)``, the shape of a
``cryptography`` private key; :class:`SignxmlKey` gives a :class:`Signer` that shape, so the card's
key is used through PKCS#11 without ever leaving the card.
"""

from __future__ import annotations

from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.dmp_client.core.errors import LocalProtocolError


class Signer(Protocol):
    """RSA PKCS#1 v1.5 with SHA-256 over ``data``, and the certificate that verifies it."""

    @property
    def certificate(self) -> x509.Certificate: ...

    def sign(self, data: bytes) -> bytes: ...


class SoftwareKeySigner:
    """A software key held in memory (the structure's ORG SIGN key, indirect mode)."""

    def __init__(self, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self._certificate = certificate

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class SignxmlKey:
    """Adapter that signxml calls like a private key; refuses anything but PKCS#1 v1.5 / SHA-256."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self.key_size = self._signer.certificate.public_key().key_size  # type: ignore[union-attr]

    def public_key(self) -> Any:
        return self._signer.certificate.public_key()

    def sign(self, data: bytes, padding: Any, algorithm: Any) -> bytes:
        if type(padding).__name__ != "PKCS1v15" or getattr(algorithm, "name", "") != "sha256":
            raise LocalProtocolError("Seule la signature RSA PKCS#1 v1.5 SHA-256 est prise en charge.")
        return self._signer.sign(data)
