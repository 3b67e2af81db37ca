"""Test-side XDS.b kit: builds ITI-41/18/43/57 bodies from the IHE/DMP spec (independently of both
``app.dmp_client`` and the host), signs the XAdES submission-set signature by hand, speaks MTOM,
and posts over real mutual TLS. Only the VIHF and the SOAP envelope come from ``app.dmp_client``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import ssl
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from app.dmp_client.core.context import AccessContext
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.core.soap import build_envelope
from app.dmp_client.core.vihf import build_signed_vihf

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "resources" / "spec"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
XOP = "http://www.w3.org/2004/08/xop/include"
DS = "http://www.w3.org/2000/09/xmldsig#"
HL7 = "urn:hl7-org:v3"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
INS_OID = "1.2.250.1.213.1.4.10"
P01 = "207058575627097"
REPOSITORY = "1.2.250.1.213.4.1.1.1.2"
SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"
DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"
FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_INCL = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_INCL_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
XADES_111 = "http://uri.etsi.org/01903/v1.1.1#"
XADES_132 = "http://uri.etsi.org/01903/v1.3.2#"


def cx(matricule: str = P01, oid: str = INS_OID) -> str:
    return f"{matricule}^^^&{oid}&ISO^NH"


def new_oid() -> str:
    return f"1.2.250.1.999.7.{uuid.uuid4().int % 10**20}"


# -- transport -------------------------------------------------------------------------------------


@dataclass
class Identity:
    context: AccessContext
    signer: SoftwareKeySigner
    tls_cert: Path
    tls_key: Path


@dataclass
class Answer:
    status: int
    content_type: str
    raw: bytes
    envelope: etree._Element
    parts: dict[str, bytes] = field(default_factory=dict)

    @property
    def payload(self) -> etree._Element:
        body = self.envelope.find(f"{{{SOAP}}}Body")
        assert body is not None
        return body[0]

    def errors(self) -> list[str]:
        return [e.get("errorCode", "") for e in self.envelope.iter(f"{{{RS}}}RegistryError")]

    def fault(self) -> str | None:
        """The SOAP 1.2 fault's DMP subcode (``dmp:`` prefix removed), None for an answer."""
        value = self.envelope.find(
            f"{{{SOAP}}}Body/{{{SOAP}}}Fault/{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value"
        )
        return None if value is None else (value.text or "").strip().split(":")[-1]

    def contexts(self) -> list[str]:
        return [e.get("codeContext", "") for e in self.envelope.iter(f"{{{RS}}}RegistryError")]


def mtom_body(
    envelope: bytes, attachments: dict[str, tuple[str, bytes]], boundary: str = "MIMEBoundary_t"
) -> tuple[str, bytes]:
    root = "root.message@test"
    pieces = [
        f'--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        f"Content-Transfer-Encoding: binary\r\nContent-ID: <{root}>\r\n\r\n".encode(),
        envelope,
    ]
    for cid, (content_type, data) in attachments.items():
        pieces.append(
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: <{cid}>\r\n\r\n".encode()
        )
        pieces.append(data)
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    content_type = (
        f'multipart/related; type="application/xop+xml"; start="<{root}>"; '
        f'start-info="application/soap+xml"; boundary="{boundary}"'
    )
    return content_type, b"".join(pieces)


def parse_answer(status: int, content_type: str, raw: bytes) -> Answer:
    if content_type.startswith("multipart/related"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        parts = list(message.iter_parts())
        start = message.get_param("start")
        root = next(p for p in parts if p["Content-ID"] == start)
        assert root.get_content_type() == "application/xop+xml"
        assert root.get_param("type") == "application/soap+xml"
        others = {
            str(p["Content-ID"]).strip("<>"): p.get_payload(decode=True) for p in parts if p is not root
        }
        return Answer(status, content_type, raw, etree.fromstring(root.get_payload(decode=True)), others)
    return Answer(status, content_type, raw, etree.fromstring(raw))


class HostClient:
    def __init__(self, port: int, pki_dir: Path, identity: Identity) -> None:
        self.base = f"https://localhost:{port}/si-dmp-server/v2/services/"
        context = ssl.create_default_context(cafile=str(pki_dir / "pki" / "trust-bundle.pem"))
        context.load_cert_chain(identity.tls_cert, identity.tls_key)
        self.http = httpx.Client(verify=context, timeout=30)
        self.identity = identity

    def close(self) -> None:
        self.http.close()

    def envelope(self, action: str, payload: etree._Element) -> bytes:
        vihf = build_signed_vihf(self.identity.context, self.identity.signer)
        return build_envelope(action, payload, vihf).body

    def post(
        self,
        service: str,
        action: str,
        payload: etree._Element,
        attachments: dict[str, tuple[str, bytes]] | None = None,
    ) -> Answer:
        body = self.envelope(action, payload)
        if attachments is None:
            content_type = f'application/soap+xml; charset=UTF-8; action="{action}"'
        else:
            content_type, body = mtom_body(body, attachments)
        return self.raw(service, body, content_type)

    def raw(
        self, service: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Answer:
        response = self.http.post(
            self.base + service, content=body, headers={"Content-Type": content_type, **(headers or {})}
        )
        return parse_answer(response.status_code, response.headers.get("content-type", ""), response.content)


# -- ebRIM builders --------------------------------------------------------------------------------


def el(parent: etree._Element, tag: str, ns: str = RIM, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ns}}}{tag}", attrib=attributes)


def slot(parent: etree._Element, name: str, *values: str) -> None:
    node = el(parent, "Slot", name=name)
    value_list = el(node, "ValueList")
    for value in values:
        el(value_list, "Value").text = value


def name(parent: etree._Element, text: str) -> None:
    el(el(parent, "Name"), "LocalizedString", value=text)


def classification(
    parent: etree._Element,
    scheme: str,
    obj: str,
    code: str | None = None,
    coding: str = "",
    display: str = "",
) -> etree._Element:
    node = el(
        parent,
        "Classification",
        classificationScheme=scheme,
        classifiedObject=obj,
        id=f"cl-{uuid.uuid4().hex[:12]}",
        nodeRepresentation=code or "",
    )
    if code is not None:
        slot(node, "codingScheme", coding)
        name(node, display or code)
    return node


def external(parent: etree._Element, scheme: str, obj: str, value: str, label: str) -> None:
    node = el(
        parent,
        "ExternalIdentifier",
        identificationScheme=scheme,
        registryObject=obj,
        value=value,
        id=f"ei-{uuid.uuid4().hex[:12]}",
    )
    name(node, label)


AUTHOR_PERSON = "899900012341^MEDECIN-GENERALISTE^CLAIRE^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"


@dataclass
class DocSpec:
    """The metadata of one CDA document (and the matching CDA header)."""

    unique_id: str = field(default_factory=new_oid)
    title: str = "Compte rendu de test"
    type_code: tuple[str, str] = ("11488-4", "2.16.840.1.113883.6.1")
    class_code: str = "10"
    practice: str = "AMBULATOIRE"
    facility: str = "SA07"
    created: str = "20250301093000"  # UTC
    confidentiality: tuple[str, ...] = ()
    set_id: str = field(default_factory=new_oid)
    version: str = "1"
    matricule: str = P01
    replaces_cda_id: str | None = None


def make_cda(spec: DocSpec) -> bytes:
    """The ANS level-1 example CDA with this document's header fields."""
    tree = etree.parse(str(SPEC / "cda-examples" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
    doc = tree.getroot()
    h = {"h": HL7}
    doc.find("h:id", h).attrib.clear()  # type: ignore[union-attr]
    doc.find("h:id", h).set("root", spec.unique_id)  # type: ignore[union-attr]
    code = doc.find("h:code", h)
    code.set("code", spec.type_code[0])  # type: ignore[union-attr]
    code.set("codeSystem", spec.type_code[1])  # type: ignore[union-attr]
    doc.find("h:title", h).text = spec.title  # type: ignore[union-attr]
    local = dt.datetime.strptime(spec.created, "%Y%m%d%H%M%S") + dt.timedelta(hours=1)
    doc.find("h:effectiveTime", h).set("value", local.strftime("%Y%m%d%H%M%S") + "+0100")  # type: ignore[union-attr]
    doc.find("h:setId", h).set("root", spec.set_id)  # type: ignore[union-attr]
    doc.find("h:versionNumber", h).set("value", spec.version)  # type: ignore[union-attr]
    ins = doc.find("h:recordTarget/h:patientRole/h:id", h)
    ins.set("root", INS_OID)  # type: ignore[union-attr]
    ins.set("extension", spec.matricule)  # type: ignore[union-attr]
    doc.find(".//h:healthCareFacility/h:code", h).set("code", spec.facility)  # type: ignore[union-attr]
    doc.find(".//h:standardIndustryClassCode", h).set("code", spec.practice)  # type: ignore[union-attr]
    if spec.replaces_cda_id:
        related = etree.Element(f"{{{HL7}}}relatedDocument", typeCode="RPLC")
        etree.SubElement(
            etree.SubElement(related, f"{{{HL7}}}parentDocument"), f"{{{HL7}}}id", root=spec.replaces_cda_id
        )
        doc.find("h:componentOf", h).addprevious(related)  # type: ignore[union-attr]
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def document_entry(
    parent: etree._Element, ident: str, spec: DocSpec, *, signature: bool = False
) -> etree._Element:
    node = el(
        parent,
        "ExtrinsicObject",
        id=ident,
        mimeType="text/xml",
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1",
    )
    slot(node, "creationTime", spec.created)
    slot(node, "languageCode", "art" if signature else "fr-FR")
    slot(node, "serviceStartTime", spec.created)
    slot(node, "serviceStopTime", spec.created)
    slot(node, "sourcePatientId", cx(spec.matricule))
    slot(node, "sourcePatientInfo", "PID-5|MEDECIN^ROSE^^^^^L", "PID-7|19700525", "PID-8|F")
    name(node, "Signature du lot" if signature else spec.title)
    author = classification(node, "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d", ident)
    slot(author, "authorPerson", AUTHOR_PERSON)
    slot(author, "authorInstitution", "CABINET^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^499900012341001")
    slot(author, "authorSpecialty", "G15_10/SM54^Médecine générale^1.2.250.1.213.1.1.4.5")
    if signature:
        classification(
            node,
            "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
            ident,
            "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1",
            "URN",
            "Digital Signature",
        )
        for code, system in (
            ("N", "2.16.840.1.113883.5.25"),
            ("MASQUE_PS", "1.2.250.1.213.1.1.4.13"),
            ("INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13"),
        ):
            classification(node, "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", ident, code, system)
        classification(
            node,
            "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4",
            ident,
            "1.2.840.10065.1.12.1.14",
            "1.2.840.10065.1.12",
            "Source",
        )
        classification(
            node,
            "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
            ident,
            "http://www.w3.org/2000/09/xmldsig#",
            "URN",
        )
    else:
        classification(
            node,
            "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
            ident,
            spec.class_code,
            "1.2.250.1.213.1.1.4.1",
        )
        classification(
            node, "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", ident, "N", "2.16.840.1.113883.5.25"
        )
        for code in spec.confidentiality:
            classification(
                node, "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", ident, code, "1.2.250.1.213.1.1.4.13"
            )
        classification(
            node,
            "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
            ident,
            "urn:ihe:iti:xds-sd:pdf:2008",
            "1.3.6.1.4.1.19376.1.2.3",
        )
    classification(
        node, "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1", ident, spec.facility, "1.2.250.1.71.4.2.4"
    )
    classification(
        node, "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead", ident, spec.practice, "1.2.250.1.213.1.1.4.9"
    )
    if signature:
        classification(
            node, "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", ident, "E1762", "ASTM", "Full Document"
        )
    else:
        classification(
            node, "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", ident, spec.type_code[0], spec.type_code[1]
        )
    external(
        node,
        "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",
        ident,
        cx(spec.matricule),
        "XDSDocumentEntry.patientId",
    )
    external(
        node,
        "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
        ident,
        spec.unique_id,
        "XDSDocumentEntry.uniqueId",
    )
    return node


def submission_set(parent: etree._Element, ident: str, unique_id: str, matricule: str = P01) -> None:
    node = el(
        parent,
        "RegistryPackage",
        id=ident,
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage",
    )
    slot(node, "submissionTime", dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S"))
    name(node, "Lot de test")
    author = classification(node, "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d", ident)
    slot(author, "authorPerson", AUTHOR_PERSON)
    classification(
        node,
        "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
        ident,
        "04",
        "1.2.250.1.213.2.2",
        "Hospitalisation de jour",
    )
    external(
        node, "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8", ident, unique_id, "XDSSubmissionSet.uniqueId"
    )
    external(
        node,
        "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832",
        ident,
        "1.2.250.1.999.7.1",
        "XDSSubmissionSet.sourceId",
    )
    external(
        node,
        "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",
        ident,
        cx(matricule),
        "XDSSubmissionSet.patientId",
    )
    el(
        parent,
        "Classification",
        classifiedObject=ident,
        classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd",
        id=f"cl-{uuid.uuid4().hex[:12]}",
    )


def association(parent: etree._Element, kind: str, source: str, target: str, **slots: str) -> None:
    node = el(
        parent,
        "Association",
        associationType=kind,
        sourceObject=source,
        targetObject=target,
        id=f"as-{uuid.uuid4().hex[:12]}",
    )
    for key, value in slots.items():
        slot(node, key, value)


# -- XAdES (IHE DSG detached) ----------------------------------------------------------------------


@dataclass
class XadesOptions:
    c14n: str = C14N_EXC
    sha1: bool = False
    xades: str = XADES_111
    tamper_manifest: bool = False
    omit: str | None = None  # a uniqueId left out of the Manifest


def _c14n(node: etree._Element, algorithm: str) -> bytes:
    return etree.tostring(
        node, method="c14n", exclusive=algorithm == C14N_EXC, with_comments=algorithm == C14N_INCL_COMMENTS
    )


def xades_signature(
    documents: dict[str, bytes],
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    options: XadesOptions | None = None,
) -> bytes:
    o = options or XadesOptions()
    digest_uri = (
        "http://www.w3.org/2000/09/xmldsig#sha1" if o.sha1 else "http://www.w3.org/2001/04/xmlenc#sha256"
    )
    algorithm = "sha1" if o.sha1 else "sha256"
    signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS}, Id="SIG-1")
    signed_info = el(signature, "SignedInfo", DS)
    el(signed_info, "CanonicalizationMethod", DS, Algorithm=o.c14n)
    el(
        signed_info,
        "SignatureMethod",
        DS,
        Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"
        if o.sha1
        else "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    )
    el(signature, "SignatureValue", DS)
    x509_data = el(el(signature, "KeyInfo", DS), "X509Data", DS)
    el(x509_data, "X509Certificate", DS).text = base64.b64encode(
        cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    qualifying = etree.SubElement(
        el(signature, "Object", DS),
        f"{{{o.xades}}}QualifyingProperties",
        nsmap={"xades": o.xades},
        Target="#SIG-1",
    )
    props = etree.SubElement(qualifying, f"{{{o.xades}}}SignedProperties", Id="SignedProps")
    ssp = etree.SubElement(props, f"{{{o.xades}}}SignedSignatureProperties")
    etree.SubElement(ssp, f"{{{o.xades}}}SigningTime").text = dt.datetime.now(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    signing = etree.SubElement(
        etree.SubElement(ssp, f"{{{o.xades}}}SigningCertificate"), f"{{{o.xades}}}Cert"
    )
    cert_digest = etree.SubElement(signing, f"{{{o.xades}}}CertDigest")
    el(cert_digest, "DigestMethod", DS, Algorithm=digest_uri)
    el(cert_digest, "DigestValue", DS).text = base64.b64encode(
        hashlib.new(algorithm, cert.public_bytes(serialization.Encoding.DER)).digest()
    ).decode()
    policy = etree.SubElement(
        etree.SubElement(ssp, f"{{{o.xades}}}SignaturePolicyIdentifier"),
        f"{{{o.xades}}}SignaturePolicyImplied",
    )
    del policy
    properties = el(el(signature, "Object", DS), "SignatureProperties", DS)
    el(
        properties, "SignatureProperty", DS, Id="purposeOfSignature", Target="#SIG-1"
    ).text = "1.2.840.10065.1.12.1.14"
    manifest = el(el(signature, "Object", DS), "Manifest", DS, Id="IHEManifest")
    for unique_id, data in documents.items():
        if unique_id == o.omit:
            continue
        reference = el(manifest, "Reference", DS, URI=f"urn:oid:{unique_id}")
        el(reference, "DigestMethod", DS, Algorithm=digest_uri)
        digest = hashlib.new(algorithm, data + (b"x" if o.tamper_manifest else b"")).digest()
        el(reference, "DigestValue", DS).text = base64.b64encode(digest).decode()
    for uri, kind, target in (
        ("#IHEManifest", "http://www.w3.org/2000/09/xmldsig#Manifest", manifest),
        ("#SignedProps", "http://uri.etsi.org/01903#SignedProperties", props),
    ):
        reference = el(signed_info, "Reference", DS, URI=uri, Type=kind)
        el(el(reference, "Transforms", DS), "Transform", DS, Algorithm=o.c14n)
        el(reference, "DigestMethod", DS, Algorithm=digest_uri)
        el(reference, "DigestValue", DS).text = base64.b64encode(
            hashlib.new(algorithm, _c14n(target, o.c14n)).digest()
        ).decode()
    # SignedInfo is in place: move it before SignatureValue (it already is), then sign its C14N form.
    value = key.sign(
        _c14n(signed_info, o.c14n), padding.PKCS1v15(), hashes.SHA1() if o.sha1 else hashes.SHA256()
    )
    signature.find(f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()  # type: ignore[union-attr]
    return etree.tostring(signature, xml_declaration=True, encoding="UTF-8")


# -- requests --------------------------------------------------------------------------------------


@dataclass
class Feed:
    payload: etree._Element
    attachments: dict[str, tuple[str, bytes]]
    specs: list[DocSpec]
    cdas: list[bytes]


def provide_and_register(
    specs: list[DocSpec],
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    *,
    xades: XadesOptions | None = None,
    replaces: str | None = None,
    cdas: list[bytes] | None = None,
    with_signature: bool = True,
) -> Feed:
    cdas = cdas or [make_cda(s) for s in specs]
    request = etree.Element(
        f"{{{XDSB}}}ProvideAndRegisterDocumentSetRequest",
        nsmap={"xdsb": XDSB, "lcm": LCM, "rim": RIM, "xop": XOP},
    )
    submit = el(request, "SubmitObjectsRequest", LCM)
    objects = el(submit, "RegistryObjectList")
    submission_set(objects, "SubmissionSet01", new_oid(), specs[0].matricule)
    attachments: dict[str, tuple[str, bytes]] = {}
    ids = []
    for index, spec in enumerate(specs):
        ident = f"Document{index + 1:02d}"
        ids.append(ident)
        document_entry(objects, ident, spec)
        association(
            objects,
            "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
            "SubmissionSet01",
            ident,
            SubmissionSetStatus="Original",
        )
    if replaces:
        association(objects, "urn:ihe:iti:2007:AssociationType:RPLC", ids[0], replaces)
    if with_signature:
        sig_spec = DocSpec(
            unique_id=new_oid(),
            matricule=specs[0].matricule,
            facility=specs[0].facility,
            practice=specs[0].practice,
        )
        document_entry(objects, "DocumentSig", sig_spec, signature=True)
        association(
            objects,
            "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
            "SubmissionSet01",
            "DocumentSig",
            SubmissionSetStatus="Original",
        )
        association(objects, "urn:ihe:iti:2007:AssociationType:signs", "DocumentSig", "SubmissionSet01")
    for ident, data in zip(ids, cdas, strict=True):
        cid = f"{ident}@test"
        attachments[cid] = ("text/xml", data)
        el(el(request, "Document", XDSB, id=ident), "Include", XOP, href=f"cid:{cid}")
    if with_signature:
        signed = xades_signature({s.unique_id: c for s, c in zip(specs, cdas, strict=True)}, key, cert, xades)
        attachments["sig@test"] = ("text/xml", signed)
        el(el(request, "Document", XDSB, id="DocumentSig"), "Include", XOP, href="cid:sig@test")
    return Feed(request, attachments, specs, cdas)


def stored_query(query_id: str, return_type: str = "LeafClass", **params: str | list[str]) -> etree._Element:
    request = etree.Element(f"{{{QUERY}}}AdhocQueryRequest", nsmap={"query": QUERY, "rim": RIM})
    el(request, "ResponseOption", QUERY, returnComposedObjects="true", returnType=return_type)
    query = el(request, "AdhocQuery", id=query_id)
    for key, value in params.items():
        slot(query, f"${key}", *(value if isinstance(value, list) else [value]))
    return request


def find_documents(
    return_type: str = "LeafClass",
    statuses: tuple[str, ...] = (APPROVED,),
    matricule: str = P01,
    **params: str | list[str],
) -> etree._Element:
    return stored_query(
        FIND_DOCUMENTS,
        return_type,
        XDSDocumentEntryPatientId=f"'{cx(matricule)}'",
        XDSDocumentEntryStatus="(" + ",".join(f"'{s}'" for s in statuses) + ")",
        **params,
    )


def retrieve(*unique_ids: str, repository: str = REPOSITORY) -> etree._Element:
    request = etree.Element(f"{{{XDSB}}}RetrieveDocumentSetRequest", nsmap={"xdsb": XDSB})
    for unique_id in unique_ids:
        document = el(request, "DocumentRequest", XDSB)
        el(document, "RepositoryUniqueId", XDSB).text = repository
        el(document, "DocumentUniqueId", XDSB).text = unique_id
    return request


def update_status(entry_uuid: str, original: str, new: str, matricule: str = P01) -> etree._Element:
    request = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap={"lcm": LCM, "rim": RIM})
    objects = el(request, "RegistryObjectList")
    submission_set(objects, "SubmissionSet01", new_oid(), matricule)
    association(
        objects,
        "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus",
        "SubmissionSet01",
        entry_uuid,
        OriginalStatus=original,
        NewStatus=new,
    )
    return request


def update_metadata(
    extrinsic: etree._Element,
    previous_version: str,
    confidentiality: list[tuple[str, str]],
    matricule: str = P01,
) -> etree._Element:
    """A new metadata version of ``extrinsic`` (from a LeafClass answer) with other confidentiality codes."""
    request = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap={"lcm": LCM, "rim": RIM})
    objects = el(request, "RegistryObjectList")
    submission_set(objects, "SubmissionSet01", new_oid(), matricule)
    node = copy.deepcopy(extrinsic)
    old_id = node.get("id", "")
    new_id = f"urn:uuid:{uuid.uuid4()}"
    node.set("id", new_id)
    for attribute in ("status",):
        node.attrib.pop(attribute, None)
    version = node.find(f"{{{RIM}}}VersionInfo")
    if version is not None:
        node.remove(version)
    for child in list(node):
        if child.get("classificationScheme") == "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f":
            node.remove(child)
    anchor = node.find(f"{{{RIM}}}ExternalIdentifier")
    for code, system in confidentiality:
        cl = classification(objects, "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", new_id, code, system)
        assert anchor is not None
        anchor.addprevious(cl)
    for child in node.iter(f"{{{RIM}}}Classification", f"{{{RIM}}}ExternalIdentifier"):
        for attribute in ("classifiedObject", "registryObject"):
            if child.get(attribute) == old_id:
                child.set(attribute, new_id)
        child.set("id", f"x-{uuid.uuid4().hex[:12]}")
    objects.append(node)
    association(
        objects,
        "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
        "SubmissionSet01",
        new_id,
        SubmissionSetStatus="Original",
        PreviousVersion=previous_version,
    )
    return request


# -- schema ----------------------------------------------------------------------------------------

_DRIVER = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:ihe:iti:xds-b:2007">
  <xs:include schemaLocation="xcf.xsd"/><xs:include schemaLocation="IHEXDSB.xsd"/></xs:schema>"""
_SCHEMA: list[etree.XMLSchema] = []


def xds_schema() -> etree.XMLSchema:
    if not _SCHEMA:
        driver = etree.fromstring(_DRIVER, base_url=str(SPEC / "xds-xsd" / "IHE" / "test-driver.xsd"))
        _SCHEMA.append(etree.XMLSchema(driver))
    return _SCHEMA[0]


def assert_valid(payload: etree._Element) -> None:
    """Validate an XDS payload; xop:Include children are dropped first, as XOP decoding would."""
    checked = copy.deepcopy(payload)
    for include in list(checked.iter(f"{{{XOP}}}Include")):
        include.getparent().remove(include)  # type: ignore[union-attr]
    schema = xds_schema()
    assert schema.validate(checked), schema.error_log
