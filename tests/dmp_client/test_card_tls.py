"""Card-mode TLS (tlslite-ng, the client signature made by a card-shaped software key) against the
in-process sandbox host: native record-layer crypto, the connection pool and session resumption,
the HTTP proxy tunnel. Never the card rig: the "card" here is a software RSA key signing raw
PKCS#1 v1.5."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from tlslite.utils import python_aesgcm, python_chacha20_poly1305

from app.dmp_client import card_records
from app.dmp_client.card_records import IMPLEMENTATION, NativeAead
from app.dmp_client.card_tls import CardTlsTransport, Proxy, parse_proxy
from app.dmp_client.client import DmpClient, Session
from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.errors import ClientConfigError, HostUnreachable
from app.dmp_client.transport import Endpoint, Transport
from app.ins import Ins
from sandbox.host.server import DmpHost
from tests.dmp_client.rogue import software_card_signer
from tests.host_fixture import card_actor, settings_for

INS = Ins.parse("150081505104018", "1.2.250.1.213.1.4.10")  # a test identity of the sandbox


@pytest.mark.parametrize(
    ("name", "size", "cipher", "python"),
    [
        ("aes128gcm", 16, AESGCM, python_aesgcm.new),
        ("aes256gcm", 32, AESGCM, python_aesgcm.new),
        ("chacha20-poly1305", 32, ChaCha20Poly1305, python_chacha20_poly1305.new),
    ],
)
def test_native_aead_matches_tlslites_own_cipher(name: str, size: int, cipher: type, python: object) -> None:
    key = bytearray(range(size))
    native, reference = NativeAead(key, name, cipher), python(key)  # type: ignore[operator]
    assert (native.name, native.implementation, native.isAEAD, native.isBlockCipher) == (
        reference.name,
        IMPLEMENTATION,
        True,
        False,
    )
    assert (native.tagLength, native.nonceLength) == (reference.tagLength, reference.nonceLength)
    nonce, aad = bytearray(range(12)), bytearray(b"\x00" * 8 + b"\x17\x03\x03\x01\x00")
    for plaintext in (bytearray(), bytearray(b"a"), bytearray(os.urandom(16384))):
        sealed = native.seal(nonce, plaintext, aad)
        assert sealed == reference.seal(nonce, plaintext, aad)
        assert reference.open(nonce, sealed, aad) == plaintext
        assert native.open(nonce, sealed, aad) == plaintext
        assert native.open(nonce, sealed[:10], aad) is None  # shorter than a tag
        body = bytearray(sealed)
        body[0] ^= 1
        assert native.open(nonce, body, aad) is None  # altered ciphertext
        sealed[-1] ^= 1
        assert native.open(nonce, sealed, aad) is None  # a bad tag: tlslite raises bad_record_mac


def test_the_record_layers_factories_name_the_cipher_by_its_key() -> None:
    # What card_records hands tlslite's record layer for each AEAD suite (RFC 5288, RFC 7905).
    assert card_records._aes_gcm(bytearray(16)).name == "aes128gcm"
    assert card_records._aes_gcm(bytearray(32)).name == "aes256gcm"
    assert card_records._chacha20(bytearray(32)).name == "chacha20-poly1305"


def test_aes_gcm_known_answer() -> None:
    """NIST GCM test case 4 (McGrew & Viega, "The Galois/Counter Mode of Operation", AES-128)."""
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
    nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    sealed = NativeAead(bytearray(key), "aes128gcm", AESGCM).seal(nonce, plaintext, aad)
    assert sealed[:-16].hex() == (
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
    )
    assert sealed[-16:].hex() == "5bc94fbc3221a5db94fae95ae7121a47"


class Card:
    """A card-shaped software key: its certificate, the signing callback, the signatures made."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        self.signatures: list[int] = []
        self.sign = software_card_signer(key, self.signatures)


@pytest.fixture
def card(card_keys: dict[str, tuple[Path, Path, SoftwareKeySigner]]) -> Card:
    cert, key, _ = card_keys["generaliste"]
    return Card(cert, key)


@pytest.fixture
def card_client(
    host: DmpHost, pki_dir: Path, card: Card, card_keys: dict[str, tuple[Path, Path, SoftwareKeySigner]]
) -> Iterator[DmpClient]:
    settings = settings_for(host, pki_dir)
    roots = [c for path in settings.trust_files for c in x509.load_pem_x509_certificates(path.read_bytes())]
    tls = CardTlsTransport(card.certificate, card.sign, roots, settings.timeouts.query)
    endpoint = Endpoint(settings.host_url, settings.trust_files)
    session = Session(
        card_actor("generaliste"),
        AuthMode.DIRECT,
        settings.software,
        settings.sender_oid,
        Purpose.NORMAL,
        None,
    )
    client = DmpClient(Transport(endpoint, tls, settings.timeouts), card_keys["generaliste"][2], session)
    yield client
    client.close()


def test_the_sandbox_hosts_tls_with_native_records_and_one_card_signature(
    card_client: DmpClient, card: Card
) -> None:
    """Against the sandbox host's own TLS stack (not a loopback test server): a real TD0.2, the
    records protected by cryptography, the card signing once for four queries in flight."""
    seen: list[object] = []
    assert card_client.status(INS).authorized is True
    tls = card_client.transport._client._transport  # the CardTlsTransport
    connections = [connection for _, connection in tls._idle]
    assert connections, "the keep-alive connection is back in the pool"
    for connection in connections:
        layer = connection.sock._recordLayer
        for state in (layer._writeState, layer._readState):
            assert isinstance(state.encContext, NativeAead)
            assert state.encContext.implementation == IMPLEMENTATION
        seen.append(connection.sock.getCipherImplementation())
    assert set(seen) == {IMPLEMENTATION}
    assert len(card.signatures) == 1
    with ThreadPoolExecutor(4) as pool:
        assert all(status.authorized for status in pool.map(card_client.status, [INS] * 8))
    assert len(card.signatures) == 1, "the pooled connections resume the first one's TLS session"


class ConnectProxy:
    """A minimal HTTP proxy on loopback: CONNECT tunnels only, each one relayed byte for byte;
    ``answer`` replaces the 200 (a refusing proxy); ``requests`` keeps the request heads seen."""

    def __init__(self, answer: bytes | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = client.recv(1)
            if not byte:
                return
            head += byte
        self.requests.append(head)
        if self.answer is not None:
            client.sendall(self.answer)
            client.close()
            return
        host, _, port = head.split(b" ")[1].decode().rpartition(":")
        upstream = socket.create_connection(("127.0.0.1" if host == "localhost" else host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def proxied_client(
    host: DmpHost, pki_dir: Path, card: Card, signer: SoftwareKeySigner, proxy: str
) -> DmpClient:
    settings = settings_for(host, pki_dir)
    roots = [c for path in settings.trust_files for c in x509.load_pem_x509_certificates(path.read_bytes())]
    tls = CardTlsTransport(card.certificate, card.sign, roots, settings.timeouts.query, proxy=proxy)
    endpoint = Endpoint(settings.host_url, settings.trust_files, proxy)
    session = Session(
        card_actor("generaliste"),
        AuthMode.DIRECT,
        settings.software,
        settings.sender_oid,
        Purpose.NORMAL,
        None,
    )
    return DmpClient(Transport(endpoint, tls, settings.timeouts), signer, session)


def test_card_mode_through_an_http_proxy_tunnel(
    host: DmpHost, pki_dir: Path, card: Card, card_keys: dict[str, tuple[Path, Path, SoftwareKeySigner]]
) -> None:
    proxy = ConnectProxy()
    client = proxied_client(
        host, pki_dir, card, card_keys["generaliste"][2], f"http://user:s%40cret@127.0.0.1:{proxy.port}"
    )
    try:
        assert client.status(INS).authorized is True
        with ThreadPoolExecutor(4) as pool:
            assert all(status.authorized for status in pool.map(client.status, [INS] * 4))
    finally:
        client.close()
        proxy.close()
    port = host.server_address[1]
    assert proxy.requests, "every connection went through the proxy"
    for head in proxy.requests:
        assert head.startswith(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n".encode())
        assert b"Proxy-Authorization: Basic " + base64.b64encode(b"user:s@cret") + b"\r\n" in head
    assert len(card.signatures) == 1, "resumption works through the tunnel too"


def test_a_proxy_refusing_the_tunnel_is_unreachable_and_nothing_is_signed(
    host: DmpHost, pki_dir: Path, card: Card, card_keys: dict[str, tuple[Path, Path, SoftwareKeySigner]]
) -> None:
    proxy = ConnectProxy(answer=b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    client = proxied_client(host, pki_dir, card, card_keys["generaliste"][2], f"127.0.0.1:{proxy.port}")
    try:
        with pytest.raises(HostUnreachable, match="HTTP 407"):
            client.status(INS)
    finally:
        client.close()
        proxy.close()
    assert card.signatures == []
    assert b"Proxy-Authorization" not in proxy.requests[0]


@pytest.mark.parametrize("url", ["https://proxy.example:3128", "socks5://proxy.example:1080", "http://:80"])
def test_a_proxy_the_card_transport_cannot_use_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ClientConfigError):
        parse_proxy(url)


def test_proxy_urls() -> None:
    assert parse_proxy(None) is None and parse_proxy("") is None
    assert parse_proxy("proxy.example:3128") == Proxy("proxy.example", 3128)
    assert parse_proxy("http://proxy.example") == Proxy("proxy.example", 80)
    assert parse_proxy("http://a:b@p:8080") == Proxy("p", 8080, "Basic " + base64.b64encode(b"a:b").decode())


def test_answers_are_read_through_a_buffer_not_byte_by_byte(
    card_client: DmpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tlslite-ng's own makefile() reads unbuffered: http.client's readline of the status line and
    headers then made one tlslite read per byte (~170 per answer). The card connection buffers its
    reads as ``ssl.SSLSocket.makefile`` does."""
    from tlslite.tlsrecordlayer import TLSRecordLayer

    assert card_client.status(INS).authorized is True  # the connection is open and pooled
    reads = []
    recv_into = TLSRecordLayer.recv_into

    def counted(self: TLSRecordLayer, buffer: bytearray) -> int | None:
        reads.append(len(buffer))
        return recv_into(self, buffer)

    monkeypatch.setattr(TLSRecordLayer, "recv_into", counted)
    assert card_client.status(INS).authorized is True
    assert 0 < len(reads) <= 8, reads
