"""The HTTPS plumbing the sandbox's servers share (the DMP host, the INSi host, the PSC provider).

The test PKI's server context, a threading server that does the TLS handshake in the worker thread,
a quiet request handler that closes the connection on a read's time-out or a reset, and the
connection faults (latency, errors, dropped connections) the servers inject alike. Sandbox code
only: it shares nothing with the client (import-linter contract).
"""

from __future__ import annotations

import random
import socket
import ssl
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def pki_server_context(pki_dir: Path, verify_mode: ssl.VerifyMode) -> ssl.SSLContext:
    """TLS 1.2 or later with the test PKI's server certificate; a client certificate (required or
    optional as ``verify_mode`` says) is checked against the test PKI's trust bundle and
    intermediates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki_dir / "server.pem", pki_dir / "server.key")
    context.verify_mode = verify_mode
    context.load_verify_locations(pki_dir / "trust-bundle.pem")
    context.load_verify_locations(pki_dir / "intermediates.pem")
    return context


@dataclass
class ConnectionFaults:
    """The faults every sandbox server injects: latency (time-outs), errors, dropped connections."""

    latency: float = 0.0  # seconds before every answer
    error_rate: float = 0.0  # the share of requests answered with the server's "unavailable" fault
    drop_rate: float = 0.0  # the share of requests whose connection is closed without an answer
    read_timeout: float = 30.0  # each read's time-out (the TLS handshake's too)
    rng: random.Random = field(default_factory=lambda: random.Random(0))


class TlsServer(ThreadingHTTPServer):
    """A threading HTTP server over TLS (``context``, set by the subclass)."""

    daemon_threads = True
    context: ssl.SSLContext

    def read_timeout(self) -> float:
        """Each read's time-out, the TLS handshake's included."""
        return 30.0

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """TLS handshake in the worker thread, so a slow client never blocks the others."""
        try:
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the client's
            # delayed ACK add ~40 ms to every answer.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(self.read_timeout())  # a client that never handshakes
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, no log lines (no patient data, no national ids), every read under the server's
    time-out; a read's time-out or a reset closes the connection."""

    server: TlsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return  # the servers journal what they need, without patient data

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout())  # per read

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, ssl.SSLError):  # a read's own time-out, a reset
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
