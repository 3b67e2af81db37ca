"""The host's guard on received XML (SOAP requests, CDA documents), written for the host alone: the
sandbox shares no code with the client, and must not be easier to knock over than it.

- DOCTYPE and entity declarations are refused in the *decoded* text: UTF-16/UTF-32 input (BOM or the
  XML 1.0 appendix F signatures) is transcoded to UTF-8 before the check; an ASCII-compatible
  encoding is checked as bytes; any other declared encoding is refused.
- the number of markup items (every ``<`` and ``=``, an upper bound on elements, text nodes and
  attributes) is capped before libxml2 builds a tree, so memory stays proportional to the cap.
"""

from __future__ import annotations

import codecs
import re

MAX_MARKUP = 2_000_000  # ~250 MB of tree at most; a large ITI-41 holds a few thousand
MAX_ENVELOPE = 64 * 1024 * 1024  # a SOAP envelope (the root part of an MTOM request)

_HOSTILE = re.compile(rb"<!(?i:doctype|entity)")
_ENCODING = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([^\"']{0,40})[\"']")
_EIGHT_BIT = {"utf-8", "ascii", "iso8859-1", "iso8859-15", "cp1252"}
_SIGNATURES = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00<", "utf-16-be", 0),
    (b"<\x00", "utf-16-le", 0),
)


class Refused(Exception):
    """The XML is refused before parsing; ``reason`` is French, for the fault or the RegistryError."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guard(data: bytes, *, max_bytes: int = MAX_ENVELOPE, max_markup: int = MAX_MARKUP) -> tuple[bytes, bool]:
    """Check ``data``; return the bytes to parse and whether they were transcoded to UTF-8 (the
    parser must then be told so: the declaration still names the original encoding)."""
    if len(data) > max_bytes:
        raise Refused("XML refusé (trop volumineux).")
    transcoded = False
    for signature, codec, skip in _SIGNATURES:
        if data.startswith(signature):
            try:
                data = data[skip:].decode(codec).encode("utf-8")
            except UnicodeError:
                raise Refused(f"XML refusé (encodage {codec} invalide).") from None
            transcoded = True
            break
    else:
        declared = _ENCODING.match(data[:512])
        if declared is not None:
            try:
                name = codecs.lookup(declared.group(1).decode("ascii", "replace")).name
            except LookupError:
                raise Refused("XML refusé (encodage inconnu).") from None
            if name not in _EIGHT_BIT:
                raise Refused(f"XML refusé (encodage {name} non admis).")
        elif b"\x00" in data[:4]:
            raise Refused("XML refusé (encodage non reconnu).")
    if _HOSTILE.search(data) is not None:
        raise Refused("XML refusé (DTD ou entités).")
    if data.count(b"<") + data.count(b"=") > max_markup:
        raise Refused("XML refusé (trop d'éléments ou d'attributs).")
    return data, transcoded
