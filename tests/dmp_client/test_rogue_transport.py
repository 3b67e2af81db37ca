"""Hostile hosts on loopback against both transports (structure ``ssl``+httpx, card tlslite with
software keys: never the card rig).

Each exchange runs in a child process with a wall-clock bound: a slowloris host (one byte of the
headers or of the body every 0.5 s) must end in DMP-DELAI within the configured time-out plus a
margin, an endless answer in DMP-REPONSE-TROP-GRANDE under the configured cap and a bounded RSS.
In card mode the host's chain and name are verified inside the handshake: an untrusted or
wrongly named host never gets the card's signature nor the professional's certificate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.dmp_client.card_tls import CardTlsTransport
from app.dmp_client.core.soap import SoapRequest
from app.dmp_client.errors import TlsError
from app.dmp_client.transport import Endpoint, Timeouts, Transport
from tests.dmp_client.rogue import (
    ROOT,
    Relay,
    RoguePki,
    RogueServer,
    make_pki,
    server_context,
    software_card_signer,
)

TIMEOUT = 3.0  # the configured per-transaction time-out of these exchanges
MARGIN = 4.0  # process start-up (imports) and scheduling on a loaded 2-core machine


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> RoguePki:
    return make_pki(tmp_path_factory.mktemp("rogue-pki"))


@pytest.fixture
def rogue(pki: RoguePki) -> Iterator[object]:
    servers: list[RogueServer] = []

    def start(mode: str, which: tuple[Path, Path] | None = None) -> RogueServer:
        server = RogueServer(server_context(pki, which or pki.good_server), mode)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def in_child(pki: RoguePki, transport: str, port: int, **extra: object) -> tuple[dict[str, object], float]:
    """The exchange in a child process, killed if it outlives the bound; its report and wall time."""
    spec = {
        "transport": transport,
        "host": "localhost",
        "port": port,
        "trust": str(pki.trusted_ca),
        "cert": str(pki.client[0]),
        "key": str(pki.client[1]),
        "timeout": TIMEOUT,
        **extra,
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "dmp_client" / "rogue.py"), json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT + MARGIN + 20,  # the hang a bug would be: reported, not waited for
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {transport} exchange was still running after {TIMEOUT + MARGIN + 20:.0f} s")
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


@pytest.mark.parametrize("transport", ["structure", "card"])
@pytest.mark.parametrize("mode", ["slow-headers", "slow-body"])
def test_slowloris_host_ends_within_the_time_out(pki: RoguePki, rogue, transport: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    server = rogue(mode)
    report, wall = in_child(pki, transport, server.port)
    assert report["code"] == "DMP-DELAI", report
    assert "3 s" in str(report["message"])
    assert float(report["elapsed"]) < TIMEOUT + 1.5, report  # the deadline, not the per-read time-out
    assert wall < TIMEOUT + MARGIN, wall
    assert server.sent >= 2  # the host did trickle: each read alone was well within the time-out


@pytest.mark.parametrize("transport", ["structure", "card"])
def test_slowloris_tls_handshake_ends_within_the_time_out(pki: RoguePki, rogue, transport: str) -> None:  # type: ignore[no-untyped-def]
    """The host's handshake bytes (certificate chain…) arrive one every 0.5 s."""
    server = rogue("answer")
    report, wall = in_child(pki, transport, server.port, relay_pace=0.5)
    assert report["code"] == "DMP-DELAI", report
    assert float(report["elapsed"]) < TIMEOUT + 1.5, report
    assert wall < TIMEOUT + MARGIN, wall
    assert report["signatures"] == 0  # the card was not asked to sign for a host not yet verified


@pytest.mark.parametrize("transport", ["structure", "card"])
def test_a_well_behaved_host_is_answered(pki: RoguePki, rogue, transport: str) -> None:  # type: ignore[no-untyped-def]
    """The control of the cases above: same rig, a host that answers at once."""
    server = rogue("answer")
    report, wall = in_child(pki, transport, server.port)
    assert report["code"] == "OK", report
    assert report["signatures"] == (1 if transport == "card" else 0)
    assert wall < TIMEOUT + MARGIN, wall


@pytest.mark.parametrize("transport", ["structure", "card"])
def test_idempotent_retry_stays_within_the_same_deadline(pki: RoguePki, rogue, transport: str) -> None:  # type: ignore[no-untyped-def]
    server = rogue("slow-body")
    report, wall = in_child(pki, transport, server.port, idempotent=True)
    assert report["code"] == "DMP-DELAI", report
    assert float(report["elapsed"]) < TIMEOUT + 1.5, report
    assert wall < TIMEOUT + MARGIN, wall
    assert server.handshakes == 1  # no second try once the deadline is spent


# tlslite decrypts in pure Python (a few MB/s): the card's cap is smaller so it is hit in time.
@pytest.mark.parametrize(("transport", "mib"), [("structure", 2), ("card", 0.25)])
def test_endless_answer_is_refused_under_the_cap(pki: RoguePki, rogue, transport: str, mib: float) -> None:  # type: ignore[no-untyped-def]
    server = rogue("flood")
    report, wall = in_child(pki, transport, server.port, max_bytes=int(mib * 1024 * 1024))
    assert report["code"] == "DMP-REPONSE-TROP-GRANDE", report
    assert f"{mib:g} Mio" in str(report["message"])
    assert wall < TIMEOUT + MARGIN, wall
    assert int(report["max_rss_kib"]) < 300 * 1024, report  # far below: the answer is not hoarded


def _card_transport(pki: RoguePki, calls: list[int]) -> CardTlsTransport:
    auth = x509.load_pem_x509_certificate(pki.client[0].read_bytes())
    roots = x509.load_pem_x509_certificates(pki.trusted_ca.read_bytes())
    return CardTlsTransport(auth, software_card_signer(pki.client[1], calls), roots, TIMEOUT)


def _card_exchange(pki: RoguePki, port: int, calls: list[int]) -> Exception | None:
    endpoint = Endpoint(f"https://localhost:{port}/services", (pki.trusted_ca,))
    transport = Transport(endpoint, _card_transport(pki, calls), Timeouts(query=TIMEOUT, connect=TIMEOUT))
    try:
        transport.post("registry", SoapRequest("urn:test:action", "urn:uuid:0", b"<Envelope/>"), TIMEOUT)
    except Exception as error:  # the test inspects what came out
        return error
    finally:
        transport.close()
    return None


def _card_der(pki: RoguePki) -> bytes:
    cert = x509.load_pem_x509_certificate(pki.client[0].read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("which", ["untrusted", "wrong_name"])
def test_card_never_signs_for_an_unverified_host(pki: RoguePki, rogue, which: str) -> None:  # type: ignore[no-untyped-def]
    server = rogue("handshake-only", getattr(pki, which))
    relay = Relay(server.port)
    calls: list[int] = []
    try:
        error = _card_exchange(pki, relay.port, calls)
    finally:
        relay.close()
    assert isinstance(error, TlsError), error
    assert error.code == "DMP-TLS" and "refusé" in str(error)
    assert calls == []  # no CertificateVerify: the card was never asked to sign
    assert _card_der(pki) not in bytes(relay.from_client)  # nor the professional's certificate sent
    assert server.peer_certificates == []


def test_card_signs_for_the_verified_host(pki: RoguePki, rogue) -> None:  # type: ignore[no-untyped-def]
    """The control: the same rig with the right host, the card signs and its certificate is sent
    (so the assertions above can fail)."""
    server = rogue("answer")
    relay = Relay(server.port)
    calls: list[int] = []
    try:
        error = _card_exchange(pki, relay.port, calls)
    finally:
        relay.close()
    assert error is None
    assert calls == [1]
    assert _card_der(pki) in bytes(relay.from_client)
    assert server.peer_certificates == [_card_der(pki)]
