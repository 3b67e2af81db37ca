"""The lying registry: fault modes seen in real XDS.b servers, applied to the host's answer just before
it is sent (``dmp-sandbox serve --mensonge MODE``, or ``Faults.lie`` for the in-process host). Written
from the documents (ITI TF-3 4.2.3.2.1 patientId ExternalIdentifier, ITI TF-2b 3.43 DocumentResponse,
ebRS 3.0 RegistryResponse / RegistryError, SOAP 1.1 §4.4 vs SOAP 1.2 §5.4 faults); no client code.

- ``autre-patient``: every DocumentEntry of a LeafClass query answer carries another patient's INS;
- ``patient-double``: every DocumentEntry keeps the queried patient's patientId and gets a second one,
  another patient's, after it (the identifier's cardinality is 1: the entry is ambiguous);
- ``autres-octets``: the repository returns other bytes than those registered (size and SHA-1 differ);
- ``document-vide``: the repository returns an empty document;
- ``succes-avec-erreur``: a Success RegistryResponse carrying an Error-severity RegistryError;
- ``succes-avec-avertissement``: a Success RegistryResponse carrying a Warning-severity RegistryError
  (not a lie: a success the client must pass on, ebRS 3.0 RegistryError severity);
- ``faute-soap11``: a SOAP 1.2 Fault with SOAP 1.1 children (faultcode / faultstring), HTTP 200.
"""

from __future__ import annotations

from lxml import etree

from sandbox.host import mtom

MODES = (
    "autre-patient",
    "patient-double",
    "autres-octets",
    "document-vide",
    "succes-avec-erreur",
    "succes-avec-avertissement",
    "faute-soap11",
)
SOAP = "http://www.w3.org/2003/05/soap-envelope"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
# ITI TF-3 Table 4.2.3.2.1-? XDSDocumentEntry.patientId identification scheme.
PATIENT_ID_SCHEME = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"
WARNING_CODE = "XDSRegistryWarning"  # [UNSURE] no DMP warning code is documented: a neutral one
# Another test patient (test INS OID 1.2.250.1.213.1.4.10), not one of the sandbox's.
OTHER_PATIENT = "299999999999999^^^&1.2.250.1.213.1.4.10&ISO^NH"
FAULT_TEXT = "Erreur interne du registre (mensonge faute-soap11)"
ERROR_CODE = "XDSRegistryError"


def lie(mode: str | None, status: int, envelope: bytes, exchange: mtom.Exchange) -> tuple[int, bytes]:
    """The answer as the lying registry sends it (unchanged when ``mode`` is None)."""
    if mode is None:
        return status, envelope
    if mode not in MODES:
        raise ValueError(f"unknown lie {mode!r}: one of {', '.join(MODES)}")
    if mode == "faute-soap11":
        return 200, _soap11_fault()
    if mode in ("autres-octets", "document-vide"):
        for index, part in enumerate(exchange.outgoing):
            data = b"" if mode == "document-vide" else b"<ClinicalDocument>autre</ClinicalDocument>"
            exchange.outgoing[index] = mtom.Outgoing(part.content_id, part.content_type, data=data)
        return status, envelope
    root = etree.fromstring(envelope)
    if mode == "autre-patient":
        for node in root.iter(f"{{{RIM}}}ExternalIdentifier"):
            if node.get("identificationScheme") == PATIENT_ID_SCHEME:
                node.set("value", OTHER_PATIENT)
    elif mode == "patient-double":
        for node in list(root.iter(f"{{{RIM}}}ExternalIdentifier")):
            if node.get("identificationScheme") == PATIENT_ID_SCHEME:
                second = etree.fromstring(etree.tostring(node))
                second.set("id", node.get("id", "") + "-2")
                second.set("value", OTHER_PATIENT)
                node.addnext(second)
    elif mode in ("succes-avec-erreur", "succes-avec-avertissement"):
        warning = mode == "succes-avec-avertissement"
        for response in root.iter(f"{{{RS}}}RegistryResponse", "{*}AdhocQueryResponse"):
            if response.get("status") == SUCCESS and response.find(f"{{{RS}}}RegistryErrorList") is None:
                errors = etree.Element(f"{{{RS}}}RegistryErrorList")
                etree.SubElement(
                    errors,
                    f"{{{RS}}}RegistryError",
                    errorCode=WARNING_CODE if warning else ERROR_CODE,
                    codeContext=(
                        "Avertissement du registre (succes-avec-avertissement)"
                        if warning
                        else "Erreur du registre (mensonge succes-avec-erreur)"
                    ),
                    severity=WARNING if warning else ERROR,
                )
                response.insert(0, errors)
    return status, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _soap11_fault() -> bytes:
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
    body = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soap:Server"
    etree.SubElement(fault, "faultstring").text = FAULT_TEXT
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
