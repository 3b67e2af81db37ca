"""The sandbox host's HTTPS server: mutual TLS 1.2, SOAP 1.2 under /si-dmp-server/v2/services/.

Every request: client certificate from the test PKI (checked by TLS), SOAP 1.2 envelope parsed with
a hardened parser, WS-Addressing Action routed to the service's handler, VIHF checked, answer with
``RelatesTo``. Refusals are SOAP faults shaped like the real host's. Optional fault injection
(latency, error rate, dropped connections) and recording of every exchange.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography import x509
from lxml import etree

from sandbox.host import air, lies, mtom, routes, safexml
from sandbox.host.faults import SOAP, WSA, HostFault, fault_envelope
from sandbox.host.reply import Reply
from sandbox.host.store import Store
from sandbox.host.vihf import DS, SAML, WSSE, Trust, check_vihf
from sandbox.https_server import ConnectionFaults, QuietHandler, TlsServer, pki_server_context

BASE_PATH = "/si-dmp-server/v2/services/"
MAX_BODY = 256 * 1024 * 1024
# huge_tree: an inline document is one large text node; safe with safexml's bounds checked first.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
_UTF8_PARSER = etree.XMLParser(
    encoding="utf-8", resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
)


@dataclass
class Faults(ConnectionFaults):
    """Injected faults for tests and benchmarks (latency, error and drop rates, read time-out: see
    :class:`~sandbox.https_server.ConnectionFaults`)."""

    # The request is processed (and committed), then the connection is closed without an answer:
    # the ambiguous failure a client must resolve without sending the document twice.
    lost_answer_rate: float = 0.0
    lie: str | None = None  # the lying registry (sandbox/host/lies.py)
    # A request (request line, headers and body) must arrive within this many seconds of the
    # connection becoming ready for it, whatever the client's pace (slowloris); each read also has
    # its own time-out. An idle keep-alive connection is closed after the same time.
    request_deadline: float = 120.0


@dataclass
class HostConfig:
    pki_dir: Path
    data_dir: Path
    profile: str = "current"
    record_dir: Path | None = None
    faults: Faults = field(default_factory=Faults)
    air: air.AirRules = field(default_factory=air.AirRules)  # AIR and plain indirect rules (air.py)


def server_context(pki_dir: Path) -> ssl.SSLContext:
    """Mutual TLS 1.2 only (a client certificate of the test PKI required), ECDHE suites."""
    context = pki_server_context(pki_dir, ssl.CERT_REQUIRED)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305")
    return context


class DmpHost(TlsServer):
    def __init__(self, address: tuple[str, int], config: HostConfig) -> None:
        super().__init__(address, RequestHandler)
        self.config = config
        self.context = server_context(config.pki_dir)
        self.trust = Trust(config.pki_dir)
        self.replay = air.ReplayCache()  # AIR VIHFs already used
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.data_dir / "dmp.sqlite")
        self.store.profile = config.profile  # read by the administrative transactions
        if self.store.patient("207058575627097") is None:
            self.store.seed()

    def read_timeout(self) -> float:
        return self.config.faults.read_timeout


class RequestHandler(QuietHandler):
    server: DmpHost

    def handle_one_request(self) -> None:
        """One request under a watchdog: past the deadline the socket is shut down, which ends any
        read in progress (the request line, a header byte by byte, the body)."""
        self._cut_off = False
        self._watchdog = threading.Timer(self.server.config.faults.request_deadline, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            super().handle_one_request()  # a read's own time-out or a reset closes the connection
        except (OSError, ValueError):
            if not self._cut_off:
                raise
            self.close_connection = True  # the watchdog's cut, seen by the read in progress
        finally:
            self._watchdog.cancel()

    def _cut(self) -> None:
        self._cut_off = self.close_connection = True
        with contextlib.suppress(OSError):
            # The plain socket's shutdown: SSLSocket.shutdown would drop the TLS object under the
            # reading thread's feet.
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def do_POST(self) -> None:
        faults = self.server.config.faults
        if faults.latency:
            time.sleep(faults.latency)
        if faults.drop_rate and faults.rng.random() < faults.drop_rate:
            self.close_connection = True
            self.connection.close()
            return
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            length = None if chunked else int(self.headers.get("Content-Length", "0"))
            body = mtom.spool(self.rfile, length, chunked, MAX_BODY)  # type: ignore[arg-type]
            self._watchdog.cancel()  # read in time: the answer may take as long as it takes
        except (ValueError, mtom.BodyError) as error:
            self.close_connection = True  # the rest of the body was not read
            self._send(getattr(error, "status", 400), b"", "text/plain")
            return
        with body:
            service = (
                routes.ALIASES.get(self.path.removeprefix(BASE_PATH).strip("/").lower())
                if self.path.startswith(BASE_PATH)
                else None
            )
            if service is None:
                self._send(404, b"service inconnu", "text/plain; charset=utf-8")
                return
            exchange = mtom.Exchange()
            token = mtom.EXCHANGE.set(exchange)
            try:
                status, envelope = self._answer(service, body, exchange)
            finally:
                mtom.EXCHANGE.reset(token)
            status, envelope = lies.lie(faults.lie, status, envelope, exchange)
            if faults.lost_answer_rate and faults.rng.random() < faults.lost_answer_rate:
                self.close_connection = True
                self.connection.close()
                return
            if service == "repository":
                # The repository answers in MTOM, faults included (dmp-interface.md §2.2).
                answer = mtom.mtom_answer(envelope, exchange.outgoing)
                self._record(body, answer)
                self._send_mtom(status, answer)
            else:
                self._record(body, envelope)
                self._send(status, envelope, "application/soap+xml; charset=UTF-8")

    def _envelope_bytes(self, body: IO[bytes], exchange: mtom.Exchange) -> bytes:
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() == "multipart/related":
            try:
                root, exchange.parts = mtom.parse_related(body, content_type)
            except mtom.BodyError as error:
                raise HostFault("DMPInvalidRequest", f"Message MTOM invalide : {error}") from None
            return root
        body.seek(0)
        return body.read()

    def _answer(self, service: str, body: IO[bytes], exchange: mtom.Exchange) -> tuple[int, bytes]:
        message_id = None
        caller = None
        try:
            if (
                self.server.config.faults.error_rate
                and self.server.config.faults.rng.random() < self.server.config.faults.error_rate
            ):
                raise HostFault(
                    "DMPServiceUnavailable", "Service temporairement indisponible (injection).", sender=False
                )
            envelope = self._parse(self._envelope_bytes(body, exchange))
            header = envelope.find(f"{{{SOAP}}}Header")
            message_id = header.findtext(f"{{{WSA}}}MessageID") if header is not None else None
            action = (header.findtext(f"{{{WSA}}}Action") or "").strip() if header is not None else ""
            handler = routes.SERVICES[service].get(action)
            if handler is None:
                raise HostFault("DMPInvalidRequest", f"Action inconnue pour le service {service} : {action}")
            tls_cert = self._client_certificate()
            caller = check_vihf(header, tls_cert, self.server.trust)
            exchange.signer = _vihf_signer(header)
            exchange.trust = self.server.trust
            payload_parent = envelope.find(f"{{{SOAP}}}Body")
            payload = (
                next((c for c in payload_parent if isinstance(c.tag, str)), None)
                if payload_parent is not None
                else None
            )
            if payload is None:
                raise HostFault("DMPInvalidRequest", "Corps SOAP vide.")
            rules = self.server.config.air
            air.check(
                rules, self.server.replay, header, caller, service, action, payload, tls_cert, exchange.signer
            )
            reply = handler(payload, caller, self.server.store)
        except HostFault as fault:
            exchange.outgoing.clear()
            self.server.store.journal(
                caller.national_id if caller else "?",
                caller.mode if caller else "",
                caller.purpose if caller else "",
                service,
                caller.patient_matricule if caller else None,
                f"refus {fault.subcode}",
            )
            return 500, fault_envelope(fault, message_id)
        self.server.store.journal(
            caller.national_id,
            caller.mode,
            caller.purpose,
            reply.transaction,
            reply.matricule,
            exchange.result,
        )
        return 200, self._envelope(reply, message_id)

    def _parse(self, body: bytes) -> etree._Element:
        return parse_request_xml(body)

    def _client_certificate(self) -> x509.Certificate:
        der = self.connection.getpeercert(binary_form=True)
        if not der:
            raise HostFault("DMPInvalidCertificate", "Certificat client absent.")
        return x509.load_der_x509_certificate(der)

    def _envelope(self, reply: Reply, relates_to: str | None) -> bytes:
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wsa": WSA})
        header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
        etree.SubElement(header, f"{{{WSA}}}Action").text = reply.action
        etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
        etree.SubElement(header, f"{{{WSA}}}To").text = "http://www.w3.org/2005/08/addressing/anonymous"
        if relates_to:
            etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
        etree.SubElement(envelope, f"{{{SOAP}}}Body").append(reply.payload)
        return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")

    def _record(self, request: IO[bytes], response: bytes | mtom.MtomAnswer) -> None:
        """Every request and answer as received / sent (MTOM parts included), streamed to disk."""
        folder = self.server.config.record_dir
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        multipart = self.headers.get("Content-Type", "").lower().startswith("multipart/")
        request.seek(0)
        with (folder / f"{stem}-requete.{'mime' if multipart else 'xml'}").open("wb") as out:
            shutil.copyfileobj(request, out, mtom.CHUNK)
        if isinstance(response, bytes):
            (folder / f"{stem}-reponse.xml").write_bytes(response)
        else:
            with (folder / f"{stem}-reponse.mime").open("wb") as out:
                response.write(out)

    def _send_mtom(self, status: int, answer: mtom.MtomAnswer) -> None:
        self.send_response(status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(answer.length))
        self.end_headers()
        answer.write(self.wfile)


def parse_request_xml(body: bytes) -> etree._Element:
    """A request's SOAP envelope through the host's guard (sandbox/host/safexml.py), then lxml."""
    try:
        data, transcoded = safexml.guard(body)
    except safexml.Refused as refused:
        raise HostFault("DMPInvalidRequest", refused.reason) from None
    try:
        envelope = etree.fromstring(data, parser=_UTF8_PARSER if transcoded else _PARSER)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        raise HostFault("DMPInvalidRequest", "Message SOAP mal formé.") from None
    if envelope.getroottree().docinfo.doctype:
        raise HostFault("DMPInvalidRequest", "XML refusé (DTD ou entités).")
    if envelope.tag != f"{{{SOAP}}}Envelope":
        raise HostFault("VersionMismatch", "Enveloppe SOAP 1.2 attendue.")
    return envelope


def _vihf_signer(header: etree._Element | None) -> x509.Certificate | None:
    """The certificate that signed the (already checked) VIHF."""
    path = f"{{{WSSE}}}Security/{{{SAML}}}Assertion/{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data"
    node = header.find(f"{path}/{{{DS}}}X509Certificate") if header is not None else None
    if node is None:
        return None
    return x509.load_der_x509_certificate(base64.b64decode("".join((node.text or "").split())))


def serve_in_thread(host: DmpHost) -> threading.Thread:
    thread = threading.Thread(target=host.serve_forever, name="dmp-host", daemon=True)
    thread.start()
    return thread
