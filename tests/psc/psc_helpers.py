"""The sandbox PSC provider in-process for the tests (a free loopback port, real TLS) and the TLS
context a client of it uses."""

from __future__ import annotations

import ssl
from contextlib import AbstractContextManager
from pathlib import Path

from sandbox.psc.server import PscConfig, PscProvider, serve_in_thread
from tests.host_fixture import serving


def running_provider(config: PscConfig) -> AbstractContextManager[PscProvider]:
    return serving(PscProvider(("127.0.0.1", 0), config), serve_in_thread)


def client_tls(pki: Path, mtls: bool = True) -> ssl.SSLContext:
    """Trusting the test PKI (``pki``: its folder of certificates); with the structure's ORG
    AUTH_CLI certificate when ``mtls`` (RFC 8705 client authentication)."""
    context = ssl.create_default_context(cafile=str(pki / "trust-bundle.pem"))
    if mtls:
        context.load_cert_chain(pki / "structure-auth.pem", pki / "structure-auth.key")
    return context
