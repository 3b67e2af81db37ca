"""MTOM/XOP framing (W3C XOP, SOAP 1.2 MTOM) that streams both ways (dmp-interface.md §2.2).

Building: the SOAP envelope (with ``xop:Include href="cid:…"``) is the root part; each document is a
binary part whose bytes come from an iterable of chunks, so a 50 MB document is never in memory as
one piece, let alone as base64. The total length is known up front (Content-Length, no chunked
encoding needed by the host).

Parsing: :class:`MultipartReader` is fed the response chunk by chunk; the root part is kept in
memory (bounded), every other part is written to a sink the caller provides (a temporary file at
the edge), keeping only a boundary's length of look-behind.
"""

from __future__ import annotations

import io
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from app.dmp_client.core.errors import HostileXml, MalformedResponse

ROOT_ID = "root.message@dmp-client"
MAX_ROOT_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class Part:
    content_id: str  # without angle brackets
    size: int
    chunks: Callable[[], Iterable[bytes]]  # called once per sending attempt
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class MtomRequest:
    """A multipart/related body: its Content-Type, exact length and a fresh chunk iterator each call."""

    content_type: str
    length: int
    _pieces: Callable[[], Iterator[bytes]]

    def chunks(self) -> Iterator[bytes]:
        return self._pieces()


def new_content_id() -> str:
    return f"{uuid.uuid4()}@dmp-client"


def build_mtom(envelope: bytes, action: str, parts: list[Part]) -> MtomRequest:
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    root_head = (
        f"--{boundary}\r\n"
        'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        "Content-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{ROOT_ID}>\r\n\r\n"
    ).encode()
    heads = [
        (
            f"\r\n--{boundary}\r\n"
            f"Content-Type: {part.content_type}\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: <{part.content_id}>\r\n\r\n"
        ).encode()
        for part in parts
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(root_head) + len(envelope) + sum(map(len, heads)) + sum(p.size for p in parts) + len(tail)
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{ROOT_ID}>"; start-info="application/soap+xml"; action="{action}"'
    )

    def pieces() -> Iterator[bytes]:
        yield root_head + envelope
        for head, part in zip(heads, parts, strict=True):
            yield head
            sent = 0
            for chunk in part.chunks():
                sent += len(chunk)
                yield chunk
            if sent != part.size:
                raise MalformedResponse("Pièce jointe modifiée pendant l'envoi (taille différente).")
        yield tail

    return MtomRequest(content_type, length, pieces)


def content_type_parameters(value: str) -> tuple[str, dict[str, str]]:
    """``multipart/related; boundary="x"; type=…`` → (``multipart/related``, {parameters})."""
    media, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in re.finditer(r'\s*([\w\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*;?', rest):
        raw = match.group(2).strip()
        params[match.group(1).lower()] = raw[1:-1] if raw.startswith('"') else raw
    return media.strip().lower(), params


def cid_of(href: str) -> str:
    """``cid:abc%40host`` → ``abc@host`` (RFC 2392)."""
    value = href[4:] if href.lower().startswith("cid:") else href
    return urllib.parse.unquote(value).strip("<>")


Sink = Callable[[str, str], BinaryIO]  # (content_id, content_type) → writable binary file


@dataclass
class ReceivedPart:
    content_id: str
    content_type: str
    file: BinaryIO
    size: int = 0


@dataclass
class MultipartReader:
    """Incremental multipart/related parser with bounded memory."""

    boundary: str
    sink: Sink
    start: str | None = None
    root: bytes = b""
    parts: dict[str, ReceivedPart] = field(default_factory=dict)
    _buffer: bytearray = field(default_factory=bytearray)
    _state: str = "preamble"
    _current: ReceivedPart | None = None
    _root_buffer: io.BytesIO | None = None
    _root_seen: bool = False

    def __post_init__(self) -> None:
        self._delimiter = b"\r\n--" + self.boundary.encode()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def _step(self) -> bool:
        if self._state == "preamble":
            first = b"--" + self.boundary.encode()
            index = self._buffer.find(first)
            if index < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise MalformedResponse("Réponse MTOM sans délimiteur de début.")
                return False
            del self._buffer[: index + len(first)]
            self._state = "after-delimiter"
            return True
        if self._state == "after-delimiter":
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] == b"--":
                self._state = "done"
                self._buffer.clear()
                return False
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return False
            del self._buffer[: end + 2]
            self._state = "headers"
            return True
        if self._state == "headers":
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise HostileXml()
                return False
            headers = _headers(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
            self._open_part(headers)
            self._state = "body"
            return True
        if self._state == "body":
            index = self._buffer.find(self._delimiter)
            if index < 0:
                keep = len(self._delimiter) - 1
                if len(self._buffer) > keep:
                    self._write(bytes(self._buffer[:-keep]))
                    del self._buffer[:-keep]
                return False
            self._write(bytes(self._buffer[:index]))
            del self._buffer[: index + len(self._delimiter)]
            self._close_part()
            self._state = "after-delimiter"
            return True
        return False

    def _open_part(self, headers: dict[str, str]) -> None:
        content_id = headers.get("content-id", "").strip().strip("<>")
        content_type = headers.get("content-type", "application/octet-stream")
        is_root = (self.start is not None and content_id == self.start.strip("<>")) or (
            self.start is None and not self._root_seen
        )
        if is_root:
            self._root_seen = True
            self._root_buffer = io.BytesIO()
            self._current = ReceivedPart(content_id, content_type, self._root_buffer)
        else:
            self._current = ReceivedPart(content_id, content_type, self.sink(content_id, content_type))

    def _write(self, data: bytes) -> None:
        if self._current is None or not data:
            return
        self._current.size += len(data)
        if self._current.file is self._root_buffer and self._current.size > MAX_ROOT_BYTES:
            raise HostileXml()
        self._current.file.write(data)

    def _close_part(self) -> None:
        part = self._current
        self._current = None
        if part is None:
            return
        if part.file is self._root_buffer:
            self.root = self._root_buffer.getvalue()
            self._root_buffer = None
        else:
            part.file.flush()
            self.parts[part.content_id] = part

    def finish(self) -> None:
        if self._state != "done":
            raise MalformedResponse("Réponse MTOM tronquée (délimiteur de fin absent).")
        if not self._root_seen:
            raise MalformedResponse("Réponse MTOM sans partie principale.")


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def read_mtom(content_type: str, chunks: Iterable[bytes], sink: Sink) -> MultipartReader:
    """Parse a whole multipart/related response; the caller owns the sinks' files."""
    _, params = content_type_parameters(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise MalformedResponse("Réponse MTOM sans paramètre boundary.")
    reader = MultipartReader(boundary, sink, params.get("start"))
    for chunk in chunks:
        reader.feed(chunk)
    reader.finish()
    return reader
