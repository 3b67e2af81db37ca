"""The card TLS transport at native speed (issue 16): record protection by ``cryptography``, the
request streamed, a pool of connections resuming one TLS session (one card signature).

The host is a well-behaved keep-alive server on loopback (plain ``ssl``, asking for the client's
certificate), the card a software key shaped like the card's (``rogue.software_card_signer``).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography import x509

from app.dmp_client.card_tls import CardTlsTransport
from tests.dmp_client.rogue import RoguePki, make_pki, server_context, software_card_signer

ANSWER = b"<Envelope/>"


class KeepAliveHost:
    """Answers every request of a connection (reading the body without keeping it) until the
    client closes; counts connections and full handshakes (the resumed ones have no peer
    certificate exchange: ``session_reused``)."""

    def __init__(self, context: ssl.SSLContext, answers_per_connection: int | None = None) -> None:
        self.context = context
        self.answers_per_connection = answers_per_connection  # then the host closes (keep-alive over)
        self.closed_by_host = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.resumed = 0
        self.bodies: list[int] = []
        self.ciphers: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            self.context.wrap_socket(raw, server_side=True) as tls,
        ):
            self.connections += 1
            self.resumed += tls.session_reused
            self.ciphers.append(str(tls.cipher()[0]))
            answers = 0
            while self._answer(tls):
                answers += 1
                if answers == self.answers_per_connection:
                    self.closed_by_host += 1
                    break

    def _answer(self, tls: ssl.SSLSocket) -> bool:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = tls.recv(65536)
            if not chunk:
                return False
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")
        )
        got = len(body)
        while got < length:
            chunk = tls.recv(1 << 20)
            if not chunk:
                return False
            got += len(chunk)
        self.bodies.append(got)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER)
        return True

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> RoguePki:
    return make_pki(tmp_path_factory.mktemp("card-tls-pki"))


@pytest.fixture
def host(pki: RoguePki) -> Iterator[KeepAliveHost]:
    server = KeepAliveHost(server_context(pki, pki.good_server))
    yield server
    server.close()


def _transport(pki: RoguePki, calls: list[int]) -> CardTlsTransport:
    auth = x509.load_pem_x509_certificate(pki.client[0].read_bytes())
    roots = x509.load_pem_x509_certificates(pki.trusted_ca.read_bytes())
    return CardTlsTransport(auth, software_card_signer(pki.client[1], calls), roots, 30)


def test_the_records_of_a_card_connection_are_protected_natively(pki: RoguePki, host: KeepAliveHost) -> None:
    transport = _transport(pki, [])
    with httpx.Client(transport=transport) as client:
        assert client.post(f"https://localhost:{host.port}/s", content=b"<a/>").content == ANSWER
        [(_, connection)] = transport._idle
        layer = connection.sock._recordLayer
        assert layer._writeState.encContext.implementation == "cryptography"
        assert layer._readState.encContext.implementation == "cryptography"
    assert host.ciphers == ["ECDHE-RSA-AES256-GCM-SHA384"]  # TLS 1.2, the suites the DMP accepts


def test_a_large_body_is_streamed_in_pieces_with_bounded_memory(pki: RoguePki, host: KeepAliveHost) -> None:
    size = 30_000_000
    block = b"x" * 1_000_000

    def body() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    transport = _transport(pki, [])
    with httpx.Client(transport=transport) as client:
        tracemalloc.start()
        try:
            answer = client.post(
                f"https://localhost:{host.port}/s", content=body(), headers={"Content-Length": str(size)}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answer.status_code == 200 and host.bodies == [size]
    assert peak < 8_000_000, peak  # pieces of 64 KiB and their records, never the 30 MB joined


def test_four_in_flight_cost_one_card_signature(pki: RoguePki, host: KeepAliveHost) -> None:
    calls: list[int] = []
    transport = _transport(pki, calls)
    barrier = threading.Barrier(4)

    def one(index: int) -> int:
        if index < 4:
            barrier.wait(5)  # the first four start together: the pool opens four connections
        return client.post(f"https://localhost:{host.port}/s", content=b"<q/>").status_code

    with httpx.Client(transport=transport) as client, ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, range(20))) == [200] * 20
    assert len(calls) == 1 and transport.full_handshakes == 1  # the card signed once
    assert host.connections == 4 and host.resumed == 3  # the others resumed the first's session
    assert len(host.bodies) == 20


def test_a_session_is_never_resumed_with_another_host(pki: RoguePki, host: KeepAliveHost) -> None:
    other = KeepAliveHost(server_context(pki, pki.good_server))
    calls: list[int] = []
    transport = _transport(pki, calls)
    try:
        with httpx.Client(transport=transport) as client:
            client.post(f"https://localhost:{host.port}/s", content=b"<q/>")
            client.post(f"https://localhost:{other.port}/s", content=b"<q/>")
    finally:
        other.close()
    assert len(calls) == 2 and other.resumed == 0


def test_a_half_read_answer_does_not_go_back_to_the_pool(pki: RoguePki, host: KeepAliveHost) -> None:
    transport = _transport(pki, [])
    with httpx.Client(transport=transport) as client:
        with client.stream("POST", f"https://localhost:{host.port}/s", content=b"<q/>") as response:
            assert response.status_code == 200  # closed without reading the body
        assert transport._idle == []
        assert client.post(f"https://localhost:{host.port}/s", content=b"<q/>").content == ANSWER
        assert len(transport._idle) == 1


def test_an_idle_connection_the_host_closed_is_dropped_before_a_send(pki: RoguePki) -> None:
    """A keep-alive connection closed by the host while idle is not used for the next request
    (which, a non-idempotent send, would not be retried): a new one is opened, resuming the
    session, so the card does not sign again."""
    host = KeepAliveHost(server_context(pki, pki.good_server), answers_per_connection=1)
    calls: list[int] = []
    transport = _transport(pki, calls)
    try:
        with httpx.Client(transport=transport) as client:
            for _ in range(3):
                assert client.post(f"https://localhost:{host.port}/s", content=b"<q/>").content == ANSWER
                deadline = time.monotonic() + 5
                while transport._idle and not _readable(transport) and time.monotonic() < deadline:
                    time.sleep(0.01)  # the host's close reaching our socket
    finally:
        host.close()
    assert host.connections == 3 and host.resumed == 2
    assert transport.dropped_idle == 2
    assert len(calls) == 1


def _readable(transport: CardTlsTransport) -> bool:
    raw = transport._idle[0][1].sock.sock.socket  # tlslite's BufferedSocket, our BoundedSocket
    return bool(select.select([raw], [], [], 0)[0])
