"""ITI-18 (TD3.1) and ITI-43 (TD3.2) on the seeded P01 (2,000 documents): queries, filters, rights."""

from __future__ import annotations

import pytest

from app.dmp_client.core.context import Purpose
from sandbox.host.server import DmpHost
from tests.sandbox_host import xdskit as k
from tests.sandbox_host.conftest import Connect

RSQ = "urn:ihe:iti:2007:RegistryStoredQuery"
RETRIEVE = "urn:ihe:iti:2007:RetrieveDocumentSet"
P07 = "256104410907756"


def query(client: k.HostClient, payload: object) -> k.Answer:
    answer = client.post("registry", RSQ, payload)  # type: ignore[arg-type]
    assert answer.content_type.startswith("application/soap+xml")
    k.assert_valid(answer.payload)
    return answer


def entries(answer: k.Answer) -> list[object]:
    return answer.payload.findall(f".//{{{k.RIM}}}ExtrinsicObject")


def refs(answer: k.Answer) -> list[str]:
    return [r.get("id") for r in answer.payload.iter(f"{{{k.RIM}}}ObjectRef")]


def unique_id(entry: object) -> str:
    return next(
        e.get("value")
        for e in entry.iter(f"{{{k.RIM}}}ExternalIdentifier")  # type: ignore[attr-defined]
        if e.get("identificationScheme") == "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
    )


def test_seeded_dmp_has_2000_documents_of_every_family(host: DmpHost) -> None:
    db = host.store.connect()
    rows = db.execute(
        "SELECT class_code, status, count(*) FROM xds_document WHERE matricule = ? GROUP BY 1, 2", (k.P01,)
    ).fetchall()
    classes = {r[0] for r in rows}
    assert {"10", "11", "31", "42", "43", "44", "52", "60", "90"} <= classes
    assert {r[1] for r in rows} == {"Approved", "Deprecated", "Archived", "Deleted"}
    years = db.execute(
        "SELECT count(DISTINCT substr(creation_time, 1, 4)) FROM xds_document WHERE matricule = ?", (k.P01,)
    ).fetchone()[0]
    assert years >= 10
    assert (
        db.execute(
            "SELECT count(*) FROM xds_document WHERE matricule = ? AND seed_index >= 0", (k.P01,)
        ).fetchone()[0]
        == 2000
    )


def test_find_documents_as_the_treating_doctor_leafclass_and_objectref(connect: Connect) -> None:
    client = connect("generaliste")
    all_refs = refs(query(client, k.find_documents("ObjectRef")))
    assert 1500 < len(all_refs) < 2000  # Approved only; MT sees masked documents
    recent = query(
        client,
        k.find_documents(
            XDSDocumentEntryCreationTimeFrom="20240101",
            XDSDocumentEntryClassCode="('10^^1.2.250.1.213.1.1.4.1','11^^1.2.250.1.213.1.1.4.1')",
        ),
    )
    found = entries(recent)
    assert found
    for entry in found:
        classes = [
            c.get("nodeRepresentation")
            for c in entry.iter(f"{{{k.RIM}}}Classification")
            if c.get("classificationScheme") == "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
        ]
        assert classes[0] in ("10", "11")
        created = next(s for s in entry.iter(f"{{{k.RIM}}}Slot") if s.get("name") == "creationTime")
        assert created.findtext(f".//{{{k.RIM}}}Value") >= "20240101"
    statuses = query(client, k.find_documents("ObjectRef", statuses=(k.ARCHIVED, k.DELETED, k.DEPRECATED)))
    assert len(refs(statuses)) > 50


def test_masked_documents_need_author_or_treating_doctor(connect: Connect, host: DmpHost) -> None:
    host.store.set_authorization(k.P01, "899900012343", True)  # the nurse
    nurse = connect("infirmier")
    masked = query(
        nurse,
        k.find_documents(
            "ObjectRef", XDSDocumentEntryConfidentialityCode="('MASQUE_PS^^1.2.250.1.213.1.1.4.13')"
        ),
    )
    mt = query(
        connect("generaliste"),
        k.find_documents(
            "ObjectRef", XDSDocumentEntryConfidentialityCode="('MASQUE_PS^^1.2.250.1.213.1.1.4.13')"
        ),
    )
    assert refs(masked) == [] and len(refs(mt)) > 50
    cardiologist = connect("specialiste", purpose=Purpose.BREAK_GLASS)
    own = refs(
        query(
            cardiologist,
            k.find_documents(
                "ObjectRef", XDSDocumentEntryConfidentialityCode="('MASQUE_PS^^1.2.250.1.213.1.1.4.13')"
            ),
        )
    )
    assert own == []  # not even their own in break-glass mode


def test_consultation_rights(connect: Connect, host: DmpHost) -> None:
    denied = query(connect("specialiste"), k.find_documents("ObjectRef"))
    assert denied.errors() == ["DMPAccessDeniedByRightsService"]
    assert host.store.journal_rows(1)[0]["result"] == "échec DMPAccessDeniedByRightsService"
    assert (
        query(connect("specialiste", purpose=Purpose.BREAK_GLASS), k.find_documents("ObjectRef")).errors()
        == []
    )
    for purpose in (Purpose.BREAK_GLASS, Purpose.CENTRE_15):
        opposed = query(
            connect("specialiste", purpose=purpose, matricule=P07),
            k.find_documents("ObjectRef", matricule=P07),
        )
        assert opposed.errors() == ["DMPAccessDeniedByRightsService"]
    closed = query(
        connect("generaliste", matricule="169039924304295"),
        k.find_documents("ObjectRef", matricule="169039924304295"),
    )
    assert closed.errors() == ["DMPClosed"]
    assert query(
        connect("generaliste"), k.find_documents("ObjectRef", matricule="150081505104018")
    ).errors() == ["XDSPatientIdDoesNotMatch"]


def test_structure_finds_only_its_own_documents_references_and_cannot_retrieve(
    connect: Connect, host: DmpHost
) -> None:
    """Plain indirect mode: "find the reference of a document" only (ObjectRef answers, the
    structure's own documents), no metadata search, no retrieval (dmp-interface.md §3.1)."""
    client = connect("structure")
    refs = client.post("registry", RSQ, k.find_documents("ObjectRef"))
    found = [r.get("id") for r in refs.payload.iter(f"{{{k.RIM}}}ObjectRef")]
    assert found
    authors = {
        row["author_structure"]
        for row in host.store.connect().execute(
            f"SELECT author_structure FROM xds_document WHERE entry_uuid IN ({','.join('?' * len(found))})",
            found,
        )
    }
    assert authors == {"1990000017"}
    metadata = client.post("registry", RSQ, k.find_documents())
    assert metadata.fault() == "DMPAccessDeniedByRightsService" and metadata.status == 500
    unique = host.store.connect().execute(
        "SELECT unique_id FROM xds_document WHERE entry_uuid = ?", (found[0],)
    )
    answer = client.post("repository", RETRIEVE, k.retrieve(unique.fetchone()[0]))
    assert answer.fault() == "DMPAccessDeniedByRightsService"


def test_get_documents_and_related_queries(connect: Connect) -> None:
    client = connect("generaliste")
    first = entries(query(client, k.find_documents(XDSDocumentEntryCreationTimeFrom="20250601")))[-1]
    ident = first.get("id")
    by_uuid = entries(
        query(client, k.stored_query(k.GET_DOCUMENTS, XDSDocumentEntryEntryUUID=f"('{ident}')"))
    )
    assert [e.get("id") for e in by_uuid] == [ident]
    both = query(
        client,
        k.stored_query(
            "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a", XDSDocumentEntryEntryUUID=f"('{ident}')"
        ),
    )
    assert both.payload.findall(f".//{{{k.RIM}}}Association")
    associations = query(
        client, k.stored_query("urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155", uuid=f"('{ident}')")
    )
    member = associations.payload.find(f".//{{{k.RIM}}}Association")
    set_uuid = member.get("sourceObject")
    contents = query(
        client,
        k.stored_query(
            "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83", XDSSubmissionSetEntryUUID=f"'{set_uuid}'"
        ),
    )
    assert contents.payload.find(f".//{{{k.RIM}}}RegistryPackage") is not None and entries(contents)
    sets = query(
        client,
        k.stored_query(
            "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9",
            "ObjectRef",
            XDSSubmissionSetPatientId=f"'{k.cx()}'",
            XDSSubmissionSetStatus=f"('{k.APPROVED}')",
        ),
    )
    assert len(refs(sets)) == 200
    replaced = k.stored_query(
        "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6",
        XDSDocumentEntryUniqueId="'1.2.250.1.213.4.1.9.99.1.207058575627097.24'",
        AssociationTypes="('urn:ihe:iti:2007:AssociationType:RPLC')",
    )
    related = query(client, replaced)
    assert len(entries(related)) == 2 and len(related.payload.findall(f".//{{{k.RIM}}}Association")) == 1
    by_ref = query(
        client,
        k.stored_query(
            "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492",
            XDSDocumentEntryPatientId=f"'{k.cx()}'",
            XDSDocumentEntryStatus=f"('{k.APPROVED}')",
            XDSDocumentEntryReferenceIdList="('x^^^^urn:ihe:iti:xds:2013:accession')",
        ),
    )
    assert entries(by_ref) == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (k.stored_query("urn:uuid:00000000-0000-0000-0000-000000000000"), "XDSUnknownStoredQuery"),
        (
            k.stored_query(k.FIND_DOCUMENTS, XDSDocumentEntryPatientId=f"'{k.cx()}'"),
            "XDSStoredQueryParamNumber",
        ),
        (
            k.stored_query(
                k.FIND_DOCUMENTS,
                XDSDocumentEntryPatientId=f"'{k.cx()}''%20and%20611%3d611--%20",
                XDSDocumentEntryStatus=f"('{k.APPROVED}')",
            ),
            "XDSRegistryError",
        ),
        (k.stored_query(k.GET_DOCUMENTS), "XDSStoredQueryParamNumber"),
    ],
)
def test_query_errors(connect: Connect, payload: object, code: str) -> None:
    assert query(connect("generaliste"), payload).errors() == [code]


def test_retrieve_seeded_cda_and_errors(connect: Connect) -> None:
    client = connect("generaliste")
    entry = entries(query(client, k.find_documents(XDSDocumentEntryCreationTimeFrom="20250901")))[0]
    answer = client.post("repository", RETRIEVE, k.retrieve(unique_id(entry), "1.2.3.4.5"))
    k.assert_valid(answer.payload)
    registry = answer.payload.find(f"{{{k.RS}}}RegistryResponse")
    assert registry.get("status") == "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
    assert answer.errors() == ["XDSDocumentUniqueIdError"]
    (content,) = answer.parts.values()
    from lxml import etree

    from sandbox.host.xds import cda_schema

    assert cda_schema().validate(etree.fromstring(content))
    wrong = client.post("repository", RETRIEVE, k.retrieve(unique_id(entry), repository="1.2.3"))
    assert wrong.errors() == ["XDSUnknownRepositoryId"] and not wrong.parts
    by_uuid = client.post("repository", RETRIEVE, k.retrieve(entry.get("id")))
    assert by_uuid.errors() == ["XDSDocumentUniqueIdError"]
