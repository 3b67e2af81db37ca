"""Mutual TLS with a key that never leaves the card: tlslite-ng, signing through a callback.

TLS 1.2 only, ECDHE-RSA with AES-GCM only, RSA PKCS#1 v1.5 signatures (CPS3 cannot do PSS). tlslite
does not validate certificates, so the host's chain and name are verified here with
``cryptography``'s RFC 5280 verifier against our IGC-Santé roots, right after the handshake and
before a single byte of the request is sent.
"""

from __future__ import annotations

import builtins
import contextlib
import http.client
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from tlslite.api import X509, HandshakeSettings, HTTPTLSConnection, X509CertChain
from tlslite.errors import TLSError
from tlslite.utils.python_rsakey import Python_RSAKey

from app.dmp_client.errors import HostUnreachable, Timeout, TlsError

_READ_CHUNK = 256 * 1024

DigestSigner = Callable[[bytes], bytes]


class CardRsaKey(Python_RSAKey):  # type: ignore[misc]
    """tlslite's view of the card's authentication key: public numbers here, signing on the card."""

    def __init__(self, certificate: x509.Certificate, sign_digest_info: DigestSigner) -> None:
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise TlsError("Le certificat d'authentification de la carte n'est pas RSA.")
        numbers = public.public_numbers()
        super().__init__(numbers.n, numbers.e)
        self._sign = sign_digest_info

    def hasPrivateKey(self) -> bool:
        return True

    def sign(
        self, bytes: Any, padding: str = "pkcs1", hashAlg: str | None = None, saltLen: int | None = None
    ) -> bytearray:
        if padding.lower() != "pkcs1":
            raise TLSError("La carte CPS3 ne signe qu'en PKCS#1 v1.5.")
        data = self.addPKCS1Prefix(bytes, hashAlg) if hashAlg is not None else bytes
        return bytearray(self._sign(builtins.bytes(data)))  # ``bytes`` is tlslite's parameter name here


def _settings() -> HandshakeSettings:
    settings = HandshakeSettings()
    settings.minVersion = (3, 3)
    settings.maxVersion = (3, 3)
    settings.cipherNames = ["aes256gcm", "aes128gcm"]
    settings.keyExchangeNames = ["ecdhe_rsa"]
    settings.rsaSchemes = ["pkcs1"]
    return settings


class CardTlsTransport(httpx.BaseTransport):
    """An httpx transport whose TLS client authentication is done by the card (keep-alive kept)."""

    def __init__(
        self,
        auth_certificate: x509.Certificate,
        sign_digest_info: DigestSigner,
        roots: list[x509.Certificate],
        timeout: float = 60.0,
    ) -> None:
        chain = X509CertChain([_tlslite_cert(auth_certificate)])
        self._chain = chain
        self._key = CardRsaKey(auth_certificate, sign_digest_info)
        self._roots = roots
        self._timeout = timeout
        self._connection: HTTPTLSConnection | None = None
        self._origin: tuple[str, int] | None = None

    def _connect(self, host: str, port: int, timeout: float) -> HTTPTLSConnection:
        if self._connection is not None and self._origin == (host, port):
            return self._connection
        self.close()
        connection = HTTPTLSConnection(
            host, port, certChain=self._chain, privateKey=self._key, settings=_settings(), timeout=timeout
        )
        try:
            connection.connect()
        except TimeoutError:
            raise Timeout() from None
        except TLSError as error:
            raise TlsError(f"Poignée de main TLS refusée ({type(error).__name__}).") from None
        except OSError:
            raise HostUnreachable() from None
        self._verify_server(connection, host)
        self._connection, self._origin = connection, (host, port)
        return connection

    def _verify_server(self, connection: HTTPTLSConnection, host: str) -> None:
        chain = connection.sock.session.serverCertChain
        certificates = [x509.load_der_x509_certificate(bytes(c.bytes)) for c in chain.x509List]
        verifier = PolicyBuilder().store(Store(self._roots)).build_server_verifier(x509.DNSName(host))
        try:
            verifier.verify(certificates[0], certificates[1:])
        except VerificationError as error:
            connection.close()
            raise TlsError(f"Certificat du serveur DMP refusé : {error}") from None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        timeout = request.extensions.get("timeout", {}).get("read") or self._timeout
        connection = self._connect(url.hostname or "", url.port or 443, timeout)
        path = url.path + (f"?{url.query}" if url.query else "")
        try:
            connection.request(request.method, path, body=request.read(), headers=dict(request.headers))
            response = connection.getresponse()
        except TimeoutError:
            self.close()
            raise httpx.ReadTimeout("card TLS read timed out", request=request) from None
        except (OSError, TLSError, http.client.HTTPException) as error:
            self.close()
            raise httpx.RemoteProtocolError(
                f"card TLS connection lost: {type(error).__name__}", request=request
            ) from None
        keep = response.getheader("connection", "").lower() != "close"
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_CardStream(self, response, request, keep),
            request=request,
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
        self._connection = None


def _tlslite_cert(certificate: x509.Certificate) -> X509:
    parsed = X509()
    parsed.parseBinary(bytearray(certificate.public_bytes(serialization.Encoding.DER)))
    return parsed


class _CardStream(httpx.SyncByteStream):
    """The response body read in bounded chunks as it arrives (tlslite's socket emulation can hand
    http.client a short read, so ``read()`` of the whole body is not used), with its errors mapped."""

    def __init__(
        self, owner: CardTlsTransport, response: http.client.HTTPResponse, request: httpx.Request, keep: bool
    ) -> None:
        self._owner = owner
        self._response = response
        self._request = request
        self._keep = keep
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._response.read(_READ_CHUNK)
                if not chunk:
                    break
                yield chunk
        except TimeoutError:
            self._owner.close()
            raise httpx.ReadTimeout("card TLS read timed out", request=self._request) from None
        except (OSError, TLSError, http.client.HTTPException) as error:
            self._owner.close()
            raise httpx.RemoteProtocolError(
                f"card TLS connection lost: {type(error).__name__}", request=self._request
            ) from None
        if self._response.length:  # http.client counts down what Content-Length still announces
            self._owner.close()
            raise httpx.RemoteProtocolError("card TLS response truncated", request=self._request)
        self._done = True

    def close(self) -> None:
        if not (self._done and self._keep):
            self._owner.close()  # a half-read answer leaves the connection unusable
