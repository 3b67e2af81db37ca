"""The INSi client over real mutual TLS (structure mode: the structure's authentication certificate
in an ``ssl`` context), against a small in-test HTTPS endpoint built from the rig's test PKI. The
endpoint checks the client certificate and answers from the public example answers; it is not the
sandbox INSi host (sandbox/insi/, another engineer's), whose integration test is the coordinator's."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.dmp_client.core import insi
from app.dmp_client.errors import InsiTlsError
from app.dmp_client.insi_client import InsiClient, InsiSettings
from app.dmp_client.transport import Endpoint, client_context
from app.ins import IdentityTraits

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INSTANCE = "3f0c7a52-5d2e-4c1b-9a43-2f6f1b0d9e11"
TRAITS = IdentityTraits.parse("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")


class Handler(BaseHTTPRequestHandler):
    server: FakeInsiServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(
            (self.path, self.headers.get("Content-Type", ""), self.rfile.read(length))
        )
        peer = self.connection.getpeercert()  # type: ignore[attr-defined]
        self.server.peers.append(dict(x[0] for x in peer["subject"]) if peer else {})
        body = (FIXTURES / "TEST_2.04_cas2.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeInsiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pki: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki / "server.pem", pki / "server.key")
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki / "trust-bundle.pem")
        context.load_verify_locations(pki / "intermediates.pem")
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.received: list[tuple[str, str, bytes]] = []
        self.peers: list[dict[str, str]] = []


@pytest.fixture
def server(pki_dir: Path) -> Iterator[FakeInsiServer]:
    fake = FakeInsiServer(pki_dir / "pki")
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


def structure_insi(server: FakeInsiServer, pki: Path, trust: tuple[Path, ...]) -> InsiClient:
    endpoint = Endpoint("unused", trust)
    tls = client_context(endpoint, pki / "structure-auth.pem", pki / "structure-auth.key")
    url = f"https://localhost:{server.server_address[1]}/lps"
    return InsiClient.open(
        InsiSettings(url, "BAC-A-SABLE", 10.0), tls, trust, ("ClientDMP", "1.0.0", INSTANCE), "1990000017"
    )


def test_a_search_over_mutual_tls_with_the_structure_certificate(
    server: FakeInsiServer, pki_dir: Path
) -> None:
    pki = pki_dir / "pki"
    client = structure_insi(server, pki, (pki / "trust-bundle.pem",))
    try:
        result = client.search(insi.TraitsSearch.first_step(TRAITS))
    finally:
        client.close()
    assert result.report is insi.Report.FOUND and result.identity is not None
    ((path, content_type, body),) = server.received
    assert path == "/lps"
    assert f'action="{insi.ACTION_SEARCH_TRAITS}"' in content_type
    assert b"RECSANSVITALE" in body
    assert server.peers[0]  # the endpoint saw our certificate


def test_a_server_outside_the_trusted_authorities_is_refused(
    server: FakeInsiServer, pki_dir: Path, tmp_path: Path
) -> None:
    pki = pki_dir / "pki"
    other = tmp_path / "other.pem"
    other.write_bytes((pki / "structure-auth.pem").read_bytes())  # a leaf, not the server's roots
    client = structure_insi(server, pki, (other,))
    try:
        with pytest.raises(InsiTlsError):
            client.search(insi.TraitsSearch.first_step(TRAITS))
    finally:
        client.close()
    assert server.received == []


def test_a_search_with_a_card_shaped_certificate(
    server: FakeInsiServer, pki_dir: Path, card_keys: dict[str, tuple[Path, Path, object]]
) -> None:
    # Card mode's certificate (software keys shaped like the CPS card's authentication key, as the
    # DMP tests use them); the tlslite card transport itself is cardtls's and the rig's.
    pki = pki_dir / "pki"
    trust = (pki / "trust-bundle.pem",)
    cert, key, _ = card_keys["generaliste"]
    tls = client_context(Endpoint("unused", trust), cert, key)
    url = f"https://localhost:{server.server_address[1]}/lps"
    client = InsiClient.open(
        InsiSettings(url, "BAC-A-SABLE", 10.0), tls, trust, ("ClientDMP", "1.0.0", INSTANCE), "899900012342"
    )
    try:
        assert client.search(insi.TraitsSearch.first_step(TRAITS)).identity is not None
    finally:
        client.close()
    assert server.peers[0]
