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

import contextlib
import io
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from app.dmp_client.core.errors import HostileXml, MalformedResponse, MtomRefused, SpoolFailure

ROOT_ID = "root.message@dmp-client"


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


@dataclass(frozen=True)
class MtomLimits:
    """Bounds on a received multipart/related answer: every one is a refusal, never a truncation.

    The defaults fit the DMP's answers (one root part and the retrieved document) with room to spare.
    ``max_attachment_bytes``: the DMP publishes no document size limit [UNSURE]; the default is the
    envelope cap (an inline document may be that large too), and it is a parameter."""

    max_attachments: int = 4  # binary parts, each an open spool file until the caller closes it
    max_header_bytes: int = 16 * 1024  # one part's header block
    max_preamble_bytes: int = 64 * 1024  # before the first delimiter
    max_epilogue_bytes: int = 64 * 1024  # after the closing delimiter (counted, never kept)
    max_padding_bytes: int = 1024  # transport padding after a delimiter, before its CRLF
    max_root_bytes: int = 64 * 1024 * 1024  # the SOAP envelope, kept in memory
    max_attachment_bytes: int = 64 * 1024 * 1024  # one attachment, written to its sink


DEFAULT_LIMITS = MtomLimits()


@dataclass
class ReceivedPart:
    content_id: str
    content_type: str
    file: BinaryIO
    size: int = 0


@dataclass
class MultipartReader:
    """Incremental multipart/related parser: linear in its input, memory and open files bounded.

    Every byte is scanned a bounded number of times (each search resumes where the last one gave up,
    less a delimiter's length); the buffer never holds more than a chunk plus a header block. On any
    refusal, the sinks' files opened so far are closed (:meth:`abort`)."""

    boundary: str
    sink: Sink
    start: str | None = None
    limits: MtomLimits = DEFAULT_LIMITS
    root: bytes = b""
    parts: dict[str, ReceivedPart] = field(default_factory=dict)
    _buffer: bytearray = field(default_factory=bytearray)
    _scanned: int = 0  # bytes of the buffer already searched without success
    _state: str = "preamble"
    _current: ReceivedPart | None = None
    _root_buffer: io.BytesIO | None = None
    _root_seen: bool = False
    _opened: list[BinaryIO] = field(default_factory=list)
    _epilogue: int = 0

    def __post_init__(self) -> None:
        if not self.boundary or len(self.boundary) > 200:
            raise MtomRefused("Réponse MTOM refusée : délimiteur (boundary) absent ou trop long.")
        self._first = b"--" + self.boundary.encode("latin-1", "replace")
        self._delimiter = b"\r\n" + self._first

    def feed(self, chunk: bytes) -> None:
        try:
            if self._state == "done":
                self._epilogue += len(chunk)
                self._check_epilogue()
                return
            self._buffer += chunk
            while self._step():
                pass
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close every file a sink gave: nothing of a refused answer stays open."""
        for handle in self._opened:
            with contextlib.suppress(OSError):
                handle.close()
        self._opened.clear()
        self.parts.clear()
        self._current = None

    def _find(self, needle: bytes) -> int:
        """``needle`` in the buffer, searching only bytes not searched before (linear overall)."""
        index = self._buffer.find(needle, max(0, self._scanned - len(needle) + 1))
        self._scanned = len(self._buffer) if index < 0 else 0
        return index

    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._scanned = 0

    def _step(self) -> bool:
        limits = self.limits
        if self._state == "preamble":
            index = self._find(self._first)
            if index < 0:
                if len(self._buffer) > limits.max_preamble_bytes + len(self._first):
                    raise MtomRefused("Réponse MTOM refusée : préambule trop long, sans délimiteur.")
                return False
            self._consume(index + len(self._first))
            self._state = "after-delimiter"
            return True
        if self._state == "after-delimiter":
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] == b"--":
                self._state = "done"
                self._epilogue = len(self._buffer) - 2
                self._buffer = bytearray()
                self._check_epilogue()
                return False
            end = self._find(b"\r\n")
            if end < 0:
                if len(self._buffer) > limits.max_padding_bytes:
                    raise MtomRefused("Réponse MTOM refusée : délimiteur sans fin de ligne.")
                return False
            if self._buffer[:end].strip(b" \t"):
                raise MtomRefused("Réponse MTOM refusée : texte après un délimiteur.")
            self._consume(end + 2)
            self._state = "headers"
            return True
        if self._state == "headers":
            if self._buffer[:2] == b"\r\n":  # a part without headers (RFC 2046 allows it)
                self._consume(2)
                self._open_part({})
                self._state = "body"
                return True
            end = self._find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > limits.max_header_bytes:
                    raise MtomRefused("Réponse MTOM refusée : en-têtes de partie trop longs.")
                return False
            if end > limits.max_header_bytes:
                raise MtomRefused("Réponse MTOM refusée : en-têtes de partie trop longs.")
            headers = _headers(bytes(self._buffer[:end]))
            self._consume(end + 4)
            self._open_part(headers)
            self._state = "body"
            return True
        if self._state == "body":
            index = self._find(self._delimiter)
            if index < 0:
                keep = len(self._delimiter) - 1
                if len(self._buffer) > keep:
                    self._write(self._buffer[:-keep])
                    self._consume(len(self._buffer) - keep)
                    self._scanned = len(self._buffer)  # the kept tail is searched again, no more
                return False
            self._write(self._buffer[:index])
            self._consume(index + len(self._delimiter))
            self._close_part()
            self._state = "after-delimiter"
            return True
        return False

    def _check_epilogue(self) -> None:
        if self._epilogue > self.limits.max_epilogue_bytes:
            raise MtomRefused("Réponse MTOM refusée : données après le délimiteur de fin.")

    def _open_part(self, headers: dict[str, str]) -> None:
        content_id = headers.get("content-id", "").strip().strip("<>")
        content_type = headers.get("content-type", "application/octet-stream")
        is_root = (self.start is not None and content_id == self.start.strip().strip("<>")) or (
            self.start is None and not self._root_seen
        )
        if is_root:
            if self._root_seen:
                raise MtomRefused("Réponse MTOM refusée : deux parties principales.")
            self._root_seen = True
            self._root_buffer = io.BytesIO()
            self._current = ReceivedPart(content_id, content_type, self._root_buffer)
            return
        if content_id in self.parts:
            raise MtomRefused("Réponse MTOM refusée : Content-ID en double.")
        if len(self._opened) >= self.limits.max_attachments:
            raise MtomRefused("Réponse MTOM refusée : trop de parties.")
        try:
            handle = self.sink(content_id, content_type)
        except OSError:
            raise SpoolFailure() from None
        self._opened.append(handle)
        self._current = ReceivedPart(content_id, content_type, handle)

    def _write(self, data: bytearray) -> None:
        part = self._current
        if part is None or not data:
            return
        part.size += len(data)
        if part.file is self._root_buffer:
            if part.size > self.limits.max_root_bytes:
                raise HostileXml()
        elif part.size > self.limits.max_attachment_bytes:
            raise MtomRefused("Réponse MTOM refusée : pièce jointe trop volumineuse.")
        try:
            part.file.write(data)
        except OSError:
            raise SpoolFailure() from None

    def _close_part(self) -> None:
        part = self._current
        self._current = None
        if part is None:
            return
        if part.file is self._root_buffer:
            self.root = self._root_buffer.getvalue()
            self._root_buffer = None
        else:
            try:
                part.file.flush()
            except OSError:
                raise SpoolFailure() from None
            self.parts[part.content_id] = part

    def finish(self) -> None:
        try:
            if self._state != "done":
                raise MalformedResponse("Réponse MTOM tronquée (délimiteur de fin absent).")
            if not self._root_seen:
                raise MalformedResponse("Réponse MTOM sans partie principale.")
        except BaseException:
            self.abort()
            raise


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def read_mtom(
    content_type: str, chunks: Iterable[bytes], sink: Sink, limits: MtomLimits = DEFAULT_LIMITS
) -> MultipartReader:
    """Parse a whole multipart/related response; the caller owns the sinks' files (closed here if
    the answer is refused, or if reading it fails)."""
    _, params = content_type_parameters(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise MalformedResponse("Réponse MTOM sans paramètre boundary.")
    reader = MultipartReader(boundary, sink, params.get("start"), limits)
    try:
        for chunk in chunks:
            reader.feed(chunk)
        reader.finish()
    except BaseException:
        reader.abort()
        raise
    return reader
