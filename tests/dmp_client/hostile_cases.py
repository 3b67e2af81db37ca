"""Hostile inputs for the parsers of the client and of the sandbox host, one function per case.

Each case is run in a child process (``python -m tests.dmp_client.hostile_cases CASE``) with its
address space capped, and prints one JSON line: the outcome (the project error's code, or ``ok`` for
the cases that must be accepted), the wall-clock seconds and the child's peak RSS. The tests
(test_hostile_parsers.py) assert the outcome and generous bounds; ``--all`` prints the table kept in
bench/README.md. Everything is generated lazily: a 600 MB epilogue is never in memory."""

from __future__ import annotations

import base64
import io
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator

MB = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "MIMEBoundary_hostile"
CONTENT_TYPE = f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; start="<root>"'
ROOT_HEAD = (
    f"--{BOUNDARY}\r\nContent-Type: application/xop+xml; charset=UTF-8\r\nContent-ID: <root>\r\n\r\n"
).encode()
ENVELOPE = (
    b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    b"<s:Body><x/></s:Body></s:Envelope>"
)
CLOSE = f"\r\n--{BOUNDARY}--\r\n".encode()
HL7 = "urn:hl7-org:v3"


def _repeat(piece: bytes, total: int) -> Iterator[bytes]:
    """``total`` bytes of ``piece`` repeated, in chunks of about 64 KiB."""
    block = piece * max(1, CHUNK // len(piece))
    sent = 0
    while sent < total:
        out = block[: total - sent]
        sent += len(out)
        yield out


def _part_head(cid: str) -> bytes:
    return (
        f"\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-ID: <{cid}>\r\n\r\n".encode()
    )


def _client_mtom(chunks: Iterator[bytes]) -> None:
    from app.dmp_client.core.mtom import read_mtom
    from app.dmp_client.transport import spool_sink

    reader = read_mtom(CONTENT_TYPE, chunks, spool_sink)
    for part in reader.parts.values():
        part.file.close()


# -- client: MTOM ------------------------------------------------------------------------------------


def mtom_no_crlf() -> None:
    """40 MB after a delimiter that never gets its CRLF (was: the buffer rescanned on every chunk)."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD + ENVELOPE + f"\r\n--{BOUNDARY}".encode()
        yield from _repeat(b"x", 40 * MB)

    _client_mtom(chunks())


def mtom_many_parts() -> None:
    """30,000 one-byte parts in one answer (was: 5.3 GB RSS, then OSError: Too many open files)."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD + ENVELOPE
        for n in range(30_000):
            yield _part_head(f"p{n}") + b"x"
        yield CLOSE

    _client_mtom(chunks())


def mtom_epilogue() -> None:
    """600 MB after the closing delimiter (was: buffered, accepted)."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD + ENVELOPE + CLOSE
        yield from _repeat(b"z", 600 * MB)

    _client_mtom(chunks())


def mtom_big_attachment() -> None:
    """A 1 GiB attachment (was: written whole to disk)."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD + ENVELOPE + _part_head("doc")
        yield from _repeat(b"%PDF", 1024 * MB)
        yield CLOSE

    _client_mtom(chunks())


def mtom_long_headers() -> None:
    """A part header block of 100 MB without its blank line."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD + ENVELOPE + f"\r\n--{BOUNDARY}\r\n".encode()
        yield from _repeat(b"X-Junk: y\r\n", 100 * MB)

    _client_mtom(chunks())


def mtom_long_preamble() -> None:
    """100 MB of preamble before the first delimiter."""

    def chunks() -> Iterator[bytes]:
        yield from _repeat(b"preamble ", 100 * MB)

    _client_mtom(chunks())


def mtom_huge_root() -> None:
    """A 200 MB root part (the envelope kept in memory is capped)."""

    def chunks() -> Iterator[bytes]:
        yield ROOT_HEAD
        yield from _repeat(b"<a/>", 200 * MB)
        yield CLOSE

    _client_mtom(chunks())


def mtom_near_delimiters() -> None:
    """A 40 MB attachment full of almost-delimiters (``\\r\\n--`` + all but the boundary's last
    byte), fed in 1,000-byte chunks: read whole, in linear time. Must be accepted."""
    near = f"\r\n--{BOUNDARY[:-1]}".encode()

    def chunks() -> Iterator[bytes]:
        data = ROOT_HEAD + ENVELOPE + _part_head("doc")
        yield data
        for chunk in _repeat(near, 40 * MB):
            for start in range(0, len(chunk), 1000):
                yield chunk[start : start + 1000]
        yield CLOSE

    from app.dmp_client.core.mtom import read_mtom
    from app.dmp_client.transport import spool_sink

    reader = read_mtom(CONTENT_TYPE, chunks(), spool_sink)
    size = reader.parts["doc"].size
    reader.parts["doc"].file.close()
    if size != 40 * MB:
        raise AssertionError(f"attachment of {size} bytes")


# -- client: XML -------------------------------------------------------------------------------------


def _envelope_of(body: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        b"<s:Body><r>" + body + b"</r></s:Body></s:Envelope>"
    )


def xml_element_bomb() -> None:
    """A 60 MB body of 15 million empty elements (was: parsed with 2.1 GB RSS)."""
    from app.dmp_client.core.soap import parse_envelope

    parse_envelope(_envelope_of(b"<a/>" * (15_000_000)), ())


def xml_attribute_bomb() -> None:
    """60 MB of attributes (each one an attribute node and a text node in libxml2)."""
    from app.dmp_client.core.soap import parse_envelope

    parse_envelope(_envelope_of(b"<a" + b' b=""' * 12_000_000 + b"/>"), ())


def xml_utf16_entities() -> None:
    """A UTF-16 envelope declaring entities (was: past the byte-level check, refused as unreadable)."""
    from app.dmp_client.core.soap import parse_envelope

    text = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE s:Envelope [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><r>&b;</r></s:Body></s:Envelope>'
    )
    parse_envelope(text.encode("utf-16"), ())


def xml_doctype_late() -> None:
    """A DOCTYPE after 10 KB of whitespace (past a check of the first 4 KB only)."""
    from app.dmp_client.core.soap import parse_envelope

    parse_envelope(b'<?xml version="1.0"?>' + b" " * 10_000 + b"<!DOCTYPE x>" + _envelope_of(b"")[21:], ())


def xml_deep() -> None:
    """100,000 nested elements (past libxml2's depth limit: a project error)."""
    from app.dmp_client.core.soap import parse_envelope

    parse_envelope(_envelope_of(b"<a>" * 100_000 + b"</a>" * 100_000), ())


def xml_inline_40mb() -> None:
    """A RetrieveDocumentSetResponse with a 40 MiB document inline (was: libxml2's text-node limit,
    ~7.5 MiB of base64). Must be accepted."""
    from app.dmp_client.core import iti43
    from app.dmp_client.core.soap import parse_envelope

    payload = base64.b64encode(b"%PDF" * (10 * MB))
    body = (
        b'<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007" '
        b'xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"><rs:RegistryResponse '
        b'status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/><xdsb:DocumentResponse>'
        b"<xdsb:RepositoryUniqueId>1.2.3</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>1.2.4"
        b"</xdsb:DocumentUniqueId><xdsb:mimeType>text/xml</xdsb:mimeType><xdsb:Document>"
        + payload
        + b"</xdsb:Document></xdsb:DocumentResponse></xdsb:RetrieveDocumentSetResponse>"
    )
    envelope = (
        b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        b"<s:Body>" + body + b"</s:Body></s:Envelope>"
    )
    del payload, body
    result = iti43.parse_retrieve_response(parse_envelope(envelope, ()).payload)
    inline = result.documents[0].inline_base64 or ""
    if len(inline) != 4 * -(-40 * MB // 3):
        raise AssertionError(f"inline document truncated: {len(inline)}")


# -- client: received CDA and foreign exceptions ------------------------------------------------------


def _cda(head: str, body: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{head}<ClinicalDocument xmlns="{HL7}"><id root="1.2.3"/>'
        f'<setId root="1.2.4"/><versionNumber value="1"/>{body}<component><nonXMLBody>'
        '<text mediaType="text/plain" representation="B64">aGVsbG8=</text></nonXMLBody></component>'
        "</ClinicalDocument>"
    ).encode()


def cda_doctype_body() -> None:
    """A received CDA carrying a DOCTYPE, read for display (was: accepted)."""
    from app.dmp_client.core.cda import extract_body

    extract_body(io.BytesIO(_cda('<!DOCTYPE ClinicalDocument [<!ENTITY e "x">]>')), io.BytesIO())


def cda_doctype_identity() -> None:
    """A received CDA carrying a DOCTYPE, read as the previous version of a replacement."""
    from app.dmp_client.core.cda import read_identity

    read_identity(io.BytesIO(_cda("<!DOCTYPE ClinicalDocument>")))


def cda_element_bomb() -> None:
    """A received CDA with 15 million empty elements before its body."""
    from app.dmp_client.core.cda import extract_body

    extract_body(io.BytesIO(_cda("", "<x/>" * 15_000_000)), io.BytesIO())


def cda_superscript_version() -> None:
    """``versionNumber value="²"`` (``str.isdigit()`` accepts it; ``int()`` does not)."""
    from app.dmp_client.core.cda import read_identity

    read_identity(io.BytesIO(_cda("").replace(b'value="1"', 'value="²"'.encode())))


def iti18_superscript_size() -> None:
    """A DocumentEntry whose ``size`` slot holds ``²``: read as unknown, no ValueError. Accepted."""
    from lxml import etree

    from app.dmp_client.core.iti18 import parse_document

    rim = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
    node = etree.fromstring(
        f'<rim:ExtrinsicObject xmlns:rim="{rim}" id="urn:uuid:1" mimeType="text/xml">'
        '<rim:Slot name="size"><rim:ValueList><rim:Value>²</rim:Value></rim:ValueList></rim:Slot>'
        "</rim:ExtrinsicObject>"
    )
    if parse_document(node).size is not None:
        raise AssertionError("size ² read as a number")


# -- sandbox host --------------------------------------------------------------------------------------


def _host_parse(body: bytes) -> None:
    from sandbox.host.faults import HostFault
    from sandbox.host.server import parse_request_xml

    try:
        parse_request_xml(body)
    except HostFault as fault:
        raise _Refused(f"HOST:{fault.subcode}", fault.reason) from None


class _Refused(Exception):
    """The host refused (its own exceptions are not the client's hierarchy): code and reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def host_element_bomb() -> None:
    """The host reading a 60 MB request of 15 million empty elements."""
    _host_parse(_envelope_of(b"<a/>" * 15_000_000))


def host_utf16_entities() -> None:
    """The host reading a UTF-16 request declaring entities."""
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    _host_parse(text.encode("utf-16"))


def _host_related(chunks: Iterator[bytes]) -> None:
    import tempfile

    from sandbox.host import mtom

    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        content_type = f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; start="<root>"'
        try:
            mtom.parse_related(spool, content_type)
        except mtom.BodyError as error:
            raise _Refused("HOST:BodyError", str(error)) from None


def host_mtom_delimiters() -> None:
    """The host splitting a 200 MB request made only of delimiters (40 million of them)."""
    delimiter = f"\r\n--{BOUNDARY}".encode()
    _host_related(iter((ROOT_HEAD + ENVELOPE, *_repeat(delimiter, 200 * MB), CLOSE)))


def host_mtom_many_parts() -> None:
    """The host splitting a request of 30,000 one-byte parts."""
    parts = (_part_head(f"p{n}") + b"x" for n in range(30_000))
    _host_related(iter((ROOT_HEAD + ENVELOPE, *parts, CLOSE)))


def _host_cda(document: bytes) -> None:
    from sandbox.host.cdacheck import check_cda
    from sandbox.host.xds import XdsError

    try:
        check_cda(document, {"uniqueId": "1.2.3"}, "1", "1.2.250.1.213.1.4.10")
    except XdsError as error:
        raise _Refused(f"HOST:{error.code}", error.context) from None


def host_cda_doctype_late() -> None:
    """The host checking a CDA whose DOCTYPE comes after 2 MB of whitespace (past its first chunk)."""
    _host_cda(b'<?xml version="1.0"?>' + b" " * (2 * MB) + b'<!DOCTYPE x [<!ENTITY a "b">]>' + _cda("")[38:])


def host_cda_utf16_doctype() -> None:
    """The host checking a UTF-16 CDA carrying a DOCTYPE."""
    _host_cda(_cda("<!DOCTYPE ClinicalDocument>").decode().replace("UTF-8", "UTF-16").encode("utf-16"))


def host_cda_element_bomb() -> None:
    """The host checking a CDA of 15 million empty elements."""
    _host_cda(_cda("", "<x/>" * 15_000_000))


CASES: dict[str, Callable[[], None]] = {
    name: function
    for name, function in list(globals().items())
    if callable(function)
    and getattr(function, "__module__", None) == __name__
    and not name.startswith("_")
    and name not in ("run", "main")
}


def run(name: str) -> dict[str, object]:
    """Run one case here; the outcome is a project error's code, ``ok``, or the foreign exception."""
    from app.errors import USER_FACING_ERRORS

    start = time.monotonic()
    detail = ""
    try:
        CASES[name]()
        outcome = "ok"
    except _Refused as refused:
        outcome, detail = refused.code, refused.detail
    except USER_FACING_ERRORS as error:
        outcome, detail = str(getattr(error, "code", "?")), str(getattr(error, "user_message", ""))
    except BaseException as error:
        outcome = f"FOREIGN:{type(error).__name__}"
    seconds = time.monotonic() - start
    rss = _peak_rss_kib() / 1024
    return {
        "case": name,
        "outcome": outcome,
        "detail": detail,
        "seconds": round(seconds, 2),
        "rss_mb": round(rss),
    }


def main(argv: list[str]) -> int:
    names = list(CASES) if argv == ["--all"] else argv
    if len(names) == 1:
        limit = 3 * 1024 * MB  # a regression ends in MemoryError, not in the machine swapping
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(json.dumps(run(names[0]), ensure_ascii=False))
        return 0
    import subprocess

    print("| case | outcome | seconds | peak RSS (MB) |\n|---|---|---|---|")
    for name in names:
        done = subprocess.run(
            [sys.executable, "-m", "tests.dmp_client.hostile_cases", name], capture_output=True, text=True
        )
        lines = done.stdout.strip().splitlines()
        result = (
            json.loads(lines[-1])
            if lines
            else {"outcome": f"crash {done.returncode}", "seconds": "?", "rss_mb": "?"}
        )
        print(f"| {name} | {result['outcome']} | {result['seconds']} | {result['rss_mb']} |", flush=True)
    return 0


def _peak_rss_kib() -> int:
    """This process's own peak RSS: VmHWM starts again at exec, whereas ``ru_maxrss`` keeps the
    high-water mark of the forked copy of its parent (pytest, 1 GB in a full run)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
