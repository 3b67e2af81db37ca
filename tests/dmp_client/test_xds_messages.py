"""ITI-41 / 18 / 43 / 57 messages: built against the XSDs, consistent with the CDA header, signed
(XAdES, checked with signxml), framed in MTOM and read back, including the shipped IPF samples."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml.exceptions import InvalidDigest
from signxml.verifier import SignatureConfiguration, XMLVerifier

from app.dmp_client.core import ebrim, iti18, iti41, iti43, iti57
from app.dmp_client.core.cda import new_oid, read_identity, write_cda
from app.dmp_client.core.ebrim import RIM, XDSB, XOP, AssociationType, Scheme, Status
from app.dmp_client.core.errors import LocalProtocolError, MalformedResponse
from app.dmp_client.core.iti18 import FindDocuments, ReturnType, StoredQuery, parse_document
from app.dmp_client.core.metadata import SubmissionSet, Visibility, entry_for_document
from app.dmp_client.core.mtom import Part, build_mtom, read_mtom
from app.dmp_client.core.registry import RegistryFailure, parse_registry_response
from app.dmp_client.core.soap import build_envelope
from app.dmp_client.core.valuesets import Concept
from app.dmp_client.core.xades import XADES_132, SignedDocument, XadesOptions, sign_submission
from tests.conformance.test_cda import header
from tests.dmp_client.helpers import ROOT, envelope_schema, structure_signer

H = "urn:hl7-org:v3"
CONTENT_TYPE = Concept("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")


def resolve_xop(envelope: bytes, parts: dict[str, bytes]) -> etree._Element:
    """The infoset the XSD applies to: every xop:Include replaced by the base64 of its part."""
    root = etree.fromstring(envelope)
    for include in root.iter(f"{{{XOP}}}Include"):
        parent = include.getparent()
        assert parent is not None
        parent.remove(include)
        parent.text = base64.b64encode(parts[include.get("href", "")[4:]]).decode()
    return root


def submission_for(document_header, signer):  # type: ignore[no-untyped-def]
    cda = io.BytesIO()
    written = write_cda(document_header, io.BytesIO(b"%PDF-1.4 sandbox"), cda)
    entry = entry_for_document(
        document_header, written, visibility=frozenset({Visibility.INVISIBLE_TO_PATIENT})
    )
    signature = sign_submission([SignedDocument(entry.unique_id, written.sha256)], signer)
    now = dt.datetime.now(dt.UTC)
    sig_entry = iti41.signature_entry(
        document_header.patient,
        document_header.author,
        document_header.facility_type,
        document_header.practice_setting,
        now,
        len(signature),
        hashlib.sha1(signature).hexdigest(),
    )
    submission = SubmissionSet(
        ebrim.new_id(),
        new_oid(),
        "1.2.250.1.999.42.1",
        document_header.patient,
        document_header.author,
        now,
        CONTENT_TYPE,
    )
    built = iti41.build_provide_and_register(submission, [entry], sig_entry)
    return cda.getvalue(), entry, signature, sig_entry, built


def test_iti41_is_valid_and_its_metadata_match_the_cda_header(pki_dir: Path) -> None:
    h = header()
    cda, entry, signature, sig_entry, built = submission_for(h, structure_signer(pki_dir))
    request = build_envelope(iti41.ACTION, built.payload, None)
    parts = {built.content_ids[entry.entry_id]: cda, built.content_ids[sig_entry.entry_id]: signature}
    envelope_schema().assertValid(resolve_xop(request.body, parts))

    doc = etree.fromstring(cda)
    objects = built.payload.find(f".//{{{RIM}}}RegistryObjectList")
    assert objects is not None
    info = parse_document(objects.find(f"{{{RIM}}}ExtrinsicObject"))  # type: ignore[arg-type]
    assert info.unique_id == doc.find(f"{{{H}}}id").get("root")  # type: ignore[union-attr]
    assert info.type_code and info.type_code.code == doc.find(f"{{{H}}}code").get("code")  # type: ignore[union-attr]
    assert info.title == doc.findtext(f"{{{H}}}title")
    assert info.facility_type and info.facility_type.code == "SA07"
    assert info.practice_setting and info.practice_setting.code == "AMBULATOIRE"
    assert info.class_code and info.class_code.code == "10"  # ASS_X16: 11488-4 → 10
    assert info.format_code and info.format_code.code == "urn:ihe:iti:xds-sd:pdf:2008"
    assert info.confidentiality_codes == {"N", "INVISIBLE_PATIENT"}
    assert info.creation_time == h.created.astimezone(dt.UTC)  # XDS times are UTC
    assert info.sha1 == hashlib.sha1(cda).hexdigest() and info.size == len(cda)
    assert info.patient_cx == "150081505104018^^^&1.2.250.1.213.1.4.10&ISO^NH"
    assert info.author_ids == ("899900012341",)
    kinds = sorted(a.get("associationType", "") for a in objects.iter(f"{{{RIM}}}Association"))
    assert kinds == sorted([AssociationType.HAS_MEMBER] * 2 + [AssociationType.SIGNS])
    documents = built.payload.findall(f"{{{XDSB}}}Document")
    assert {d.get("id") for d in documents} == {entry.entry_id, sig_entry.entry_id}


def test_replacement_carries_rplc_and_the_cda_keeps_its_set_id(pki_dir: Path) -> None:
    first = header()
    second = header(set_id=first.set_id, version=2, replaces=first.document_id)
    cda, *_ = submission_for(second, structure_signer(pki_dir))
    identity = read_identity(io.BytesIO(cda))
    assert (identity.set_id, identity.version) == (first.set_id, 2)
    replaced = ebrim.new_id()
    built = iti41.build_provide_and_register(
        SubmissionSet(
            ebrim.new_id(),
            new_oid(),
            "1.2.3",
            second.patient,
            second.author,
            dt.datetime.now(dt.UTC),
            CONTENT_TYPE,
        ),
        [
            entry_for_document(
                second, write_cda(second, io.BytesIO(b"x"), io.BytesIO()), replaces_entry=replaced
            )
        ],
        iti41.signature_entry(
            second.patient,
            second.author,
            second.facility_type,
            second.practice_setting,
            dt.datetime.now(dt.UTC),
            1,
            "0" * 40,
        ),
    )
    rplc = [
        a
        for a in built.payload.iter(f"{{{RIM}}}Association")
        if a.get("associationType") == AssociationType.REPLACE
    ]
    assert len(rplc) == 1 and rplc[0].get("targetObject") == replaced


def test_xades_signature_verifies_and_its_manifest_lists_the_documents(pki_dir: Path) -> None:
    signer = structure_signer(pki_dir)
    content = b"<ClinicalDocument/>"
    documents = [SignedDocument("2.25.42", hashlib.sha256(content).digest())]
    for options, xades_ns in (
        (XadesOptions(), "http://uri.etsi.org/01903/v1.1.1#"),
        (XadesOptions(namespace=XADES_132), XADES_132),
    ):
        signature = sign_submission(documents, signer, options=options)
        verified = XMLVerifier().verify(
            signature, x509_cert=signer.certificate, expect_config=SignatureConfiguration(expect_references=2)
        )
        tags = {etree.QName(v.signed_xml).localname for v in verified}  # type: ignore[union-attr]
        assert tags == {"Manifest", "SignedProperties"}
        root = etree.fromstring(signature)
        ref = root.find(
            ".//{http://www.w3.org/2000/09/xmldsig#}Manifest/{http://www.w3.org/2000/09/xmldsig#}Reference"
        )
        assert ref is not None and ref.get("URI") == "urn:oid:2.25.42"
        assert (
            ref.findtext("{http://www.w3.org/2000/09/xmldsig#}DigestValue")
            == base64.b64encode(hashlib.sha256(content).digest()).decode()
        )
        assert root.find(f".//{{{xades_ns}}}SigningCertificate") is not None
    # The v1.3.2 variant's QualifyingProperties validate against the shipped XAdES.xsd.
    xades_schema = etree.XMLSchema(etree.parse(str(ROOT / "resources/spec/wss-saml-xsd/XAdES.xsd")))
    qualifying = etree.fromstring(signature).find(f".//{{{XADES_132}}}QualifyingProperties")
    xades_schema.assertValid(qualifying)
    # A tampered manifest breaks the signature.
    tampered = signature.replace(b"urn:oid:2.25.42", b"urn:oid:2.25.43")
    with pytest.raises(InvalidDigest):
        XMLVerifier().verify(
            tampered, x509_cert=signer.certificate, expect_config=SignatureConfiguration(expect_references=2)
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=3000), min_size=1, max_size=3),
    st.integers(min_value=1, max_value=700),
)
def test_mtom_round_trip_whatever_the_chunking(contents: list[bytes], chunk: int) -> None:
    envelope = b"<?xml version='1.0'?><e>root</e>"
    parts = [Part(f"p{i}@test", len(c), lambda c=c: iter((c,))) for i, c in enumerate(contents)]
    request = build_mtom(envelope, "urn:x", parts)
    body = b"".join(request.chunks())
    assert len(body) == request.length
    sinks: dict[str, io.BytesIO] = {}

    def sink(cid: str, _type: str) -> io.BytesIO:
        sinks[cid] = io.BytesIO()
        return sinks[cid]

    reader = read_mtom(request.content_type, (body[i : i + chunk] for i in range(0, len(body), chunk)), sink)
    assert reader.root == envelope
    assert [sinks[f"p{i}@test"].getvalue() for i in range(len(contents))] == contents


def test_mtom_truncated_or_without_boundary_is_refused() -> None:
    request = build_mtom(b"<e/>", "urn:x", [Part("a@b", 3, lambda: iter((b"abc",)))])
    body = b"".join(request.chunks())
    with pytest.raises(MalformedResponse):
        read_mtom(request.content_type, [body[:-10]], lambda c, t: io.BytesIO())
    with pytest.raises(MalformedResponse):
        read_mtom("multipart/related; type=x", [body], lambda c, t: io.BytesIO())


def test_iti18_queries_are_valid(pki_dir: Path) -> None:
    h = header()
    search = FindDocuments(
        h.patient,
        statuses=(Status.APPROVED, Status.ARCHIVED),
        class_codes=(Concept("10", "1.2.250.1.213.1.1.4.1", ""),),
        type_codes=(h.type_code,),
        practice_settings=(h.practice_setting,),
        creation_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        service_start_to=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    schema = envelope_schema()
    for query, params, rtype in (
        (StoredQuery.FIND_DOCUMENTS, search.parameters(), ReturnType.OBJECT_REF),
        (
            StoredQuery.GET_DOCUMENTS,
            iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [ebrim.new_id()], []),
            ReturnType.LEAF_CLASS,
        ),
        (
            StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS,
            iti18.by_uuid_or_unique_id("$XDSDocumentEntry", [], ["2.25.1"]),
            ReturnType.LEAF_CLASS,
        ),
        (
            StoredQuery.FIND_SUBMISSION_SETS,
            iti18.find_submission_sets(h.patient, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
            ReturnType.LEAF_CLASS,
        ),
        (StoredQuery.GET_ASSOCIATIONS, iti18.get_associations([ebrim.new_id()]), ReturnType.LEAF_CLASS),
        (
            StoredQuery.GET_RELATED_DOCUMENTS,
            iti18.get_related_documents(ebrim.new_id(), [AssociationType.REPLACE]),
            ReturnType.LEAF_CLASS,
        ),
        (
            StoredQuery.FIND_DOCUMENTS_BY_REFERENCE_ID,
            iti18.find_by_reference_id(
                h.patient, ["A1^^^&1.2.3&ISO^urn:ihe:iti:xds:2013:accession"], [Status.APPROVED]
            ),
            ReturnType.LEAF_CLASS,
        ),
    ):
        schema.assertValid(
            etree.fromstring(build_envelope(iti18.ACTION, iti18.build_query(query, params, rtype), None).body)
        )
    p = search.parameters()
    assert p["$XDSDocumentEntryPatientId"] == ["'150081505104018^^^&1.2.250.1.213.1.4.10&ISO^NH'"]
    assert p["$XDSDocumentEntryStatus"] == [f"('{Status.APPROVED}','{Status.ARCHIVED}')"]
    assert p["$XDSDocumentEntryCreationTimeFrom"] == ["20240101000000"]
    assert p["$XDSDocumentEntryClassCode"] == ["('10^^1.2.250.1.213.1.1.4.1')"]
    # 20 entry UUIDs do not fit the 256-character rim:Value: packed into several Values, none too long.
    uuids = [ebrim.new_id() for _ in range(20)]
    values = iti18.by_uuid_or_unique_id("$XDSDocumentEntry", uuids, [])["$XDSDocumentEntryEntryUUID"]
    assert len(values) > 1 and all(len(v) <= 256 for v in values)
    assert [u for v in values for u in v.strip("()").replace("'", "").split(",")] == uuids


def test_the_ipf_samples_parse() -> None:
    samples = ROOT / "resources" / "spec" / "samples" / "ipf"
    submit = etree.parse(str(samples / "SubmitObjectsRequest_ebrs30.xml")).getroot()
    documents = [parse_document(e) for e in submit.iter(f"{{{RIM}}}ExtrinsicObject")]
    assert documents and all(d.entry_id and d.unique_id for d in documents)
    update = etree.parse(str(samples / "SubmitObjectsRequest_ebrs30_update.xml")).getroot()
    updated = parse_document(next(update.iter(f"{{{RIM}}}ExtrinsicObject")))
    assert updated.lid == "urn:uuid:20744602-ba65-44e9-87ee-a52303a5183e" and updated.version == "1"
    query = etree.parse(str(samples / "iti18request.xml")).getroot()
    adhoc = query.find(f".//{{{RIM}}}AdhocQuery")
    assert adhoc is not None and adhoc.get("id") in {q.value for q in StoredQuery}


def _as_returned(pki_dir: Path) -> iti18.DocumentInfo:
    _, _, _, _, built = submission_for(header(), structure_signer(pki_dir))
    node = built.payload.find(f".//{{{RIM}}}ExtrinsicObject")
    assert node is not None
    node.set("status", Status.APPROVED)
    node.set("lid", node.get("id", ""))
    ebrim.slot(node, "repositoryUniqueId", ["1.2.250.1.213.4.1.1.1.2"]).getparent().insert(0, node[-1])  # type: ignore[union-attr]
    version = etree.Element(f"{{{RIM}}}VersionInfo", versionName="1")
    node.find(f"{{{RIM}}}Name").addnext(version)  # type: ignore[union-attr]
    return parse_document(node)


def test_iti57_mask_keeps_the_lid_and_repeats_the_metadata(pki_dir: Path) -> None:
    document = _as_returned(pki_dir)
    h = header()
    ss = SubmissionSet(
        ebrim.new_id(), new_oid(), "1.2.3", h.patient, h.author, dt.datetime.now(dt.UTC), CONTENT_TYPE
    )
    codes = iti57.new_visibility(document, {Visibility.MASKED_FROM_PS}, set())
    payload = iti57.build_metadata_update(ss, document, codes)
    envelope_schema().assertValid(etree.fromstring(build_envelope(iti57.ACTION, payload, None).body))
    new = parse_document(next(payload.iter(f"{{{RIM}}}ExtrinsicObject")))
    assert new.lid == document.lid and new.entry_id != document.entry_id
    assert new.confidentiality_codes == {"N", "MASQUE_PS", "INVISIBLE_PATIENT"}
    assert (new.unique_id, new.title, new.type_code) == (
        document.unique_id,
        document.title,
        document.type_code,
    )
    owners = {
        c.get("classifiedObject")
        for c in payload.iter(f"{{{RIM}}}Classification")
        if c.get("classificationScheme") == Scheme.DE_CLASS
    }
    assert owners == {new.entry_id}
    member = next(a for a in payload.iter(f"{{{RIM}}}Association") if a.get("targetObject") == new.entry_id)
    slots = {s.get("name"): s.findtext(f".//{{{RIM}}}Value") for s in member.iter(f"{{{RIM}}}Slot")}
    assert slots == {"SubmissionSetStatus": "Original", "PreviousVersion": "1"}
    with pytest.raises(LocalProtocolError):  # the spec offers no way to hide again from the patient
        iti57.new_visibility(iti57_removed(document), {Visibility.INVISIBLE_TO_PATIENT}, set())
    archive = iti57.build_availability_update(ss, document, Status.ARCHIVED)
    envelope_schema().assertValid(etree.fromstring(build_envelope(iti57.ACTION, archive, None).body))
    update = next(archive.iter(f"{{{RIM}}}Association"))
    assert update.get("associationType") == AssociationType.UPDATE_AVAILABILITY
    assert update.get("targetObject") == document.entry_id


def iti57_removed(document: iti18.DocumentInfo) -> iti18.DocumentInfo:
    from dataclasses import replace

    return replace(document, confidentiality=tuple(c for c in document.confidentiality if c.code == "N"))


def test_iti43_request_is_valid_and_responses_are_read() -> None:
    request = iti43.build_retrieve([iti43.DocumentRequest("1.2.250.1.213.4.1.1.1.2", "2.25.7")])
    envelope_schema().assertValid(etree.fromstring(build_envelope(iti43.ACTION, request, None).body))
    response = etree.fromstring(
        f"""<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="{XDSB}" xmlns:rs="{ebrim.RS}" xmlns:xop="{XOP}">
        <rs:RegistryResponse status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>
        <xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId>
        <xdsb:DocumentUniqueId>2.25.7</xdsb:DocumentUniqueId><xdsb:mimeType>text/xml</xdsb:mimeType>
        <xdsb:Document><xop:Include href="cid:doc%40host"/></xdsb:Document></xdsb:DocumentResponse>
        </xdsb:RetrieveDocumentSetResponse>"""
    )
    (found,) = iti43.parse_retrieve_response(response).documents
    assert (found.unique_id, found.content_id, found.inline_base64) == ("2.25.7", "doc@host", None)


def test_registry_failures_carry_the_dmp_code() -> None:
    failure = etree.fromstring(
        f"""<rs:RegistryResponse xmlns:rs="{ebrim.RS}"
        status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure">
        <rs:RegistryErrorList><rs:RegistryError errorCode="XDSDuplicateUniqueIdInRegistry"
        codeContext="2.25.1 déjà présent" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/>
        </rs:RegistryErrorList></rs:RegistryResponse>"""
    )
    with pytest.raises(RegistryFailure) as caught:
        parse_registry_response(failure)
    assert caught.value.code == "DMP:XDSDuplicateUniqueIdInRegistry"
    assert "déjà été déposé" in str(caught.value)
    with pytest.raises(MalformedResponse):
        parse_registry_response(
            etree.fromstring(f'<rs:RegistryResponse xmlns:rs="{ebrim.RS}" status="bogus"/>')
        )


def test_multi_valued_parameters_in_parentheses_single_valued_not() -> None:
    """ITI TF-2a 3.18.4.1.2.3.5: a multi-valued parameter's values are a ( ) list; a single-valued
    one is one quoted value. $XDSDocumentEntryAuthorPerson is multi-valued in FindDocuments
    (3.18.4.1.2.3.7.1); $XDSDocumentEntryEntryUUID is single-valued in GetRelatedDocuments
    (3.18.4.1.2.3.7.8). Both were sent the other way round."""
    h = header()
    search = FindDocuments(h.patient, author_person="%DUPONT%")
    params = search.parameters()
    assert params["$XDSDocumentEntryAuthorPerson"] == ["('%DUPONT%')"]
    assert params["$XDSDocumentEntryPatientId"][0].startswith("'")  # single-valued: no ( )
    related = iti18.get_related_documents("urn:uuid:0b1c", [AssociationType.REPLACE])
    assert related["$XDSDocumentEntryEntryUUID"] == ["'urn:uuid:0b1c'"]
    assert related["$AssociationTypes"][0].startswith("('")


def test_ids_with_an_extension_keep_root_and_extension(pki_dir: Path) -> None:
    """A previous CDA id with an extension was written ``root^ext`` into ``parentDocument/id@root``
    and the setId's extension was dropped; an HL7 II carries them as two attributes, the XDS form
    (uniqueId) stays ``root^extension`` (ITI TF-3 4.2.3.2.26)."""
    set_id, previous = "1.2.250.1.999.7.1^LOT-42", "1.2.250.1.999.7.2^CR-2026-001"
    second = header(set_id=set_id, version=2, replaces=previous)
    cda, *_ = submission_for(second, structure_signer(pki_dir))
    doc = etree.fromstring(cda)
    parent_id = doc.find(f"{{{H}}}relatedDocument/{{{H}}}parentDocument/{{{H}}}id")
    assert parent_id is not None and dict(parent_id.attrib) == {
        "root": "1.2.250.1.999.7.2",
        "extension": "CR-2026-001",
    }
    set_node = doc.find(f"{{{H}}}setId")
    assert set_node is not None and dict(set_node.attrib) == {
        "root": "1.2.250.1.999.7.1",
        "extension": "LOT-42",
    }
    identity = read_identity(io.BytesIO(cda))
    assert identity.set_id == set_id  # read back whole, so a third version keeps it
