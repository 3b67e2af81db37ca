"""A SOAP 1.2 fault as the sandbox's hosts send it (SOAP 1.2 Part 1 §5.4: Code/Value, Subcode,
Reason/Text with xml:lang; WS-Addressing 1.0 SOAP Binding §6: the fault action and RelatesTo). The
DMP host (sandbox/host) and the INSi host (sandbox/insi) differ only in prefixes, the subcode's
namespace and the Detail they add."""

from __future__ import annotations

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
XML_NS = "http://www.w3.org/XML/1998/namespace"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"


def fault_envelope(
    nsmap: dict[str, str],
    *,
    sender: bool,
    subcode: str,
    reason: str,
    relates_to: str | None,
    addressing: bool = True,
) -> tuple[etree._Element, etree._Element]:
    """(the envelope, its Fault element, for a Detail to be added). ``nsmap`` names the SOAP
    namespace's prefix (used in the Value texts) and the subcode's (``subcode`` is "prefix:name")."""
    soap_prefix = next(prefix for prefix, uri in nsmap.items() if uri == SOAP)
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={**nsmap, "wsa": WSA})
    if addressing:
        header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
        etree.SubElement(header, f"{{{WSA}}}Action").text = FAULT_ACTION
        if relates_to:
            etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
    body = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    node = etree.SubElement(body, f"{{{SOAP}}}Fault")
    code = etree.SubElement(node, f"{{{SOAP}}}Code")
    etree.SubElement(code, f"{{{SOAP}}}Value").text = f"{soap_prefix}:{'Sender' if sender else 'Receiver'}"
    sub = etree.SubElement(code, f"{{{SOAP}}}Subcode")
    etree.SubElement(sub, f"{{{SOAP}}}Value").text = subcode
    text = etree.SubElement(etree.SubElement(node, f"{{{SOAP}}}Reason"), f"{{{SOAP}}}Text")
    text.set(f"{{{XML_NS}}}lang", "fr")
    text.text = reason
    return envelope, node
