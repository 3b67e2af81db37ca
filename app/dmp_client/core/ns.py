"""XML namespaces and fixed URIs of the DMP interface (dmp-interface.md §2, §4, §5)."""

from __future__ import annotations

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
HL7V3 = "urn:hl7-org:v3"
HABILITATIONS = "urn:si-dmp-habilitations"
PATIENTS_SPECIFIC = "urn:si-dmp-patients"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

NSMAP_ENVELOPE = {"soap": SOAP12, "wsa": WSA}
NSMAP_ASSERTION = {"saml2": SAML2, "xsi": XSI, "xs": XS}


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` for lxml."""
    return f"{{{namespace}}}{local}"
