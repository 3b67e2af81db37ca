"""The XAdES submission-set signature the DMP requires in every ITI-41 (dmp-interface.md §5.2, IHE DSG).

A detached ``ds:Signature`` whose SignedInfo references an ``Object/Manifest`` (one Reference
``urn:oid:<uniqueId>`` per submitted document, with the digest of its bytes) and the XAdES
``SignedProperties`` (SigningTime, SigningCertificate with CertDigest + IssuerSerial,
SignaturePolicyImplied). signxml computes the SignedInfo digests and the signature through the
:class:`~app.dmp_client.core.signing.Signer` (card key or structure key); the result is serialised
once and sent as is. Choices marked [UNSURE] in the interface document are parameters: the XAdES
namespace (the official example's v1.1.1 by default, v1.3.2 possible) and the digest (SHA-256).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import methods
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from app.dmp_client.core.ns import DS, EXC_C14N, q
from app.dmp_client.core.signing import Signer, SignxmlKey
from app.dmp_client.core.xml import serialize

XADES_111 = "http://uri.etsi.org/01903/v1.1.1#"
XADES_132 = "http://uri.etsi.org/01903/v1.3.2#"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
MANIFEST_TYPE = "http://www.w3.org/2000/09/xmldsig#Manifest"
PURPOSE_SOURCE = "1.2.840.10065.1.12.1.14"  # ASTM E1762 "Source"
MANIFEST_ID = "IHEManifest"
SIGNATURE_ID = "SignatureLotDMP"
_DIGESTS = {
    "sha256": ("http://www.w3.org/2001/04/xmlenc#sha256", hashlib.sha256),
    "sha1": ("http://www.w3.org/2000/09/xmldsig#sha1", hashlib.sha1),
}


@dataclass(frozen=True)
class SignedDocument:
    """A submitted document as the Manifest sees it: its uniqueId and the digest of its bytes."""

    unique_id: str
    digest: bytes  # raw digest with the configured algorithm


@dataclass(frozen=True)
class XadesOptions:
    namespace: str = XADES_111
    digest: str = "sha256"


class _DsgSigner(XMLSigner):
    """signxml signer whose annotator adds the Manifest's Object and the XAdES properties."""

    def __init__(self, signer: Signer, options: XadesOptions, now: dt.datetime):
        super().__init__(
            method=methods.detached,
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=EXC_C14N,
        )
        self._signer = signer
        self._options = options
        self._now = now
        self.signature_annotators.append(self._add_xades)

    def _add_xades(self, sig_root: etree._Element, signing_settings: Any) -> None:
        signature_id = SIGNATURE_ID
        sig_root.set("Id", signature_id)
        signed_info = sig_root.find(q(DS, "SignedInfo"))
        assert signed_info is not None
        for reference in signed_info.iterfind(q(DS, "Reference")):
            if reference.get("URI") == f"#{MANIFEST_ID}":
                reference.set("Type", MANIFEST_TYPE)
        xades = self._options.namespace
        obj = etree.SubElement(sig_root, q(DS, "Object"))
        qualifying = etree.SubElement(
            obj, q(xades, "QualifyingProperties"), nsmap={"xad": xades}, Target=f"#{signature_id}"
        )
        signed = etree.SubElement(
            qualifying, q(xades, "SignedProperties"), Id=f"{signature_id}-SignedProperties"
        )
        props = etree.SubElement(signed, q(xades, "SignedSignatureProperties"))
        etree.SubElement(props, q(xades, "SigningTime")).text = self._now.astimezone(dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        certificate = self._signer.certificate
        cert_node = etree.SubElement(
            etree.SubElement(props, q(xades, "SigningCertificate")), q(xades, "Cert")
        )
        cert_digest = etree.SubElement(cert_node, q(xades, "CertDigest"))
        algorithm, hasher = _DIGESTS[self._options.digest]
        etree.SubElement(cert_digest, q(DS, "DigestMethod"), Algorithm=algorithm)
        etree.SubElement(cert_digest, q(DS, "DigestValue")).text = base64.b64encode(
            hasher(certificate.public_bytes(Encoding.DER)).digest()
        ).decode()
        issuer = etree.SubElement(cert_node, q(xades, "IssuerSerial"))
        etree.SubElement(issuer, q(DS, "X509IssuerName")).text = certificate.issuer.rfc4514_string()
        etree.SubElement(issuer, q(DS, "X509SerialNumber")).text = str(certificate.serial_number)
        policy = etree.SubElement(props, q(xades, "SignaturePolicyIdentifier"))
        etree.SubElement(policy, q(xades, "SignaturePolicyImplied"))
        # The purpose ("Source", ASTM E1762) as IHE DSG carries it: a signed CommitmentTypeIndication.
        # The official example's text-only ds:SignatureProperty is invalid against xmldsig-core's XSD.
        data_props = etree.SubElement(signed, q(xades, "SignedDataObjectProperties"))
        commitment = etree.SubElement(data_props, q(xades, "CommitmentTypeIndication"))
        type_id = etree.SubElement(commitment, q(xades, "CommitmentTypeId"))
        etree.SubElement(type_id, q(xades, "Identifier")).text = f"urn:oid:{PURPOSE_SOURCE}"
        etree.SubElement(type_id, q(xades, "Description")).text = "Source"
        etree.SubElement(commitment, q(xades, "AllSignedDataObjects"))
        reference = etree.SubElement(
            signed_info, q(DS, "Reference"), URI=f"#{signed.get('Id')}", Type=SIGNED_PROPERTIES_TYPE
        )
        transforms = etree.SubElement(reference, q(DS, "Transforms"))
        etree.SubElement(transforms, q(DS, "Transform"), Algorithm=EXC_C14N)
        etree.SubElement(reference, q(DS, "DigestMethod"), Algorithm=_DIGESTS["sha256"][0])
        canonical = etree.tostring(signed, method="c14n", exclusive=True, with_comments=False)
        etree.SubElement(reference, q(DS, "DigestValue")).text = base64.b64encode(
            hashlib.sha256(canonical).digest()
        ).decode()


def _manifest_object(documents: list[SignedDocument], options: XadesOptions) -> etree._Element:
    holder = etree.Element("holder")
    obj = etree.SubElement(holder, q(DS, "Object"), nsmap={"ds": DS})
    manifest = etree.SubElement(obj, q(DS, "Manifest"), Id=MANIFEST_ID)
    algorithm = _DIGESTS[options.digest][0]
    for document in documents:
        reference = etree.SubElement(manifest, q(DS, "Reference"), URI=f"urn:oid:{document.unique_id}")
        etree.SubElement(reference, q(DS, "DigestMethod"), Algorithm=algorithm)
        etree.SubElement(reference, q(DS, "DigestValue")).text = base64.b64encode(document.digest).decode()
    return holder


def sign_submission(
    documents: list[SignedDocument],
    signer: Signer,
    *,
    options: XadesOptions = XadesOptions(),
    now: dt.datetime | None = None,
) -> bytes:
    """The signature document's bytes (a detached ``ds:Signature``), serialised once after signing."""
    holder = _manifest_object(documents, options)
    xml_signer = _DsgSigner(signer, options, now or dt.datetime.now(dt.UTC))
    signature = xml_signer.sign(
        holder,
        key=SignxmlKey(signer),  # type: ignore[arg-type]
        cert=[signer.certificate],
        reference_uri=[f"#{MANIFEST_ID}"],
        always_add_key_value=False,
    )
    manifest_object = holder.find(q(DS, "Object"))
    assert manifest_object is not None
    # The Object moves into the signature; exclusive c14n makes its digest independent of the parent.
    signature.insert(signature.index(signature.find(q(DS, "KeyInfo"))) + 1, manifest_object)  # type: ignore[arg-type]
    return serialize(signature)
