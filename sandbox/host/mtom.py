"""MTOM/XOP for the host: request bodies spooled to a temporary file, parts kept as offsets; MTOM answers
streamed part by part (documents are read from their files, never joined into one bytes object).

Wire shape (SOAP 1.2 MTOM, as the DMP kit and CXF send it)::

    Content-Type: multipart/related; type="application/xop+xml"; start="<root>";
                  start-info="application/soap+xml"; boundary="..."
    root part:     Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"
    binary parts:  Content-ID: <cid>, referenced from the envelope by <xop:Include href="cid:..."/>
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import unquote

CHUNK = 1024 * 1024
MAX_HEADER = 16 * 1024
MAX_PARTS = 1000
MAX_ROOT = 64 * 1024 * 1024  # the SOAP envelope, read into memory (safexml.MAX_ENVELOPE)
ROOT_CONTENT_TYPE = 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'


class BodyError(Exception):
    """The HTTP body or its multipart structure is unusable (answered as a fault or an HTTP error)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- request side ----------------------------------------------------------------------------------


def spool(rfile: BinaryIO, length: int | None, chunked: bool, limit: int) -> IO[bytes]:
    """Copy the request body to an anonymous temporary file (Content-Length or chunked)."""
    out: IO[bytes] = tempfile.TemporaryFile(prefix="dmp-host-")  # noqa: SIM115 (closed by the caller)
    total = 0
    try:
        if chunked:
            while True:
                line = rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BodyError("Encodage chunked invalide.")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BodyError("Encodage chunked invalide.") from None
                if size == 0:
                    while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > limit:
                    raise BodyError("Corps de requête trop volumineux.", 413)
                _copy(rfile, out, size)
                if rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise BodyError("Encodage chunked invalide.")
        else:
            if length is None or length <= 0:
                raise BodyError("Corps de requête absent.")
            if length > limit:
                raise BodyError("Corps de requête trop volumineux.", 413)
            _copy(rfile, out, length)
            total = length
        if total == 0:
            raise BodyError("Corps de requête absent.")
        out.seek(0)
        return out
    except BaseException:
        out.close()
        raise


def _copy(source: BinaryIO, out: IO[bytes], size: int) -> None:
    remaining = size
    while remaining:
        data = source.read(min(CHUNK, remaining))
        if not data:
            raise BodyError("Corps de requête tronqué.")
        out.write(data)
        remaining -= len(data)


@dataclass
class Part:
    """One MIME part: its headers and where its content lies in the spool file."""

    spool: IO[bytes]
    offset: int
    length: int
    content_type: str
    content_id: str

    def chunks(self) -> Iterator[bytes]:
        fd = self.spool.fileno()
        position, end = self.offset, self.offset + self.length
        while position < end:
            data = os.pread(fd, min(CHUNK, end - position), position)
            if not data:
                return
            position += len(data)
            yield data

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def save(self, target: Path) -> tuple[str, int]:
        """Write the content to ``target``; return (sha1 hex, size)."""
        digest = hashlib.sha1()
        with target.open("wb") as out:
            for data in self.chunks():
                digest.update(data)
                out.write(data)
        return digest.hexdigest(), self.length

    def digest(self, algorithm: str) -> bytes:
        digest = hashlib.new(algorithm)
        for data in self.chunks():
            digest.update(data)
        return digest.digest()


def _params(content_type: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["Content-Type"] = content_type
    params = {k.lower(): v for k, v in (message.get_params() or [])[1:]}
    return message.get_content_type(), params


def content_id(value: str) -> str:
    """``<abc@x>`` or ``cid:abc%40x`` → ``abc@x``."""
    value = value.strip()
    if value.lower().startswith("cid:"):
        value = unquote(value[4:])
    return value.strip().removeprefix("<").removesuffix(">")


def parse_related(body: IO[bytes], content_type: str) -> tuple[bytes, dict[str, Part]]:
    """Split a multipart/related body: the root part's bytes, and the other parts by Content-ID."""
    kind, params = _params(content_type)
    if kind != "multipart/related":
        raise BodyError("Content-Type multipart/related attendu.")
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise BodyError("Paramètre boundary absent ou invalide.")
    if params.get("type", "").lower() != "application/xop+xml":
        raise BodyError('multipart/related : type="application/xop+xml" attendu (MTOM).')
    marker = b"--" + boundary.encode("latin-1")
    positions = _find_all(body, b"\r\n" + marker, MAX_PARTS + 2)
    body.seek(0)
    if body.read(len(marker)) == marker:
        positions.insert(0, -2)
    if len(positions) < 2:
        raise BodyError("Message MTOM sans délimiteur de fin.")
    fd = body.fileno()
    parts: list[Part] = []
    closed = False
    for start, end in itertools.pairwise(positions):
        after = start + 2 + len(marker)
        if os.pread(fd, 2, after) == b"--":
            closed = True
            break
        header_block = os.pread(fd, MAX_HEADER, after)
        split = header_block.find(b"\r\n\r\n")
        if split < 0:
            raise BodyError("En-têtes de partie MIME absents ou trop longs.")
        headers = _headers(header_block[:split])
        content_start = after + split + 4
        if content_start > end:
            raise BodyError("Partie MIME mal formée.")
        parts.append(
            Part(
                body,
                content_start,
                end - content_start,
                headers.get("content-type", ""),
                content_id(headers.get("content-id", "")),
            )
        )
        if len(parts) > MAX_PARTS:
            raise BodyError("Trop de parties MIME.")
    if not closed and os.pread(fd, 2, positions[-1] + 2 + len(marker)) == b"--":
        closed = True
    if not closed:
        raise BodyError("Message MTOM sans délimiteur de fin.")
    if not parts:
        raise BodyError("Message MTOM vide.")
    start_id = content_id(params.get("start", "")) if params.get("start") else None
    root = next((p for p in parts if p.content_id == start_id), None) if start_id else parts[0]
    if root is None:
        raise BodyError("Partie racine (start) introuvable.")
    if root.length > MAX_ROOT:
        raise BodyError("Partie racine (enveloppe SOAP) trop volumineuse.", 413)
    if not root.content_type.lower().startswith("application/xop+xml"):
        raise BodyError("La partie racine doit être application/xop+xml.")
    others: dict[str, Part] = {}
    for part in parts:
        if part is root:
            continue
        if not part.content_id or part.content_id in others:
            raise BodyError("Partie MIME sans Content-ID ou Content-ID en double.")
        others[part.content_id] = part
    return root.read(), others


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BodyError("En-tête de partie MIME mal formé.")
        headers[name.strip().lower()] = value.strip()
    return headers


def _find_all(body: IO[bytes], needle: bytes, limit: int) -> list[int]:
    """Offsets of ``needle`` (a delimiter) in the spooled body; more than ``limit`` is refused, so a
    body made of nothing but delimiters costs no more memory than ``limit`` parts."""
    found: list[int] = []
    body.seek(0)
    offset = 0
    tail = b""
    while True:
        data = body.read(CHUNK)
        if not data:
            return found
        window = tail + data
        base = offset - len(tail)
        index = window.find(needle)
        while index >= 0:
            position = base + index
            if not found or position > found[-1]:
                found.append(position)
                if len(found) > limit:
                    raise BodyError("Trop de parties MIME.")
            index = window.find(needle, index + 1)
        tail = window[-(len(needle) - 1) :] if len(needle) > 1 else b""
        offset += len(data)


# -- per-request exchange --------------------------------------------------------------------------


@dataclass
class Outgoing:
    """A binary part of an MTOM answer: bytes, or a file streamed when the answer is written."""

    content_id: str
    content_type: str
    data: bytes | None = None
    path: Path | None = None

    @property
    def length(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size


@dataclass
class Exchange:
    """What the transport gives a handler beyond the envelope, and what the handler gives back."""

    parts: dict[str, Part] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    result: str = "OK"
    signer: Any = None  # the VIHF's signing certificate (x509.Certificate), for the XAdES check
    trust: Any = None  # the host's vihf.Trust


EXCHANGE: contextvars.ContextVar[Exchange] = contextvars.ContextVar("dmp_host_exchange")


def current() -> Exchange:
    try:
        return EXCHANGE.get()
    except LookupError:
        exchange = Exchange()
        EXCHANGE.set(exchange)
        return exchange


def new_cid() -> str:
    return f"{uuid.uuid4().hex}@dmp-bac-a-sable"


# -- response side ---------------------------------------------------------------------------------


@dataclass
class MtomAnswer:
    """An MTOM answer as a list of segments; written (and recorded) without joining the documents."""

    boundary: str
    root_id: str
    segments: list[bytes | Outgoing]

    @property
    def content_type(self) -> str:
        return (
            f'multipart/related; type="application/xop+xml"; boundary="{self.boundary}"; '
            f'start="<{self.root_id}>"; start-info="application/soap+xml"'
        )

    @property
    def length(self) -> int:
        return sum(len(s) if isinstance(s, bytes) else s.length for s in self.segments)

    def write(self, out: Any) -> None:
        for segment in self.segments:
            if isinstance(segment, bytes):
                out.write(segment)
            elif segment.data is not None:
                out.write(segment.data)
            else:
                assert segment.path is not None
                with segment.path.open("rb") as source:
                    shutil.copyfileobj(source, out, CHUNK)


def mtom_answer(envelope: bytes, parts: list[Outgoing]) -> MtomAnswer:
    boundary = f"uuid:{uuid.uuid4()}"
    root_id = f"root.message@{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\nContent-Type: {ROOT_CONTENT_TYPE}\r\n"
        f"Content-Transfer-Encoding: binary\r\nContent-ID: <{root_id}>\r\n\r\n"
    ).encode()
    segments: list[bytes | Outgoing] = [head, envelope]
    for part in parts:
        segments.append(
            (
                f"\r\n--{boundary}\r\nContent-Type: {part.content_type}\r\n"
                f"Content-Transfer-Encoding: binary\r\nContent-ID: <{part.content_id}>\r\n\r\n"
            ).encode()
        )
        segments.append(part)
    segments.append(f"\r\n--{boundary}--\r\n".encode())
    return MtomAnswer(boundary, root_id, segments)


_CID_CHARS = re.compile(r"^[\x21-\x7e]+$")


def valid_cid(value: str) -> bool:
    return bool(_CID_CHARS.match(value))
