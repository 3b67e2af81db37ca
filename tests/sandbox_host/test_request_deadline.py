"""The sandbox host is not easier to knock over than the client: a request that trickles in (request
line, headers or body one byte at a time: slowloris) is cut at the host's per-request deadline,
and a connection that never completes its TLS handshake at the read time-out."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.host.server import DmpHost, Faults, HostConfig, serve_in_thread

DEADLINE = 2.0
MARGIN = 3.0  # generous: two cores shared with the other tests


@pytest.fixture
def quick_host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    faults = Faults(request_deadline=DEADLINE, read_timeout=1.5)
    server = DmpHost(("127.0.0.1", 0), HostConfig(pki_dir / "pki", tmp_path / "host", faults=faults))
    thread = serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _tls(host: DmpHost, pki_dir: Path) -> ssl.SSLSocket:
    pki = pki_dir / "pki"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki / "trust-bundle.pem")
    context.load_cert_chain(pki / "structure-auth.pem", pki / "structure-auth.key")
    raw = socket.create_connection(("127.0.0.1", host.server_address[1]), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def _trickle(connection: ssl.SSLSocket, data: bytes, pace: float) -> float:
    """Send ``data`` one byte every ``pace`` seconds until the host cuts; return the seconds taken."""
    start = time.monotonic()
    try:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(pace)
        connection.settimeout(DEADLINE + MARGIN)
        connection.recv(1)  # a host that waited for more would time out here
    except (OSError, ssl.SSLError):
        pass
    return time.monotonic() - start


HEAD = (
    b"POST /si-dmp-server/v2/services/patients HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/soap+xml\r\nContent-Length: 100000\r\n\r\n"
)


@pytest.mark.parametrize(
    "prefix, trickled",
    [(b"", HEAD), (HEAD[:40], HEAD[40:] * 10), (HEAD, b"<" * 100_000)],
    ids=["request line", "headers", "body"],
)
def test_a_trickling_request_is_cut_at_the_deadline(
    quick_host: DmpHost, pki_dir: Path, prefix: bytes, trickled: bytes
) -> None:
    connection = _tls(quick_host, pki_dir)
    connection.sendall(prefix)
    taken = _trickle(connection, trickled, 0.4)  # each byte well within the read time-out
    connection.close()
    assert taken < DEADLINE + MARGIN


def test_a_silent_handshake_is_dropped(quick_host: DmpHost) -> None:
    raw = socket.create_connection(("127.0.0.1", quick_host.server_address[1]), timeout=10)
    start = time.monotonic()
    try:
        closed = raw.recv(1) == b""  # the host closes: EOF (or a reset)
    except ConnectionResetError:
        closed = True
    raw.close()
    assert closed
    assert time.monotonic() - start < 1.5 + MARGIN


def test_a_normal_client_keeps_working(quick_host: DmpHost, pki_dir: Path) -> None:
    """The watchdog is cancelled once the body is in: the answer is not cut."""
    connection = _tls(quick_host, pki_dir)
    body = b"<x/>"
    connection.sendall(HEAD.replace(b"100000", str(len(body)).encode()) + body)
    connection.settimeout(10)
    answer = connection.recv(65536)
    connection.close()
    assert answer.startswith((b"HTTP/1.1 500", b"HTTP/1.1 4"))  # a SOAP fault: answered, not cut
