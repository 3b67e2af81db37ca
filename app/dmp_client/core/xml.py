"""One hardened XML parser for everything received: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

from lxml import etree

from app.dmp_client.core.errors import HostileXml, MalformedResponse

MAX_XML_BYTES = 64 * 1024 * 1024  # a metadata answer for thousands of documents stays far below

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
    remove_comments=False,
)


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse bytes received from the network; refuse DOCTYPEs, entities and oversized input."""
    if len(data) > max_bytes:
        raise HostileXml()
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise HostileXml()
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise MalformedResponse(f"Réponse du DMP mal formée (XML : ligne {error.lineno}).") from None
    if root.getroottree().docinfo.doctype:
        raise HostileXml()
    return root


def serialize(element: etree._Element) -> bytes:
    """The bytes of an element as sent: UTF-8 with an XML declaration, never pretty-printed."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")
