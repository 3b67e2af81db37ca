"""ITI-41 (TD2.1/TD2.2) on the sandbox host: MTOM in and out, metadata, CDA and XAdES checks, RPLC."""

from __future__ import annotations

import pytest

from app.dmp_client.core.context import Purpose
from sandbox.host.server import DmpHost
from tests.sandbox_host import xdskit as k
from tests.sandbox_host.conftest import Connect

PNR = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"


def send(client: k.HostClient, feed: k.Feed) -> k.Answer:
    answer = client.post("repository", PNR, feed.payload, feed.attachments)
    assert answer.content_type.startswith("multipart/related")
    k.assert_valid(answer.payload)
    return answer


def feed_for(client: k.HostClient, *specs: k.DocSpec, **options: object) -> k.Feed:
    who = client.who  # type: ignore[attr-defined]
    return k.provide_and_register(list(specs), who.sign_key, who.sign_cert, **options)  # type: ignore[arg-type]


def test_feed_then_find_and_retrieve_as_the_treating_doctor(connect: Connect, host: DmpHost) -> None:
    client = connect("generaliste")
    spec = k.DocSpec()
    feed = feed_for(client, spec)
    k.assert_valid(feed.payload)
    answer = send(client, feed)
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()
    assert answer.envelope.find(".//{http://www.w3.org/2005/08/addressing}Action").text.endswith("-bResponse")
    found = client.post(
        "registry",
        "urn:ihe:iti:2007:RegistryStoredQuery",
        k.stored_query(k.GET_DOCUMENTS, XDSDocumentEntryUniqueId=f"('{spec.unique_id}')"),
    )
    assert found.content_type.startswith("application/soap+xml")
    k.assert_valid(found.payload)
    entries = found.payload.findall(f".//{{{k.RIM}}}ExtrinsicObject")
    assert len(entries) == 1 and entries[0].get("status") == k.APPROVED
    slots = {s.get("name"): s.findtext(f".//{{{k.RIM}}}Value") for s in entries[0].iter(f"{{{k.RIM}}}Slot")}
    assert slots["repositoryUniqueId"] == k.REPOSITORY and int(slots["size"]) == len(feed.cdas[0])
    got = client.post("repository", "urn:ihe:iti:2007:RetrieveDocumentSet", k.retrieve(spec.unique_id))
    k.assert_valid(got.payload)
    include = got.payload.find(f".//{{{k.XOP}}}Include")
    assert include is not None
    assert got.parts[include.get("href").removeprefix("cid:")] == feed.cdas[0]
    rows = host.store.journal_rows(3)
    assert [r["transaction_name"] for r in rows] == ["TD3.2", "TD3.1", "TD2.1"]


def test_feed_by_the_structure_is_imputed_to_the_structure(connect: Connect, host: DmpHost) -> None:
    client = connect("structure")
    spec = k.DocSpec(facility="SA01", practice="ETABLISSEMENT")
    answer = send(client, feed_for(client, spec))
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()
    row = (
        host.store.connect()
        .execute("SELECT * FROM xds_document WHERE unique_id = ?", (spec.unique_id,))
        .fetchone()
    )
    assert (row["author_id"], row["author_structure"], row["submitter_mode"]) == (
        "",
        "1990000017",
        "INDIRECTE",
    )


def test_feed_by_a_secretary_is_td2_2(connect: Connect, host: DmpHost) -> None:
    client = connect("secretaire")
    answer = send(client, feed_for(client, k.DocSpec(facility="SA01", practice="ETABLISSEMENT")))
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()
    assert host.store.journal_rows(1)[0]["transaction_name"] == "TD2.2"


@pytest.mark.parametrize(
    "options",
    [
        k.XadesOptions(c14n=k.C14N_INCL, sha1=True, xades=k.XADES_111),
        k.XadesOptions(c14n=k.C14N_INCL_COMMENTS, xades=k.XADES_132),
        k.XadesOptions(c14n=k.C14N_EXC, sha1=True, xades=k.XADES_132),
    ],
)
def test_accepted_xades_variants(connect: Connect, options: k.XadesOptions) -> None:
    client = connect("infirmier", purpose=Purpose.BREAK_GLASS)
    answer = send(client, feed_for(client, k.DocSpec(), k.DocSpec(title="Deuxième"), xades=options))
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"xades": k.XadesOptions(tamper_manifest=True)}, "XDSRepositoryMetadataError"),
        ({"with_signature": False}, "XDSRegistryMetadataError"),
    ],
)
def test_bad_or_missing_signature_is_refused(connect: Connect, change: dict[str, object], code: str) -> None:
    client = connect("generaliste")
    answer = send(client, feed_for(client, k.DocSpec(), **change))
    assert answer.payload.get("status") == k.FAILURE and code in answer.errors()


def test_signature_by_someone_else_is_refused(connect: Connect) -> None:
    client = connect("generaliste")
    other = connect("specialiste").who  # type: ignore[attr-defined]
    feed = k.provide_and_register([k.DocSpec()], other.sign_key, other.sign_cert)
    answer = send(client, feed)
    assert "XDSRepositoryMetadataError" in answer.errors()
    assert "VIHF" in answer.payload.find(f".//{{{k.RS}}}RegistryError").get("codeContext")


def test_manifest_must_cover_every_document(connect: Connect) -> None:
    client = connect("generaliste")
    first, second = k.DocSpec(), k.DocSpec(title="Autre")
    answer = send(client, feed_for(client, first, second, xades=k.XadesOptions(omit=second.unique_id)))
    assert "XDSRepositoryMetadataError" in answer.errors()


@pytest.mark.parametrize(
    ("spec", "cda_spec", "needle"),
    [
        (k.DocSpec(title="Titre A"), k.DocSpec(title="Titre B"), "titre"),
        (k.DocSpec(created="20250301093000"), k.DocSpec(created="20250301103000"), "creationTime"),
        (k.DocSpec(facility="SA07"), k.DocSpec(facility="SA01"), "healthcareFacilityTypeCode"),
        (k.DocSpec(practice="AMBULATOIRE"), k.DocSpec(practice="ETABLISSEMENT"), "practiceSettingCode"),
        (k.DocSpec(matricule=k.P01), k.DocSpec(matricule="150081505104018"), "INS"),
    ],
)
def test_cda_header_must_match_the_metadata(
    connect: Connect, spec: k.DocSpec, cda_spec: k.DocSpec, needle: str
) -> None:
    client = connect("generaliste")
    cda_spec.unique_id, cda_spec.set_id = spec.unique_id, spec.set_id
    answer = send(client, feed_for(client, spec, cdas=[k.make_cda(cda_spec)]))
    assert answer.errors() == ["XDSRepositoryMetadataError"]
    assert needle in answer.payload.find(f".//{{{k.RS}}}RegistryError").get("codeContext")


def test_codes_outside_the_value_sets_and_wrong_patient(connect: Connect) -> None:
    client = connect("generaliste")
    answer = send(client, feed_for(client, k.DocSpec(class_code="99")))
    assert "XDSRegistryMetadataError" in answer.errors()
    wrong = k.DocSpec(matricule="150081505104018")
    answer = send(client, feed_for(client, wrong, cdas=[k.make_cda(wrong)]))
    assert "XDSPatientIdDoesNotMatch" in answer.errors()


def test_duplicate_unique_id(connect: Connect) -> None:
    client = connect("generaliste")
    spec = k.DocSpec()
    feed = feed_for(client, spec)
    assert send(client, feed).payload.get("status") == k.SUCCESS
    assert send(client, feed_for(client, spec, cdas=feed.cdas)).errors() == ["XDSDuplicateUniqueIdInRegistry"]
    other = k.DocSpec(unique_id=spec.unique_id, title="Autre contenu")
    assert send(client, feed_for(client, other)).errors() == ["XDSNonIdenticalHash"]


def test_replacement_deprecates_the_old_version(connect: Connect, host: DmpHost) -> None:
    client = connect("generaliste")
    old = k.DocSpec()
    assert send(client, feed_for(client, old)).payload.get("status") == k.SUCCESS
    old_uuid = (
        host.store.connect()
        .execute("SELECT entry_uuid FROM xds_document WHERE unique_id = ?", (old.unique_id,))
        .fetchone()[0]
    )
    wrong = k.DocSpec(title="Version 2")  # new setId: refused
    answer = send(client, feed_for(client, wrong, replaces=old_uuid))
    assert answer.errors() == ["XDSRegistryMetadataError"]
    new = k.DocSpec(title="Version 2", set_id=old.set_id, version="2", replaces_cda_id=old.unique_id)
    answer = send(client, feed_for(client, new, replaces=old_uuid))
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()
    statuses = dict(
        host.store.connect()
        .execute(
            "SELECT unique_id, status FROM xds_document WHERE unique_id IN (?,?)",
            (old.unique_id, new.unique_id),
        )
        .fetchall()
    )
    assert statuses == {old.unique_id: "Deprecated", new.unique_id: "Approved"}


@pytest.mark.parametrize(
    ("matricule", "code"), [("188102B17295165", "XDSUnknownPatientId"), ("169039924304295", "DMPClosed")]
)
def test_feed_needs_an_open_dmp(connect: Connect, matricule: str, code: str) -> None:
    client = connect("generaliste", matricule=matricule)
    spec = k.DocSpec(matricule=matricule)
    assert send(client, feed_for(client, spec)).errors() == [code]
