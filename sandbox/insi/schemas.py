"""The published INSi schemas (resources/spec/insi/xsd, from padoa/tlsi-ins) as one validator.

Requests and answers of the sandbox INSi host are checked against the same files: the request
body (``RECSANSVITALE`` / ``RECVITALE``), the ``ContexteLPS`` and ``ContexteBAM`` headers, the answer
``RESULTAT`` and the fault detail ``siram:Erreur``.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from lxml import etree

RECSANS = "http://www.cnamts.fr/INSiRecSans"
RECVIT = "http://www.cnamts.fr/INSiRecVit"
RESULTAT = "http://www.cnamts.fr/INSiResultat"
CTXLPS = "urn:siram:lps:ctxlps"
CTXBAM = "urn:siram:bam:ctxbam"
SIRAM = "urn:siram"

# namespace -> file, as imported by the WSDL DESIR_ICIR_EXP_1.5.0 (wsdl:types)
FILES = {
    RECSANS: "xsd/ServiceIdentiteCertifiee/INSi_RECSANS_INS.xsd",
    RECVIT: "xsd/ServiceIdentiteCertifiee/INSi_RECVITALE_INS.xsd",
    RESULTAT: "xsd/ServiceIdentiteCertifiee/INSi_RESULTAT_INS.xsd",
    CTXLPS: "xsd/CTX/ROOT_ctxlps_CTXLPS_V01_00.xsd",
    CTXBAM: "xsd/CTX/ROOT_ctxbam_CTXBAM_V01_02.xsd",
    SIRAM: "xsd/schema_faultSOAP_V01_01.xsd",
}

_LOCK = threading.Lock()  # an lxml XMLSchema object is not safe to share between threads


def spec_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "resources" / "spec" / "insi"


@cache
def _schema() -> etree.XMLSchema:
    xs = "http://www.w3.org/2001/XMLSchema"
    root = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for namespace, relative in FILES.items():
        etree.SubElement(
            root,
            f"{{{xs}}}import",
            namespace=namespace,
            schemaLocation=(spec_dir() / relative).as_uri(),
        )
    return etree.XMLSchema(root)


def errors(element: etree._Element) -> list[str]:
    """The schema errors of one element (a global element of one of the INSi namespaces)."""
    # Validate a detached copy: the element's own tree is the whole SOAP envelope.
    copy = etree.fromstring(etree.tostring(element))
    with _LOCK:
        schema = _schema()
        valid = schema.validate(copy)
        log = [f"ligne {e.line} : {e.message}" for e in schema.error_log] if not valid else []
    return log
