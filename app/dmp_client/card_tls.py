"""Mutual TLS with a key that never leaves the card: tlslite-ng, signing through a callback.

TLS 1.2 only, ECDHE-RSA with AES-GCM only, RSA PKCS#1 v1.5 signatures (CPS3 cannot do PSS). tlslite
does not validate certificates, so the host's chain and name are verified here with
``cryptography``'s RFC 5280 verifier against our IGC-Santé roots *inside* the handshake: as soon as
the server's Certificate, key exchange and ServerHelloDone are in, before the client's Certificate
and the CertificateVerify the card signs are sent. An unverified server never sees the card's
signature nor the professional's certificate.

Every socket operation is bounded by the exchange's deadline and the bytes read are counted against
its cap (``bounds.BoundedSocket``), whatever the host's pace.

With ``DMP_PROXY`` set, each connection goes through the HTTP proxy's CONNECT tunnel (as the
structure transport does through httpx); the TLS, its checks and the card's signature stay end to
end between the client and the host: the proxy sees only the tunnel's target.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import http.client
import io
import ipaddress
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from tlslite.api import X509, HandshakeSettings, Session, TLSConnection, X509CertChain
from tlslite.constants import AlertDescription
from tlslite.errors import TLSError
from tlslite.utils.python_rsakey import Python_RSAKey

from app.dmp_client import bounds
from app.dmp_client.card_records import use_native_records
from app.dmp_client.errors import ClientConfigError, HostUnreachable, Timeout, TlsError

_READ_CHUNK = 256 * 1024
_READ_BUFFER = 16 * 1024  # one TLS record's plaintext at most: http.client's readline buffer
_WRITE_PIECE = 64 * 1024  # four TLS records of 16 KiB per write

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
    """An httpx transport whose TLS client authentication is done by the card: a small pool of
    keep-alive connections, the first one a full handshake (one card signature), the others
    resuming its TLS session (no signature), so queries can run ``POOL_SIZE`` in flight."""

    POOL_SIZE = 4

    def __init__(
        self,
        auth_certificate: x509.Certificate,
        sign_digest_info: DigestSigner,
        roots: list[x509.Certificate],
        timeout: float = 60.0,
        proxy: str | None = None,
    ) -> None:
        self._proxy = parse_proxy(proxy)
        chain = X509CertChain([_tlslite_cert(auth_certificate)])
        self._chain = chain
        self._key = CardRsaKey(auth_certificate, sign_digest_info)
        self._roots = roots
        self._timeout = timeout
        self._lock = threading.Lock()
        # One handshake at a time: the first one's session is there for the next to resume.
        self._handshaking = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.POOL_SIZE)
        self._idle: list[tuple[tuple[str, int], _CardConnection]] = []
        self._sessions: dict[tuple[str, int], Session] = {}  # per origin, never across hosts
        self.full_handshakes = 0  # each one a card signature (resumptions are not counted)
        self.dropped_idle = 0  # idle connections found closed by the host and not reused

    def _connection(self, origin: tuple[str, int], timeout: float) -> _CardConnection:
        """An idle connection to ``origin`` still open, else a new one. An idle connection the
        host has closed meanwhile (keep-alive time-out: its socket reads EOF or an alert) is
        dropped *before* anything is sent on it, so a non-idempotent send, never retried, does not
        fail for a stale connection; the new one resumes the session (no card signature)."""
        while True:
            with self._lock:
                index = next((i for i, (where, _) in enumerate(self._idle) if where == origin), None)
                if index is None:
                    break
                _, idle = self._idle.pop(index)
            if not _dropped(idle):
                return idle
            self.dropped_idle += 1
            with contextlib.suppress(OSError):
                idle.close()
        host, port = origin
        connection = _CardConnection(host, port, timeout, self._handshake, self._proxy)
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
        return connection

    def _handshake(self, sock: socket.socket, host: str, port: int) -> TLSConnection:
        """Mutual TLS over ``sock``, the server verified before the card signs anything; a session
        of the same origin resumed when the host allows it (then nothing is signed)."""
        tls = _VerifyingTLSConnection(bounds.BoundedSocket(sock, sock.gettimeout()), self._verifier(host))
        origin = (host, port)
        try:
            with self._handshaking:
                session = self._sessions.get(origin)
                tls.handshakeClientCert(
                    certChain=self._chain,
                    privateKey=self._key,
                    session=session if session is not None and session.valid() else None,
                    settings=_settings(),
                    serverName=_sni(host),
                )
                if not tls.resumed:
                    self.full_handshakes += 1
                with self._lock:
                    if tls.session is not None and tls.session.valid():
                        self._sessions[origin] = tls.session
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
        origin = (url.hostname or "", url.port or 443)
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("read") or self._timeout
        # At most POOL_SIZE connections in use, each given back with its answer.
        if not self._slots.acquire(timeout=timeout):
            raise httpx.PoolTimeout("card TLS pool: no connection free in time", request=request)
        try:
            connection = self._connection(origin, timeouts.get("connect") or timeout)
        except BaseException:
            self._slots.release()
            raise
        connection.sock.settimeout(timeout)  # per read, this exchange's; its deadline bounds the sum
        path = url.path + (f"?{url.query}" if url.query else "")
        try:
            # The body from its stream in record-sized pieces, never joined (http.client sends an
            # iterable chunk by chunk; the Content-Length header keeps it from chunked encoding).
            body = _pieces(request.stream) if "content-length" in request.headers else request.read()
            connection.request(request.method, path, body=body, headers=dict(request.headers))
            response = connection.getresponse()
        except TimeoutError:
            self._release(origin, connection, reusable=False)
            raise httpx.ReadTimeout("card TLS read timed out", request=request) from None
        except (OSError, TLSError, http.client.HTTPException) as error:
            self._release(origin, connection, reusable=False)
            raise httpx.RemoteProtocolError(
                f"card TLS connection lost: {type(error).__name__}", request=request
            ) from None
        keep = response.getheader("connection", "").lower() != "close"
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_CardStream(
                lambda reusable: self._release(origin, connection, reusable and keep), response, request
            ),
            request=request,
        )

    def _release(self, origin: tuple[str, int], connection: _CardConnection, reusable: bool) -> None:
        """Back to the pool after a fully read answer; closed otherwise (a half-read answer or a
        failed exchange leaves the connection unusable)."""
        if reusable:
            with self._lock:
                self._idle.append((origin, connection))
        else:
            with contextlib.suppress(OSError):
                connection.close()
        self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._sessions.clear()
        for _, connection in idle:
            with contextlib.suppress(OSError):
                connection.close()


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
        use_native_records(self)  # AES-GCM by OpenSSL, not tlslite's pure Python (card_records.py)
        self._verify_chain = verify
        self.refusal: TlsError | None = None

    def makefile(self, mode: str = "r", bufsize: int = -1) -> Any:
        """Reading through a buffer, as ``ssl.SSLSocket.makefile`` does: tlslite-ng hands out an
        unbuffered ``SocketIO`` for reading, so http.client's ``readline`` of the status line and
        headers cost one tlslite read per byte (~170 per answer); writing as tlslite has it."""
        file = super().makefile(mode, bufsize)
        if "w" not in mode and not isinstance(file, io.BufferedIOBase):
            return io.BufferedReader(file, _READ_BUFFER if bufsize <= 0 else bufsize)
        return file

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any, tack_ext: Any = None) -> Iterator[Any]:
        try:
            self._verify_chain(certificate.cert_chain)
        except TlsError as error:
            self.refusal = error
            yield from self._sendError(AlertDescription.bad_certificate, str(error))
        yield from super()._clientGetKeyFromChain(certificate, settings, tack_ext)


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy (``DMP_PROXY``) reached in clear, asked for a CONNECT tunnel to the host."""

    host: str
    port: int
    authorization: str | None = None  # the Proxy-Authorization value, from the URL's user:password


def parse_proxy(url: str | None) -> Proxy | None:
    """``http://[user:password@]host[:port]`` (a bare ``host:port`` is taken as http); an
    ``https://`` proxy (TLS to the proxy itself) is not supported by the card transport."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ClientConfigError(
            "Le serveur mandataire (DMP_PROXY) doit être de la forme http://hôte:port en mode carte."
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ClientConfigError("Le port du serveur mandataire (DMP_PROXY) est invalide.") from None
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, port, authorization)


_MAX_TUNNEL_ANSWER = 16 * 1024  # the proxy's answer to CONNECT: a status line and a few headers


def open_tunnel(sock: Any, proxy: Proxy, host: str, port: int) -> None:
    """CONNECT ``host:port`` through ``proxy`` on ``sock`` (RFC 9110 §9.3.6): the card's TLS then
    runs end to end with the host through the tunnel, the host's chain and name verified as without
    a proxy. The answer is read byte by byte up to its blank line (nothing of the host's TLS is
    consumed) and bounded in size; anything but a 2xx ends in DMP-INJOIGNABLE."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    answer = bytearray()
    while not answer.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise HostUnreachable("Le serveur mandataire a fermé la connexion (CONNECT).")
        answer += byte
        if len(answer) > _MAX_TUNNEL_ANSWER:
            raise HostUnreachable("Réponse du serveur mandataire trop longue (CONNECT).")
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise HostUnreachable("Réponse du serveur mandataire illisible (CONNECT).")
    if not 200 <= int(fields[1]) < 300:
        raise HostUnreachable(f"Le serveur mandataire a refusé le tunnel vers le DMP (HTTP {fields[1]}).")


class _CardConnection(http.client.HTTPConnection):
    """http.client over our own TCP socket and tlslite handshake: straight to the host, or through
    an HTTP proxy's CONNECT tunnel (the card's TLS is still end to end with the host)."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        handshake: Callable[[socket.socket, str, int], TLSConnection],
        proxy: Proxy | None = None,
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._handshake_with = handshake
        self._proxy = proxy

    def connect(self) -> None:
        budget = bounds.current()
        connect_timeout = budget.left(self.timeout) if budget is not None else self.timeout
        if connect_timeout is not None and connect_timeout <= 0:
            raise TimeoutError("exchange deadline reached")
        first_hop = (self._proxy.host, self._proxy.port) if self._proxy else (self.host, self.port)
        sock = socket.create_connection(first_hop, connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeout)
        if self._proxy is not None:
            try:
                open_tunnel(bounds.BoundedSocket(sock, self.timeout), self._proxy, self.host, self.port)
            except BaseException:
                with contextlib.suppress(OSError):
                    sock.close()
                raise
        self.sock = self._handshake_with(sock, self.host, self.port)


def _pieces(stream: Any, size: int = _WRITE_PIECE) -> Iterator[bytes | memoryview]:
    """The request's chunks cut to at most ``size`` bytes (views, no copy): tlslite re-slices what
    it is given record by record, so a large chunk would cost time growing with its square."""
    for chunk in stream:
        view = memoryview(chunk)
        for start in range(0, len(view), size):
            yield view[start : start + size]


def _dropped(connection: _CardConnection) -> bool:
    """Whether an idle keep-alive connection is unusable: closed, or its socket readable (between
    an answer and the next request an HTTP/1.1 host sends nothing but EOF or a TLS alert)."""
    tls = connection.sock
    if tls is None or getattr(tls, "closed", True):
        return True
    raw: Any = getattr(tls, "sock", None)  # tlslite's BufferedSocket over our BoundedSocket
    if getattr(raw, "_read_buffer", b""):
        return True  # bytes already received and not asked for
    raw = getattr(raw, "socket", raw)
    try:
        readable, _, _ = select.select([raw.fileno()], [], [], 0)
    except (AttributeError, OSError, ValueError):
        return True
    return bool(readable)


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
    http.client a short read, so ``read()`` of the whole body is not used), with its errors mapped;
    closing it gives the connection back (reusable only when the answer was read to its end)."""

    def __init__(
        self, release: Callable[[bool], None], response: http.client.HTTPResponse, request: httpx.Request
    ) -> None:
        self._release: Callable[[bool], None] | None = release
        self._response = response
        self._request = request
        self._done = False

    def _give_back(self, reusable: bool) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(reusable)

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._response.read(_READ_CHUNK)
                if not chunk:
                    break
                yield chunk
        except TimeoutError:
            self._give_back(False)
            raise httpx.ReadTimeout("card TLS read timed out", request=self._request) from None
        except (OSError, TLSError, http.client.HTTPException) as error:
            self._give_back(False)
            raise httpx.RemoteProtocolError(
                f"card TLS connection lost: {type(error).__name__}", request=self._request
            ) from None
        if self._response.length:  # http.client counts down what Content-Length still announces
            self._give_back(False)
            raise httpx.RemoteProtocolError("card TLS response truncated", request=self._request)
        self._done = True

    def close(self) -> None:
        self._give_back(self._done)
