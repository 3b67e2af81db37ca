"""`dmp send --vsm` and `--vaccination` feed the in-process sandbox host: the structured CDA built
from the hand-off, sent directly or through the queue, only for a qualified identity and only for
the patient the hand-off names."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.documents import NewDocument
from app.services.training import sandbox_patient
from app.store.local_store import LocalStore, StoreSettings
from sandbox.host.server import DmpHost
from tests.cli_helpers import run
from tests.host_fixture import DirectClient
from tests.identity_helpers import qualify_in_store
from tests.structured.build_helpers import DATA, NS
from tests.structured.schematron import StructuredChecks


@pytest.fixture
def env(cli_host_env: Path) -> Path:
    for name in ("vsm_full.json", "vsm_minimal.json", "vaccination_child.json"):
        shutil.copy(DATA / name, cli_host_env / name)
    return cli_host_env


def stored(host: DmpHost, matricule: str) -> list[tuple[str, str, str, str]]:
    rows = host.store.connect().execute(
        "SELECT type_code, format_code, mime_type, content_path FROM xds_document "
        "WHERE matricule = ? AND is_signature = 0 "
        "AND (format_code LIKE 'urn:asip:ci-sis:%' OR format_code = 'urn:ihe:pcc:ips:2020') "
        "ORDER BY creation_time",
        (matricule,),
    )
    return [tuple(row) for row in rows.fetchall()]


def test_send_vsm_feeds_the_sandbox(env: Path, host: DmpHost, structured_checks: StructuredChecks) -> None:
    qualify_in_store(env / "store", "P03")
    status, out, err = run("send", "--vsm", str(env / "vsm_full.json"), "--mode", "structure")
    assert status == 0 and "Synthèse médicale déposée (version 1" in out, err
    rows = stored(host, "150081505104018")
    assert [(r[0], r[1], r[2]) for r in rows] == [("SYNTH", "urn:asip:ci-sis:vsm:2012", "text/xml")]
    cda = Path(rows[0][3]).read_bytes()
    document = etree.fromstring(cda)
    assert document.find("cda:component/cda:structuredBody", NS) is not None
    assert structured_checks.check(cda, "VSM").clean  # what reached the host passes the four checks


def test_the_hand_off_date_is_the_creation_time_as_in_the_gui(env: Path, host: DmpHost) -> None:
    """vsm_full.json says ``"date": "2026-12-07T10:30:00+01:00"``: the CLI's document is created then
    (the GUI's preview and the queue take the same value), the minimal one, without a date, now."""
    qualify_in_store(env / "store", "P03")
    for name in ("vsm_full.json", "vsm_minimal.json"):  # the minimal one names no patient
        status, _out, err = run("send", "--vsm", str(env / name), "--patient", "P03", "--mode", "structure")
        assert status == 0, err
    created = [
        etree.fromstring(Path(row[3]).read_bytes()).find("cda:effectiveTime", NS).get("value")
        for row in stored(host, "150081505104018")
    ]
    assert "20261207103000+0100" in created and len(created) == 2
    assert created[0] != created[1]


def test_send_ips_feeds_the_sandbox(env: Path, host: DmpHost, structured_checks: StructuredChecks) -> None:
    qualify_in_store(env / "store", "P03")
    status, out, err = run("send", "--ips", str(env / "vsm_full.json"), "--mode", "structure")
    assert status == 0 and "Synthèse médicale (IPS-FR) déposée" in out, err
    rows = stored(host, "150081505104018")
    assert [(r[0], r[2]) for r in rows] == [("60591-5", "text/xml")]
    assert structured_checks.check(Path(rows[0][3]).read_bytes(), "IPS-FR").clean


def test_send_vaccination_sends_one_note_per_act(env: Path, host: DmpHost) -> None:
    qualify_in_store(env / "store", "P06")
    status, out, err = run(
        "send", "--vaccination", str(env / "vaccination_child.json"), "--mode", "structure"
    )
    assert status == 0 and out.count("Note de vaccination déposée") == 3, err
    rows = stored(host, "115067505618973")
    assert {(r[0], r[1]) for r in rows} == {("87273-9", "urn:asip:ci-sis:vac-note:2021")} and len(rows) == 3


def test_a_hand_off_for_another_patient_is_refused(env: Path, host: DmpHost) -> None:
    qualify_in_store(env / "store", "P03", "P06")
    status, out, err = run(
        "send",
        "--vaccination",
        str(env / "vaccination_child.json"),
        "--patient",
        "P03",
        "--mode",
        "structure",
    )
    assert status != 0 and "DMP-DONNEES-AUTRE-PATIENT" in err and out == ""
    assert stored(host, "150081505104018") == [] and stored(host, "115067505618973") == []


def test_a_hand_off_without_patient_needs_one(env: Path, host: DmpHost) -> None:
    qualify_in_store(env / "store", "P03")
    status, _, err = run("send", "--vsm", str(env / "vsm_minimal.json"), "--mode", "structure")
    assert status != 0 and "--patient" in err
    status, out, err = run(
        "send", "--vsm", str(env / "vsm_minimal.json"), "--patient", "P03", "--mode", "structure"
    )
    assert status == 0 and "Synthèse médicale déposée" in out, err


def test_a_non_qualified_identity_is_refused(env: Path, host: DmpHost) -> None:
    status, out, err = run("send", "--vsm", str(env / "vsm_full.json"), "--mode", "structure")
    assert status != 0 and "IDENTITE-NON-QUALIFIEE" in err and out == ""
    assert stored(host, "150081505104018") == []


def test_a_bad_hand_off_is_refused_before_any_exchange(env: Path, host: DmpHost) -> None:
    qualify_in_store(env / "store", "P03")
    bad = env / "bad.json"
    bad.write_text('{"auteur": {}, "pathologies": []}', encoding="utf-8")
    status, _, err = run("send", "--vsm", str(bad), "--patient", "P03", "--mode", "structure")
    assert status != 0 and "DMP-DONNEES-STRUCTUREES" in err and "auteur" in err


def test_send_vsm_through_the_queue(env: Path, host: DmpHost, structured_checks: StructuredChecks) -> None:
    qualify_in_store(env / "store", "P03")
    status, out, err = run("send", "--vsm", str(env / "vsm_full.json"), "--mode", "structure", "--en-file")
    assert status == 0 and "file d'envoi" in out, err
    assert stored(host, "150081505104018") == []
    status, out, err = run("queue", "drain", "--mode", "structure")
    assert status == 0 and "1 envoyé(s)" in out, err
    with LocalStore.open(StoreSettings(env / "store")) as store:
        (entry,) = store.queue.entries()
    rows = stored(host, "150081505104018")
    assert len(rows) == 1
    cda = Path(rows[0][3]).read_bytes()
    assert etree.fromstring(cda).find("cda:id", NS).get("root") == entry.unique_id  # type: ignore[union-attr]
    assert structured_checks.check(cda, "VSM").clean


def test_a_new_version_of_a_vsm_replaces_the_first(
    host: DmpHost, direct_client: DirectClient, structured_checks: StructuredChecks
) -> None:
    """Through the facade in direct mode (a consultation reads the previous version's setId)."""
    found = sandbox_patient("P03")
    assert found is not None and found.traits is not None
    client = direct_client(host, "generaliste")
    document = NewDocument(
        DATA / "vsm_full.json", "text/xml", "SYNTH", "Synthèse médicale", found.traits, structured="VSM"
    )
    first = client.send(found.ins, document)
    previous = client.document_by_unique_id(found.ins, first.unique_id)
    second = client.send(found.ins, document, replaces=previous)
    assert (second.set_id, second.version) == (first.set_id, 2)
    out = io.BytesIO()
    client.retrieve(found.ins, client.document_by_unique_id(found.ins, second.unique_id), out)
    cda = out.getvalue()
    parent = etree.fromstring(cda).find("cda:relatedDocument[@typeCode='RPLC']/cda:parentDocument/cda:id", NS)
    assert parent is not None and parent.get("root") == first.unique_id
    assert structured_checks.check(cda, "VSM").clean
