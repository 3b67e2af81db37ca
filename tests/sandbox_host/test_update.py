"""ITI-57 (TD3.3a–d): masking, making visible, archiving, deleting; rights of each actor."""

from __future__ import annotations

from lxml import etree

from app.dmp_client.core.context import Purpose
from sandbox.host.server import DmpHost
from tests.sandbox_host import xdskit as k
from tests.sandbox_host.conftest import Connect
from tests.sandbox_host.test_feed import feed_for, send

UPDATE = "urn:ihe:iti:2010:UpdateDocumentSet"
RSQ = "urn:ihe:iti:2007:RegistryStoredQuery"


def update(client: k.HostClient, payload: etree._Element) -> k.Answer:
    k.assert_valid(payload)
    answer = client.post("registry", UPDATE, payload)
    assert (
        answer.envelope.findtext(".//{http://www.w3.org/2005/08/addressing}Action")
        == "urn:ihe:iti:2010:UpdateDocumentSetResponse"  # resources/spec/wsdl/iti57.wsdl
    )
    k.assert_valid(answer.payload)
    return answer


def own_document(
    client: k.HostClient, host: DmpHost, return_type: str = "LeafClass", **spec: object
) -> tuple[k.DocSpec, etree._Element]:
    """Send a document, then find it back (its metadata, or only its reference: ObjectRef)."""
    document = k.DocSpec(**spec)  # type: ignore[arg-type]
    assert send(client, feed_for(client, document)).payload.get("status") == k.SUCCESS
    query = k.stored_query(k.GET_DOCUMENTS, return_type, XDSDocumentEntryUniqueId=f"'{document.unique_id}'")
    found = client.post("registry", RSQ, query)
    kind = "ExtrinsicObject" if return_type == "LeafClass" else "ObjectRef"
    entry = found.payload.find(f".//{{{k.RIM}}}{kind}")
    assert entry is not None, found.errors()
    return document, entry


def current(host: DmpHost, unique_id: str) -> dict[str, object]:
    row = (
        host.store.connect()
        .execute("SELECT * FROM xds_document WHERE unique_id = ? AND latest = 1", (unique_id,))
        .fetchone()
    )
    return dict(row)


def test_mask_then_unmask_by_the_author(connect: Connect, host: DmpHost) -> None:
    author = connect("generaliste")
    document, entry = own_document(author, host)
    masked = update(
        author,
        k.update_metadata(
            entry, "1", [("N", "2.16.840.1.113883.5.25"), ("MASQUE_PS", "1.2.250.1.213.1.1.4.13")]
        ),
    )
    assert masked.payload.get("status") == k.SUCCESS, masked.contexts()
    row = current(host, document.unique_id)
    assert row["version"] == 2 and "MASQUE_PS" in str(row["confidentiality"])
    assert host.store.journal_rows(1)[0]["transaction_name"] == "TD3.3a"
    found = author.post(
        "registry", RSQ, k.stored_query(k.GET_DOCUMENTS, XDSDocumentEntryUniqueId=f"'{document.unique_id}'")
    )
    new_entry = found.payload.find(f".//{{{k.RIM}}}ExtrinsicObject")
    assert new_entry.find(f"{{{k.RIM}}}VersionInfo").get("versionName") == "2"
    stale = update(author, k.update_metadata(new_entry, "1", [("N", "2.16.840.1.113883.5.25")]))
    assert stale.errors() == ["XDSMetadataVersionError"]
    unmasked = update(author, k.update_metadata(new_entry, "2", [("N", "2.16.840.1.113883.5.25")]))
    assert unmasked.payload.get("status") == k.SUCCESS, unmasked.contexts()


def test_unmask_someone_elses_document_is_refused_except_for_the_treating_doctor(
    connect: Connect, host: DmpHost
) -> None:
    host.store.set_authorization(k.P01, "899900012342", True)
    cardiologist = connect("specialiste")
    _document, entry = own_document(
        cardiologist, host, confidentiality=("MASQUE_PS",), facility="SA01", practice="ETABLISSEMENT"
    )
    host.store.set_authorization(k.P01, "899900012343", True)
    nurse = connect("infirmier")
    refused = update(nurse, k.update_metadata(entry, "1", [("N", "2.16.840.1.113883.5.25")]))
    assert refused.errors() == ["DMPAccessDeniedByRightsService"]
    treating = update(
        connect("generaliste"), k.update_metadata(entry, "1", [("N", "2.16.840.1.113883.5.25")])
    )
    assert treating.payload.get("status") == k.SUCCESS, treating.contexts()


def test_make_visible_to_the_patient_but_never_hide_again(connect: Connect, host: DmpHost) -> None:
    author = connect("generaliste")
    _document, entry = own_document(author, host, confidentiality=("INVISIBLE_PATIENT",))
    visible = update(author, k.update_metadata(entry, "1", [("N", "2.16.840.1.113883.5.25")]))
    assert (
        visible.payload.get("status") == k.SUCCESS
        and host.store.journal_rows(1)[0]["transaction_name"] == "TD3.3b"
    )
    hide = update(
        author,
        k.update_metadata(
            entry, "2", [("N", "2.16.840.1.113883.5.25"), ("INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13")]
        ),
    )
    assert hide.errors() == ["XDSMetadataUpdateError"]


def test_archive_unarchive_delete(connect: Connect, host: DmpHost) -> None:
    author = connect("generaliste")
    document, entry = own_document(author, host)
    ident = entry.get("id")
    assert update(author, k.update_status(ident, k.APPROVED, k.ARCHIVED)).payload.get("status") == k.SUCCESS
    assert current(host, document.unique_id)["status"] == "Archived"
    assert update(author, k.update_status(ident, k.APPROVED, k.ARCHIVED)).errors() == [
        "XDSMetadataUpdateError"
    ]
    assert update(author, k.update_status(ident, k.ARCHIVED, k.APPROVED)).payload.get("status") == k.SUCCESS
    assert update(author, k.update_status(ident, k.APPROVED, k.DELETED)).payload.get("status") == k.SUCCESS
    assert current(host, document.unique_id)["status"] == "Deleted"
    assert [r["transaction_name"] for r in host.store.journal_rows(3)] == ["TD3.3c", "TD3.3d", "TD3.3"]


def test_status_rights(connect: Connect, host: DmpHost) -> None:
    author = connect("generaliste")
    _document, entry = own_document(author, host)
    ident = entry.get("id")
    host.store.set_authorization(k.P01, "899900012342", True)
    other = connect("specialiste")
    assert update(other, k.update_status(ident, k.APPROVED, k.DELETED)).errors() == [
        "DMPAccessDeniedByRightsService"
    ]
    nurse = connect("infirmier", purpose=Purpose.BREAK_GLASS)
    assert update(nurse, k.update_status(ident, k.APPROVED, k.ARCHIVED)).errors() == [
        "DMPAccessDeniedByRightsService"
    ]
    structure = connect("structure")
    assert update(structure, k.update_status(ident, k.APPROVED, k.DELETED)).errors() == [
        "DMPAccessDeniedByRightsService"
    ]
    # Indirect mode finds the reference of its own document (ObjectRef), then deletes it.
    _mine, mine_entry = own_document(structure, host, "ObjectRef", facility="SA01", practice="ETABLISSEMENT")
    refs = structure.post("registry", RSQ, k.find_documents("ObjectRef"))
    assert mine_entry.get("id") in [r.get("id") for r in refs.payload.iter(f"{{{k.RIM}}}ObjectRef")]
    assert (
        update(structure, k.update_status(mine_entry.get("id"), k.APPROVED, k.DELETED)).payload.get("status")
        == k.SUCCESS
    )
    patient_doc = (
        host.store.connect()
        .execute(
            "SELECT entry_uuid FROM xds_document WHERE matricule = ? AND author_patient = 1"
            " AND status = 'Approved' AND latest = 1",
            (k.P01,),
        )
        .fetchone()[0]
    )
    assert update(other, k.update_status(patient_doc, k.APPROVED, k.ARCHIVED)).errors() == [
        "DMPAccessDeniedByRightsService"
    ]
    assert (
        update(author, k.update_status(patient_doc, k.APPROVED, k.ARCHIVED)).payload.get("status")
        == k.SUCCESS
    )
