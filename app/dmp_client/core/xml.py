"""One hardened XML parser for everything received: no DTD, no entities, no network, bounded size
and bounded memory.

Bounds, each a refusal (:class:`HostileXml`), checked on the bytes before libxml2 builds anything:

- size: ``max_bytes`` (64 MiB, the envelope cap; an inline document may come that large);
- markup items: ``max_nodes`` counts every ``<`` and ``=`` (an upper bound on the elements, text
  nodes and attributes the tree will hold, about 125 bytes of memory each): 2,000,000 items keep a
  parse under ~250 MB, where 15 million empty elements in 60 MB would take 2 GB;
- DOCTYPE and entity declarations, looked for in the *decoded* document: an answer in UTF-16 or
  UTF-32 (BOM or the XML 1.0 appendix F signatures) is transcoded to UTF-8 first, an ASCII-compatible
  one is checked as is, and any other declared encoding (EBCDIC, UTF-7, …) is refused.

With those bounds in place libxml2's own per-node limits are lifted (``huge_tree``): an inline
base64 document is a single text node, which libxml2 otherwise refuses past ~10 MB of text.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from app.dmp_client.core.errors import HostileXml, MalformedResponse

MAX_XML_BYTES = 64 * 1024 * 1024  # a metadata answer for thousands of documents stays far below
MAX_XML_NODES = 2_000_000  # markup items (``<`` and ``=``); a FindDocuments entry takes ~300


def _parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,  # safe only because of the bounds above: see the module docstring
        remove_blank_text=False,
        remove_comments=False,
    )


_PARSER = _parser(None)
_UTF8_PARSER = _parser("utf-8")  # a transcoded UTF-16/32 document, whatever it declares

_HOSTILE = re.compile(rb"<!(?i:doctype|entity)")
_DECLARED = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']"
)
# Encodings in which every ASCII character is its ASCII byte (and no other byte sequence is one):
# the byte-level checks hold on the decoded document.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "ascii", "latin-1", "cp1252", "cp1250", "cp1251"} | {f"iso8859-{n}" for n in range(1, 17)}
)
# (signature, codec, bytes of BOM to drop): XML 1.0 appendix F.
_WIDE = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00<", "utf-16-be", 0),
    (b"<\x00", "utf-16-le", 0),
)
_SLICE = 1024 * 1024


def _transcode(data: bytes, codec: str, skip: int) -> bytes:
    """A UTF-16/32 document as UTF-8, decoded slice by slice (never one huge ``str``)."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    out = bytearray()
    view = memoryview(data)[skip:]
    try:
        for start in range(0, len(view), _SLICE):
            out += decoder.decode(view[start : start + _SLICE]).encode("utf-8")
        out += decoder.decode(b"", final=True).encode("utf-8")
    except UnicodeError:
        raise MalformedResponse(f"Réponse du DMP mal formée (XML : encodage {codec} invalide).") from None
    return bytes(out)


def _ascii_compatible(data: bytes) -> tuple[bytes, bool]:
    """The document as bytes in which ``<!DOCTYPE`` is ``<!DOCTYPE``; True if transcoded to UTF-8."""
    head = data[:4]
    for signature, codec, skip in _WIDE:
        if head.startswith(signature):
            return _transcode(data, codec, skip), True
    declared = _DECLARED.match(data[:512])
    if declared is not None:
        try:
            name = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            raise HostileXml() from None
        if name not in _ASCII_COMPATIBLE:
            raise HostileXml()
    elif b"\x00" in head or head == b"\x4c\x6f\xa7\x94":
        raise HostileXml()  # neither ASCII-compatible nor UTF-16/32 (EBCDIC, UCS-4 2143, …)
    return data, False


def check_markup(data: bytes, *, max_nodes: int = MAX_XML_NODES) -> None:
    """The byte-level bounds on an ASCII-compatible document: no DOCTYPE or entity, bounded markup."""
    if _HOSTILE.search(data) is not None:
        raise HostileXml()
    if data.count(b"<") + data.count(b"=") > max_nodes:
        raise HostileXml()


def parse_xml(
    data: bytes, *, max_bytes: int = MAX_XML_BYTES, max_nodes: int = MAX_XML_NODES
) -> etree._Element:
    """Parse bytes received from the network; refuse DOCTYPEs, entities and oversized input."""
    if len(data) > max_bytes:
        raise HostileXml()
    data, transcoded = _ascii_compatible(data)
    check_markup(data, max_nodes=max_nodes)
    try:
        root = etree.fromstring(data, parser=_UTF8_PARSER if transcoded else _PARSER)
    except etree.XMLSyntaxError as error:
        raise MalformedResponse(f"Réponse du DMP mal formée (XML : ligne {error.lineno}).") from None
    except (ValueError, LookupError, MemoryError):  # lxml's own refusals (e.g. an unknown encoding)
        raise MalformedResponse("Réponse du DMP mal formée (XML illisible).") from None
    if root.getroottree().docinfo.doctype:
        raise HostileXml()
    return root


def serialize(element: etree._Element) -> bytes:
    """The bytes of an element as sent: UTF-8 with an XML declaration, never pretty-printed."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")
