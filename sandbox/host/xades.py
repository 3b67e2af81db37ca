"""The XAdES submission-set signature required on every DMP feed (dmp-interface.md §5.2, IHE DSG style).

Accepted: a detached ``ds:Signature`` (document root) whose SignedInfo references an
``Object/Manifest`` and the XAdES ``SignedProperties`` (namespace v1.1.1 or v1.3.2); C14N 1.0
inclusive (with or without comments) or exclusive; RSA-SHA256 or RSA-SHA1. The signing certificate
must be the VIHF signer's (same subject, trusted test CA, a signature certificate). Every submitted
document needs one Manifest ``Reference URI="urn:oid:<uniqueId>"`` whose digest is that of its bytes.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from sandbox.host.vihf import Trust
from sandbox.host.xds import XdsError

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NAMESPACES = ("http://uri.etsi.org/01903/v1.1.1#", "http://uri.etsi.org/01903/v1.3.2#")
DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
CONFIG = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=True,
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA1}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA1}),
)
ERROR = "XDSRepositoryMetadataError"


def _fail(reason: str) -> XdsError:
    return XdsError(ERROR, f"Signature XAdES du lot invalide : {reason}.")


def verify_submission_signature(
    data: bytes,
    vihf_signer: x509.Certificate | None,
    trust: Trust | None,
    documents: dict[str, Callable[[str], bytes]],
    submission_set_unique_id: str,
) -> None:
    """``documents``: uniqueId → function(hash name) → digest of the document's bytes."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise _fail("DTD ou entités refusées")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise _fail("XML mal formé") from None
    if root.tag != f"{{{DS}}}Signature":
        raise _fail("la racine doit être ds:Signature")
    node = root.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if node is None or not (node.text or "").strip():
        raise _fail("certificat de signature absent de KeyInfo")
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join((node.text or "").split())))
    except ValueError:
        raise _fail("certificat de signature illisible") from None
    if vihf_signer is None or cert.subject != vihf_signer.subject:
        raise _fail("le signataire n'est pas celui du VIHF")
    if trust is not None and trust.issued_by(cert) is None:
        raise _fail("certificat non émis par l'IGC-Santé de test")
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment:
            raise _fail("ce n'est pas un certificat de signature")
    except x509.ExtensionNotFound:
        raise _fail("ce n'est pas un certificat de signature") from None
    try:
        # No XMLDSig schema check: IHE DSG puts text in SignatureProperty, which xmldsig-core forbids.
        results = XMLVerifier().verify(root, x509_cert=cert, expect_config=CONFIG, validate_schema=False)
    except (InvalidSignature, InvalidDigest, InvalidInput, InvalidCertificate) as error:
        raise _fail(f"vérification cryptographique en échec ({type(error).__name__})") from None
    except (ValueError, etree.LxmlError):
        raise _fail("structure de signature non prise en charge") from None
    signed = [r.signed_xml for r in (results if isinstance(results, list) else [results])]
    manifests = [s for s in signed if s is not None and s.tag == f"{{{DS}}}Manifest"]
    properties = [
        s
        for s in signed
        if s is not None and s.tag in {f"{{{ns}}}SignedProperties" for ns in XADES_NAMESPACES}
    ]
    if len(manifests) != 1:
        raise _fail("SignedInfo doit référencer un (et un seul) ds:Manifest")
    if not properties:
        raise _fail("SignedInfo doit référencer les SignedProperties XAdES")
    _check_manifest(manifests[0], documents, submission_set_unique_id)


def _check_manifest(
    manifest: etree._Element, documents: dict[str, Callable[[str], bytes]], submission_set_unique_id: str
) -> None:
    seen: set[str] = set()
    for reference in manifest.iterfind(f"{{{DS}}}Reference"):
        uri = reference.get("URI", "")
        if not uri.startswith("urn:oid:"):
            raise _fail(f"référence de Manifest inattendue ({uri[:80]})")
        unique_id = uri.removeprefix("urn:oid:")
        if unique_id == submission_set_unique_id:
            continue  # [UNSURE] the official example may also reference the submission set
        if unique_id not in documents or unique_id in seen:
            raise _fail(f"référence de Manifest inconnue ou en double ({unique_id})")
        method = reference.find(f"{{{DS}}}DigestMethod")
        algorithm = DIGESTS.get(method.get("Algorithm", "") if method is not None else "")
        if algorithm not in ("sha1", "sha256"):
            raise _fail("DigestMethod du Manifest non pris en charge (sha1 ou sha256)")
        try:
            expected = base64.b64decode("".join((reference.findtext(f"{{{DS}}}DigestValue") or "").split()))
        except ValueError:
            raise _fail("DigestValue illisible") from None
        if not hmac.compare_digest(expected, documents[unique_id](algorithm)):
            raise _fail(f"l'empreinte du document {unique_id} ne correspond pas")
        seen.add(unique_id)
    missing = set(documents) - seen
    if missing:
        raise _fail(f"document(s) absent(s) du Manifest : {', '.join(sorted(missing))}")
