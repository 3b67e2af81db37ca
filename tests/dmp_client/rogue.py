"""Hostile DMP hosts on loopback for the transport tests: plain Python ``ssl`` sockets, nothing shared
with the client or the sandbox host.

- :func:`make_pki`: a throw-away PKI generated here (a trusted CA, an untrusted one, server
  certificates for the right and a wrong name, a card-shaped client certificate with its key);
- :class:`RogueServer`: a TLS server that reads the request, then misbehaves (one byte of the
  headers or of the body every ``pace`` seconds, or an endless body);
- :class:`Relay`: a TCP relay that records what the client sends (in TLS 1.2 the client's
  Certificate message travels in clear, so it can be looked for in the recording);
- ``python tests/dmp_client/rogue.py '<json>'``: the client side, run in a child process by the
  tests so that a hang is a killed child and a failed wall-clock assertion, not a stuck suite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import resource
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RoguePki:
    folder: Path
    trusted_ca: Path  # PEM: the client's only root
    good_server: tuple[Path, Path]  # localhost, from the trusted CA
    wrong_name: tuple[Path, Path]  # autre-hote.example, from the trusted CA
    untrusted: tuple[Path, Path]  # localhost, from a CA the client does not know
    client: tuple[Path, Path]  # card-shaped client certificate (RSA 2048) and its key


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ca(common: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: tuple[x509.Certificate, rsa.RSAPrivateKey], common: str, dns: str | None, usage: x509.ObjectIdentifier
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()), critical=False)
    )
    if dns is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


def _write(folder: Path, stem: str, pair: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> tuple[Path, Path]:
    cert, key = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert.write_bytes(pair[0].public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pair[1].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


def make_pki(folder: Path) -> RoguePki:
    folder.mkdir(parents=True, exist_ok=True)
    trusted, other = _ca("AC DE TEST DE CONFIANCE"), _ca("AC INCONNUE")
    server = ExtendedKeyUsageOID.SERVER_AUTH
    ca_path = folder / "trusted-ca.pem"
    ca_path.write_bytes(trusted[0].public_bytes(serialization.Encoding.PEM))
    return RoguePki(
        folder,
        ca_path,
        _write(folder, "good", _leaf(trusted, "localhost", "localhost", server)),
        _write(folder, "wrong", _leaf(trusted, "autre-hote.example", "autre-hote.example", server)),
        _write(folder, "untrusted", _leaf(other, "localhost", "localhost", server)),
        _write(
            folder,
            "card",
            _leaf(trusted, "899900012341/CLAIRE MEDECIN", None, ExtendedKeyUsageOID.CLIENT_AUTH),
        ),
    )


# --- the hostile server ------------------------------------------------------------------------


def server_context(pki: RoguePki, which: tuple[Path, Path]) -> ssl.SSLContext:
    """TLS 1.2 server asking for a client certificate (so the client would have to sign)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(*which)
    context.load_verify_locations(pki.trusted_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"


class RogueServer:
    """Modes: ``slow-headers`` (status line, then a header byte every ``pace`` s), ``slow-body``
    (headers announcing 1 MB, then a body byte every ``pace`` s), ``flood`` (headers without a
    length, then 64 KiB chunks for ever), ``handshake-only`` (TLS, then nothing is answered)."""

    def __init__(self, context: ssl.SSLContext, mode: str, pace: float = 0.5) -> None:
        self.context, self.mode, self.pace = context, mode, pace
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.sent = 0
        self.handshakes = 0
        self.peer_certificates: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(30)
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.handshakes += 1
                peer = tls.getpeercert(binary_form=True)
                if peer:
                    self.peer_certificates.append(peer)
                self._read_request(tls)
                self._misbehave(tls)
        except (OSError, ssl.SSLError):
            pass

    @staticmethod
    def _read_request(tls: ssl.SSLSocket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            chunk = tls.recv(65536)
            if not chunk:
                return
            body += chunk

    def _misbehave(self, tls: ssl.SSLSocket) -> None:
        if self.mode == "slow-headers":
            tls.sendall(HEADERS)
            trickle = b"X-Lent: " + b"a" * 1_000_000
            for byte in trickle:
                if self.stop.is_set():
                    return
                tls.sendall(bytes([byte]))
                self.sent += 1
                time.sleep(self.pace)
        elif self.mode == "slow-body":
            tls.sendall(HEADERS + b"Content-Length: 1000000\r\n\r\n")
            while not self.stop.is_set():
                tls.sendall(b"<")
                self.sent += 1
                time.sleep(self.pace)
        elif self.mode == "flood":
            tls.sendall(HEADERS + b"Connection: close\r\n\r\n")
            chunk = b"<a>" + b"x" * 65530 + b"</a>"
            while not self.stop.is_set():
                tls.sendall(chunk)
                self.sent += len(chunk)
        elif self.mode == "answer":  # a well-behaved host: a small SOAP-shaped answer
            body = b"<Envelope/>"
            tls.sendall(HEADERS + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.stop.wait(5)
        else:  # handshake-only
            self.stop.wait(60)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


class Relay:
    """Client → relay → ``target_port``, recording every byte the client sends; with ``pace``, the
    server's bytes reach the client one every ``pace`` seconds (a slowloris TLS handshake)."""

    def __init__(self, target_port: int, pace: float = 0.0) -> None:
        self.target = target_port
        self.pace = pace
        self.relayed = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.from_client = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(client, server, self.from_client), daemon=True).start()
        self._pump(server, client, None, self.pace)

    def _pump(
        self, source: socket.socket, sink: socket.socket, record: bytearray | None, pace: float = 0.0
    ) -> None:
        try:
            while chunk := source.recv(1 if pace else 65536):
                if record is not None:
                    record += chunk
                sink.sendall(chunk)
                if pace:
                    self.relayed += 1
                    time.sleep(pace)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


# --- the client, in a child process ------------------------------------------------------------


def software_card_signer(key_path: Path, calls: list[int]):  # type: ignore[no-untyped-def]
    """What the card does for TLS: raw PKCS#1 v1.5 (type 1 padding) over a DigestInfo."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    size = (key.key_size + 7) // 8

    def sign(digest_info: bytes) -> bytes:
        calls.append(1)
        padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
        value = pow(int.from_bytes(padded, "big"), numbers.d, numbers.public_numbers.n)
        return value.to_bytes(size, "big")

    return sign


def run_client(spec: dict[str, object]) -> dict[str, object]:
    """One POST through the chosen transport; what happened (error code, seconds, signatures)."""
    from app.dmp_client.card_tls import CardTlsTransport
    from app.dmp_client.core.soap import SoapRequest
    from app.dmp_client.transport import Endpoint, Timeouts, Transport, client_context
    from app.errors import DmpClientError

    trust = Path(str(spec["trust"]))
    cert, key = Path(str(spec["cert"])), Path(str(spec["key"]))
    timeout = float(spec["timeout"])  # type: ignore[arg-type]
    endpoint = Endpoint(f"https://{spec['host']}:{spec['port']}/services", (trust,))
    calls: list[int] = []
    if spec["transport"] == "card":
        auth = x509.load_pem_x509_certificate(cert.read_bytes())
        roots = x509.load_pem_x509_certificates(trust.read_bytes())
        tls: object = CardTlsTransport(auth, software_card_signer(key, calls), roots, timeout)
    else:
        tls = client_context(endpoint, cert, key)
    cap = {"max_response_bytes": int(str(spec["max_bytes"]))} if "max_bytes" in spec else {}
    transport = Transport(endpoint, tls, Timeouts(query=timeout, connect=timeout), **cap)  # type: ignore[arg-type]
    request = SoapRequest("urn:test:action", "urn:uuid:0", b"<Envelope/>")
    start = time.monotonic()
    code = "OK"
    message = ""
    try:
        transport.post("registry", request, timeout, idempotent=bool(spec.get("idempotent", False)))
    except DmpClientError as error:
        code, message = error.code, str(error)
    finally:
        transport.close()
    return {
        "code": code,
        "message": message,
        "elapsed": time.monotonic() - start,
        "signatures": len(calls),
        "max_rss_kib": _peak_rss_kib(),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    relay = None
    if spec.get("relay_pace"):  # the slow relay runs in the child: it dies with it
        relay = Relay(int(spec["port"]), float(spec["relay_pace"]))
        spec["port"] = relay.port
    try:
        print(json.dumps(run_client(spec)))
    finally:
        if relay is not None:
            relay.close()


def _peak_rss_kib() -> int:
    """This process's own peak RSS: VmHWM belongs to the address space, so it starts again at exec
    (``ru_maxrss`` keeps the high-water mark of the forked copy of a big parent, e.g. pytest)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
