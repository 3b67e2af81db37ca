"""The SOAP exchanges over HTTP: one httpx client per session (keep-alive) over mutual TLS.

Two TLS backends sit under it as httpx transports: the standard ``ssl`` module with the structure's
certificate (indirect mode, ``_bounded_transport`` here), and the card's key through tlslite-ng
(direct mode, ``card_tls.CardTlsTransport``, which the factory passes in). Both verify the host's
chain against the configured IGC-Santé roots and check the host name. Time-outs are per
transaction: one deadline covers the whole exchange (connection, request,
headers, body, a retry) whatever the host's pace, and the bytes read are capped (``bounds``). Only
idempotent queries are retried automatically.

``--trace`` writes every exchange as on the wire: patient data and the signed VIHF. Its folder is
made private (0700), each file 0600 with a name never reused.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from app.dmp_client import bounds
from app.dmp_client.core.errors import HostileXml
from app.dmp_client.core.mtom import MtomRequest, ReceivedPart, content_type_parameters, read_mtom
from app.dmp_client.core.soap import SoapRequest
from app.dmp_client.core.xml import MAX_XML_BYTES
from app.dmp_client.errors import (
    HostUnreachable,
    HttpError,
    Timeout,
    TlsError,
    TraceFileError,
    TransportError,
)
from app.dmp_client.limits import Timeouts as Timeouts  # re-exported (defined apart from httpx)
from app.dmp_client.net_errors import connect_failure
from app.dmp_client.spool import spool

SOAP_STATUSES = (200, 202, 400, 500)  # a SOAP fault may come with any of these


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # e.g. https://localhost:8443/si-dmp-server/v2/services
    trust_files: tuple[Path, ...]
    proxy: str | None = None


def client_context(
    endpoint: Endpoint, certificate: Path, key: Path, password: str | None = None
) -> ssl.SSLContext:
    """TLS 1.2 client context: our roots only, host name checked, the structure's certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305")
    for trust in endpoint.trust_files:
        context.load_verify_locations(trust)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(certificate, key, password=password)
    except (OSError, ssl.SSLError) as error:
        raise TlsError(f"Certificat de la structure inutilisable ({type(error).__name__}).") from None
    return context


@dataclass(frozen=True)
class RawResponse:
    """The SOAP envelope's bytes (the root part of an MTOM answer) and any attachments, on disk."""

    status: int
    content_type: str
    body: bytes
    elapsed: float
    parts: dict[str, ReceivedPart] = field(default_factory=dict)


def spool_sink(content_id: str, content_type: str) -> BinaryIO:
    """Attachments (retrieved documents: patient data) go to an encrypted anonymous temporary file:
    bounded memory, only ciphertext on disk, unreadable once closed (its key was in memory only)."""
    return spool("dmp-piece-")


@dataclass(frozen=True)
class Outgoing:
    """What to POST: a plain SOAP envelope, or an MTOM body streamed from its parts."""

    content_type: str
    length: int
    chunks: Callable[[], Iterator[bytes]]

    @classmethod
    def of(cls, request: SoapRequest | MtomRequest) -> Outgoing:
        if isinstance(request, MtomRequest):
            return cls(request.content_type, request.length, request.chunks)
        body = request.body
        return cls(request.content_type, len(body), lambda: iter((body,)))


class Transport:
    """POSTs SOAP requests to the host's services."""

    def __init__(
        self,
        endpoint: Endpoint,
        tls: ssl.SSLContext | httpx.BaseTransport,
        timeouts: Timeouts | None = None,
        max_response_bytes: int = bounds.DEFAULT_MAX_RESPONSE_BYTES,
    ):
        self.endpoint = endpoint
        self.timeouts = timeouts or Timeouts()
        self.max_response_bytes = max_response_bytes
        self.trace_dir: Path | None = None  # --trace: every exchange written as on the wire
        self._trace_count = 0
        self._trace_lock = threading.Lock()
        if isinstance(tls, ssl.SSLContext):
            self._client = httpx.Client(transport=_bounded_transport(tls, endpoint.proxy), trust_env=False)
            self.concurrency = 4  # parallel queries over the keep-alive pool
        else:
            self._client = httpx.Client(transport=tls, trust_env=False)
            self.concurrency = 4  # the card transport's pool (resumed TLS sessions: one card signature)

    def close(self) -> None:
        self._client.close()

    def post(
        self,
        service: str,
        request: SoapRequest | MtomRequest,
        timeout: float,
        *,
        idempotent: bool = False,
        sink: Callable[[str, str], BinaryIO] = spool_sink,
    ) -> RawResponse:
        """Send once; idempotent queries get one more try after a connection failure, within the
        same deadline: ``timeout`` seconds for the whole exchange, whatever the host's pace."""
        outgoing = Outgoing.of(request)
        budget = bounds.ExchangeBudget(timeout, self.max_response_bytes)
        attempts = 2 if idempotent else 1
        with bounds.exchange(budget):
            for attempt in range(1, attempts + 1):
                try:
                    return self._post_once(service, outgoing, budget, sink)
                except Timeout:
                    raise Timeout(f"Le DMP n'a pas répondu dans le délai prévu ({timeout:g} s).") from None
                except HostUnreachable:
                    if attempt == attempts or budget.left() <= 0.5:
                        raise
                    time.sleep(0.5)
                    budget.received = 0  # a new attempt, a new answer
        raise AssertionError("unreachable")

    def _post_once(
        self,
        service: str,
        outgoing: Outgoing,
        budget: bounds.ExchangeBudget,
        sink: Callable[[str, str], BinaryIO],
    ) -> RawResponse:
        url = f"{self.endpoint.base_url.rstrip('/')}/{service}"
        start = time.monotonic()
        trace = self._trace_files(service)
        left = max(budget.left(), 0.001)
        try:
            with self._client.stream(
                "POST",
                url,
                content=_tee(
                    outgoing.chunks(), trace[0], f"POST {url}\nContent-Type: {outgoing.content_type}"
                ),
                headers={"Content-Type": outgoing.content_type, "Content-Length": str(outgoing.length)},
                timeout=httpx.Timeout(left, connect=min(self.timeouts.connect, left)),
            ) as response:
                if response.status_code not in SOAP_STATUSES:
                    raise HttpError(
                        f"Le DMP a répondu HTTP {response.status_code}.",
                        code=f"DMP-HTTP-{response.status_code}",
                    )
                content_type = response.headers.get("content-type", "")
                received = _tee(
                    bounds.counted(response.iter_bytes(), budget),
                    trace[1],
                    f"HTTP {response.status_code}\nContent-Type: {content_type}",
                )
                body, parts = _read_body(content_type, received, sink)
        except httpx.TimeoutException:
            raise Timeout() from None
        except TransportError:
            raise
        except httpx.ConnectError as error:
            raise connect_failure(error) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            raise HostUnreachable(f"Connexion interrompue par le DMP ({type(error).__name__}).") from None
        finally:
            for handle in trace:
                if handle is not None:
                    handle.close()
        return RawResponse(response.status_code, content_type, body, time.monotonic() - start, parts)

    def _trace_files(self, service: str) -> tuple[BinaryIO | None, BinaryIO | None]:
        if self.trace_dir is None:
            return None, None
        with self._trace_lock:
            self._trace_count += 1
            stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{self._trace_count:04d}-{service}"
            return trace_files(self.trace_dir, stem)


def trace_files(folder: Path, stem: str) -> tuple[BinaryIO, BinaryIO]:
    """The request and response files of one traced exchange: patient data and the signed VIHF, so
    the folder is private (0700) and each file is created 0600 and never over an existing one (a
    second process tracing into the same folder in the same second gets the next free name)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # an existing folder too: mkdir's mode is masked and ignored then
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        try:
            request = _create_private(folder / f"{stem}{suffix}-requete.txt")
        except FileExistsError:
            continue
        try:
            return request, _create_private(folder / f"{stem}{suffix}-reponse.txt")
        except FileExistsError:
            request.close()
            continue
    raise TraceFileError()


def _create_private(path: Path) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


def _bounded_transport(tls: ssl.SSLContext, proxy: str | None) -> httpx.HTTPTransport:
    """httpx's transport over httpcore's socket backend wrapped by :class:`bounds.BoundedBackend`:
    every connect, TLS handshake, read and write of an exchange is bounded by its deadline."""
    transport = httpx.HTTPTransport(verify=tls, proxy=proxy, trust_env=False)
    pool = transport._pool  # httpcore.ConnectionPool or HTTPProxy, both take a network backend
    pool._network_backend = bounds.BoundedBackend(pool._network_backend)
    return transport


def _tee(chunks: Iterator[bytes], handle: BinaryIO | None, head: str) -> Iterator[bytes]:
    """Copy what goes over the wire into a trace file (first line: request line or status)."""
    if handle is None:
        yield from chunks
        return
    handle.write(head.encode() + b"\n\n")
    for chunk in chunks:
        handle.write(chunk)
        yield chunk


def _read_body(
    content_type: str, chunks: Iterator[bytes], sink: Callable[[str, str], BinaryIO]
) -> tuple[bytes, dict[str, ReceivedPart]]:
    """A multipart/related answer is split as it arrives; a plain one is read up to the XML cap."""
    media, _ = content_type_parameters(content_type)
    if media == "multipart/related":
        reader = read_mtom(content_type, chunks, sink)
        return reader.root, reader.parts
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_XML_BYTES:
            raise HostileXml()
    return bytes(buffer), {}
