"""The only module that talks HTTP: httpx over mutual TLS, one client per session (keep-alive).

The structure backend uses the standard ``ssl`` module with the structure's certificate (indirect
mode). Both backends verify the host's chain against the configured IGC-Santé roots and check the
host name. Time-outs are per transaction; only idempotent queries are retried automatically.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.dmp_client.core.soap import SoapRequest
from app.dmp_client.errors import HostUnreachable, HttpError, Timeout, TlsError

SOAP_STATUSES = (200, 202, 400, 500)  # a SOAP fault may come with any of these


@dataclass(frozen=True)
class Timeouts:
    """Seconds per kind of transaction (defaults near the DMP's own: find 600, send 200, retrieve 90)."""

    query: float = 60.0
    find: float = 600.0
    send: float = 200.0
    retrieve: float = 90.0
    connect: float = 15.0


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
    status: int
    content_type: str
    body: bytes
    elapsed: float


class Transport:
    """POSTs SOAP requests to the host's services."""

    def __init__(
        self, endpoint: Endpoint, tls: ssl.SSLContext | httpx.BaseTransport, timeouts: Timeouts | None = None
    ):
        self.endpoint = endpoint
        self.timeouts = timeouts or Timeouts()
        if isinstance(tls, ssl.SSLContext):
            self._client = httpx.Client(verify=tls, proxy=endpoint.proxy, trust_env=False)
        else:
            self._client = httpx.Client(transport=tls, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def post(
        self, service: str, request: SoapRequest, timeout: float, *, idempotent: bool = False
    ) -> RawResponse:
        """Send once; idempotent queries get one more try after a connection failure or time-out."""
        attempts = 2 if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._post_once(service, request, timeout)
            except (HostUnreachable, Timeout):
                if attempt == attempts:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _post_once(self, service: str, request: SoapRequest, timeout: float) -> RawResponse:
        url = f"{self.endpoint.base_url.rstrip('/')}/{service}"
        start = time.monotonic()
        try:
            response = self._client.post(
                url,
                content=request.body,
                headers={"Content-Type": request.content_type},
                timeout=httpx.Timeout(timeout, connect=self.timeouts.connect),
            )
        except httpx.TimeoutException:
            raise Timeout() from None
        except httpx.ConnectError as error:
            if (
                isinstance(error.__cause__, ssl.SSLError)
                or "SSL" in str(error)
                or "certificate" in str(error)
            ):
                raise TlsError(f"Connexion TLS refusée : {error}") from None
            raise HostUnreachable() from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            raise HostUnreachable(f"Connexion interrompue par le DMP ({type(error).__name__}).") from None
        if response.status_code not in SOAP_STATUSES:
            raise HttpError(
                f"Le DMP a répondu HTTP {response.status_code}.", code=f"DMP-HTTP-{response.status_code}"
            )
        return RawResponse(
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
            time.monotonic() - start,
        )
