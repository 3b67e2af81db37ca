"""The sandbox PSC provider in-process for the tests (a free loopback port, real TLS) and the TLS
context a client of it uses."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.psc.server import PscConfig, PscProvider, serve_in_thread


@contextmanager
def running_provider(config: PscConfig) -> Iterator[PscProvider]:
    server = PscProvider(("127.0.0.1", 0), config)
    serve_in_thread(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client_tls(pki: Path, mtls: bool = True) -> ssl.SSLContext:
    """Trusting the test PKI (``pki``: its folder of certificates); with the structure's ORG
    AUTH_CLI certificate when ``mtls`` (RFC 8705 client authentication)."""
    context = ssl.create_default_context(cafile=str(pki / "trust-bundle.pem"))
    if mtls:
        context.load_cert_chain(pki / "structure-auth.pem", pki / "structure-auth.key")
    return context
