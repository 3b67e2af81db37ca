"""The card TLS connection's record protection done natively: AES-GCM and ChaCha20-Poly1305 from
``cryptography`` (OpenSSL) under tlslite-ng's record layer.

tlslite-ng picks its AEAD implementation among "openssl" (M2Crypto), "pycrypto" (the old PyCrypto
API) and "python"; neither native backend is installed with us, so it fell back to pure Python
(0.5 MB/s, bench/README.md). Only the symmetric record protection moves here: the handshake, the
certificate checks (card_tls.py) and the client signature on the card are untouched.

The change is per connection (``use_native_records``): the connection's own record layer gets a
cipher-settings function that hands back our AEAD objects for the GCM and ChaCha20 suites of TLS
1.2 (RFC 5288, RFC 7905: 12-byte nonce, 16-byte tag); tlslite builds the nonce and the additional
data itself, as for its own implementations. Nothing global in tlslite is patched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from tlslite.constants import CipherSuite
from tlslite.recordlayer import RecordLayer

IMPLEMENTATION = "cryptography"


class NativeAead:
    """The interface tlslite's record layer uses (``tlslite.utils.aesgcm.AESGCM``): ``seal``,
    ``open`` (None on a bad tag), ``name``, ``key``, ``implementation``, nonce and tag lengths."""

    isBlockCipher = False
    isAEAD = True
    nonceLength = 12
    tagLength = 16
    implementation = IMPLEMENTATION

    def __init__(
        self, key: bytes | bytearray, name: str, cipher: type[AESGCM] | type[ChaCha20Poly1305]
    ) -> None:
        self.key = bytes(key)
        self.name = name
        self._cipher = cipher(self.key)

    def seal(
        self, nonce: bytes | bytearray, plaintext: bytes | bytearray, data: bytes | bytearray
    ) -> bytearray:
        if len(nonce) != self.nonceLength:
            raise ValueError("Bad nonce length")
        return bytearray(self._cipher.encrypt(bytes(nonce), bytes(plaintext), bytes(data)))

    def open(
        self, nonce: bytes | bytearray, ciphertext: bytes | bytearray, data: bytes | bytearray
    ) -> bytearray | None:
        if len(nonce) != self.nonceLength:
            raise ValueError("Bad nonce length")
        if len(ciphertext) < self.tagLength:
            return None
        try:
            return bytearray(self._cipher.decrypt(bytes(nonce), bytes(ciphertext), bytes(data)))
        except InvalidTag:
            return None


def _aes_gcm(key: bytearray, implementations: Any = None) -> NativeAead:
    return NativeAead(key, "aes128gcm" if len(key) == 16 else "aes256gcm", AESGCM)


def _chacha20(key: bytearray, implementations: Any = None) -> NativeAead:
    return NativeAead(key, "chacha20-poly1305", ChaCha20Poly1305)


def _cipher_settings(cipher_suite: int) -> tuple[int, int, Callable[..., Any] | None]:
    """tlslite's (key length, implicit IV length, cipher factory) with our factories for the AEAD
    suites; every other suite as tlslite has it (our handshake settings offer none of them)."""
    key_length, iv_length, create = RecordLayer._getCipherSettings(cipher_suite)
    if cipher_suite in CipherSuite.aes128GcmSuites or cipher_suite in CipherSuite.aes256GcmSuites:
        return key_length, iv_length, _aes_gcm
    if cipher_suite in CipherSuite.chacha20Suites:
        return key_length, iv_length, _chacha20
    return key_length, iv_length, create


def use_native_records(connection: Any) -> None:
    """Make ``connection`` (a tlslite ``TLSConnection``, before its handshake) protect its records
    with ``cryptography``."""
    record_layer = connection._recordLayer
    if not isinstance(record_layer, RecordLayer):  # pragma: no cover - a tlslite-ng upgrade
        raise ImportError("tlslite-ng: the connection has no RecordLayer to give native ciphers to")
    record_layer._getCipherSettings = _cipher_settings
