"""Mutual TLS with a key that never leaves the card: tlslite-ng, signing through a callback.

TLS 1.2 only, ECDHE-RSA with AES-GCM only, RSA PKCS#1 v1.5 signatures (CPS3 cannot do PSS). tlslite
does not validate certificates, so the host's chain and name are verified here with
``cryptography``'s RFC 5280 verifier against our IGC-Santé roots *inside* the handshake: as soon as
the server's Certificate, key exchange and ServerHelloDone are in, before the client's Certificate
and the CertificateVerify the card signs are sent. An unverified server never sees the card's
signature nor the professional's certificate.

Every socket operation is bounded by the exchange's deadline and the bytes read are counted against
its cap (``bounds.BoundedSocket``), whatever the host's pace.
"""

from __future__ import annotations

import builtins
import contextlib
import http.client
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from tlslite.api import X509, HandshakeSettings, TLSConnection, X509CertChain
from tlslite.constants import AlertDescription, CipherSuite
from tlslite.errors import TLSError
from tlslite.recordlayer import RecordLayer
from tlslite.utils.python_rsakey import Python_RSAKey

from app.dmp_client import bounds
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


class NativeAead:
    """tlslite-ng's AEAD interface (``seal``/``open``, ``name``, ``tagLength``...) over
    ``cryptography``'s OpenSSL AES-GCM or ChaCha20-Poly1305: the record layer at native speed
    instead of tlslite's pure-Python ciphers (0.5 MB/s here, where it finds neither M2Crypto nor
    the old pycrypto API). ``open`` returns ``None`` on a bad tag, as tlslite's own ciphers do."""

    isBlockCipher = False
    isAEAD = True
    nonceLength = 12
    tagLength = 16
    implementation = "openssl"  # tlslite's name for a native backend

    def __init__(self, key: bytes | bytearray, name: str) -> None:
        self.key = key
        self.name = name
        self._aead: AESGCM | ChaCha20Poly1305 = (
            ChaCha20Poly1305(bytes(key)) if name == "chacha20-poly1305" else AESGCM(bytes(key))
        )

    def seal(
        self, nonce: bytes | bytearray, plaintext: bytes | bytearray, data: bytes | bytearray
    ) -> bytearray:
        return bytearray(self._aead.encrypt(bytes(nonce), plaintext, bytes(data)))

    def open(
        self, nonce: bytes | bytearray, ciphertext: bytes | bytearray, data: bytes | bytearray
    ) -> bytearray | None:
        try:
            return bytearray(self._aead.decrypt(bytes(nonce), ciphertext, bytes(data)))
        except InvalidTag:
            return None


def _native_aesgcm(key: bytearray, implementations: object = None) -> NativeAead:
    return NativeAead(key, "aes128gcm" if len(key) == 16 else "aes256gcm")


def _native_chacha20(key: bytearray, implementations: object = None) -> NativeAead:
    return NativeAead(key, "chacha20-poly1305")


def _native_cipher_settings(cipher_suite: int) -> tuple[int, int, Callable[..., Any]]:
    """tlslite's ``RecordLayer._getCipherSettings`` with the AEAD constructors swapped for ours
    (only the suites :func:`_settings` offers can be negotiated: the others keep tlslite's)."""
    key_length, iv_length, create = RecordLayer._getCipherSettings(cipher_suite)
    if cipher_suite in CipherSuite.aes128GcmSuites or cipher_suite in CipherSuite.aes256GcmSuites:
        create = _native_aesgcm
    elif cipher_suite in CipherSuite.chacha20Suites:
        create = _native_chacha20
    return key_length, iv_length, create


def install_native_aead(connection: TLSConnection) -> None:
    """The one place native record-layer crypto is plugged in: this connection's record layer only
    (an instance attribute over the static method; tlslite's module-level factory and every other
    tlslite user in the process are left alone). Idempotent."""
    connection._recordLayer._getCipherSettings = _native_cipher_settings


def _settings() -> HandshakeSettings:
    settings = HandshakeSettings()
    settings.minVersion = (3, 3)
    settings.maxVersion = (3, 3)
    # The DMP's suites [FI-579] (dmp-interface.md §2.2) that are AEAD: ECDHE-RSA with AES-GCM or
    # ChaCha20-Poly1305 (its AES-256-CBC-SHA384 is left out, as in structure mode).
    settings.cipherNames = ["aes256gcm", "aes128gcm", "chacha20-poly1305"]
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
        self._connection: _CardConnection | None = None
        self._origin: tuple[str, int] | None = None

    def _connect(self, host: str, port: int, timeout: float) -> _CardConnection:
        if self._connection is not None and self._origin == (host, port):
            return self._connection
        self.close()
        connection = _CardConnection(host, port, timeout, self._handshake)
        try:
            connection.connect()
        except TimeoutError:
            raise Timeout() from None
        except TlsError:
            raise
        except TLSError as error:
            raise TlsError(f"Poignée de main TLS refusée ({type(error).__name__}).") from None
        except OSError:
            raise HostUnreachable() from None
        self._connection, self._origin = connection, (host, port)
        return connection

    def _handshake(self, sock: socket.socket, host: str) -> TLSConnection:
        """Mutual TLS over ``sock``, the server verified before the card signs anything."""
        tls = _VerifyingTLSConnection(bounds.BoundedSocket(sock, sock.gettimeout()), self._verifier(host))
        try:
            tls.handshakeClientCert(
                certChain=self._chain, privateKey=self._key, settings=_settings(), serverName=_sni(host)
            )
        except BaseException:
            with contextlib.suppress(OSError):
                sock.close()
            if tls.refusal is not None:
                raise tls.refusal from None
            raise
        return tls

    def _verifier(self, host: str) -> Callable[[X509CertChain], None]:
        def verify(chain: X509CertChain) -> None:
            try:
                certificates = [x509.load_der_x509_certificate(bytes(c.bytes)) for c in chain.x509List]
            except ValueError:
                raise TlsError("Certificat du serveur DMP illisible.") from None
            if not certificates:
                raise TlsError("Le serveur DMP n'a présenté aucun certificat.")
            verifier = PolicyBuilder().store(Store(self._roots)).build_server_verifier(x509.DNSName(host))
            try:
                verifier.verify(certificates[0], certificates[1:])
            except VerificationError as error:
                raise TlsError(f"Certificat du serveur DMP refusé : {error}") from None

        return verify

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("read") or self._timeout
        connection = self._connect(url.hostname or "", url.port or 443, timeouts.get("connect") or timeout)
        connection.sock.settimeout(timeout)  # per read; the exchange's deadline bounds the sum
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

    def connections(self) -> list[_CardConnection]:
        """The open connections (for tests and diagnostics)."""
        return [self._connection] if self._connection is not None else []

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
        self._connection = None


if not hasattr(TLSConnection, "_clientGetKeyFromChain"):  # pragma: no cover - a tlslite-ng upgrade
    raise ImportError("tlslite-ng: _clientGetKeyFromChain absent, the host cannot be verified before signing")


class _VerifyingTLSConnection(TLSConnection):  # type: ignore[misc]
    """tlslite's client with the server's chain checked where tlslite extracts the server's key
    (``_clientGetKeyFromChain``): after the server's Certificate, ServerKeyExchange,
    CertificateRequest and ServerHelloDone, before the client's Certificate, ClientKeyExchange and
    CertificateVerify (tlslite-ng 0.8 ``_clientKeyExchange``). A refusal sends a bad_certificate
    alert and ends the handshake; ``refusal`` keeps the reason."""

    def __init__(self, sock: Any, verify: Callable[[X509CertChain], None]) -> None:
        super().__init__(sock)
        install_native_aead(self)
        self._verify_chain = verify
        self.refusal: TlsError | None = None

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any, tack_ext: Any = None) -> Iterator[Any]:
        try:
            self._verify_chain(certificate.cert_chain)
        except TlsError as error:
            self.refusal = error
            yield from self._sendError(AlertDescription.bad_certificate, str(error))
        yield from super()._clientGetKeyFromChain(certificate, settings, tack_ext)


class _CardConnection(http.client.HTTPConnection):
    """http.client over our own TCP socket and tlslite handshake (no proxy: the card's TLS goes
    straight to the host)."""

    def __init__(
        self, host: str, port: int, timeout: float, handshake: Callable[[socket.socket, str], TLSConnection]
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._handshake_with = handshake

    def connect(self) -> None:
        budget = bounds.current()
        connect_timeout = budget.left(self.timeout) if budget is not None else self.timeout
        if connect_timeout is not None and connect_timeout <= 0:
            raise TimeoutError("exchange deadline reached")
        sock = socket.create_connection((self.host, self.port), connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeout)
        self.sock = self._handshake_with(sock, self.host)


def _sni(host: str) -> str | None:
    """The server name sent in the ClientHello: none for an IP address (RFC 6066 §3)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


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
