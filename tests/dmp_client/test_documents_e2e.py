"""Document transactions end to end against the in-process sandbox host over real mutual TLS, with
the structure's certificates (indirect mode) and with card-shaped software keys (direct mode)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.client import DmpClient
from app.dmp_client.core.cda import extract_body
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.errors import ConsultationNeedsStrongAuth, SoapFault
from app.dmp_client.core.iti18 import FindDocuments
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.mtom import read_mtom
from app.dmp_client.core.registry import RegistryFailure
from app.dmp_client.documents import DmpNotUsable, NewDocument
from app.ins import IdentityTraits, Ins
from sandbox.host.server import DmpHost
from sandbox.patients import load_patients
from sandbox.training.demo import demo_pdf
from tests.dmp_client.helpers import ROOT, envelope_schema
from tests.dmp_client.test_xds_messages import resolve_xop
from tests.host_fixture import DirectClient


@pytest.fixture
def card_like_client(host: DmpHost, direct_client: DirectClient) -> DmpClient:
    """The sandbox GP in direct mode (software keys shaped like the card's), author of what it sends."""
    return direct_client(host, "generaliste")


def validate_recordings(host: DmpHost) -> int:
    """Every request the client sent and every answer the host gave, as on the wire, against the
    XSDs (MTOM resolved first: each xop:Include replaced by the base64 of its part)."""
    folder = host.config.record_dir
    assert folder is not None
    schema = envelope_schema()
    count = 0
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".mime":
            boundary = data.split(b"\r\n", 1)[0][2:].decode()
            parts: dict[str, io.BytesIO] = {}

            def sink(cid: str, _type: str, parts: dict[str, io.BytesIO] = parts) -> io.BytesIO:
                parts[cid] = io.BytesIO()
                return parts[cid]

            reader = read_mtom(f'multipart/related; boundary="{boundary}"', [data], sink)
            envelope = resolve_xop(reader.root, {cid: part.getvalue() for cid, part in parts.items()})
        else:
            envelope = etree.fromstring(data)
        assert schema.validate(envelope), (path.name, str(schema.error_log)[:2000])
        count += 1
    return count


def patient(pid: str) -> tuple[Ins, IdentityTraits]:
    p = next(p for p in load_patients() if p.id == pid)
    traits = IdentityTraits.parse(p.birth_name, p.first_names, p.sex, p.birth_date, p.birth_place)
    return Ins.parse(p.matricule, p.oid), traits


def report(
    tmp_path: Path, traits: IdentityTraits, text: str = "Compte rendu", **changes: object
) -> NewDocument:
    pdf = tmp_path / f"{abs(hash(text))}.pdf"
    pdf.write_bytes(demo_pdf(text))
    return NewDocument(pdf, "application/pdf", "11488-4", text, traits, **changes)  # type: ignore[arg-type]


def test_send_in_indirect_mode_then_consult_with_a_card(
    structure_client: DmpClient, card_like_client: DmpClient, host: DmpHost, tmp_path: Path
) -> None:
    """Indirect mode feeds and finds the reference of what it sent; the DMP refuses it the
    metadata and the document (dmp-interface.md §3.1); a card consults them."""
    ins, traits = patient("P03")
    document = report(tmp_path, traits, "Compte rendu de consultation")
    sent = structure_client.send(ins, document)
    assert structure_client.document_reference(ins, sent.unique_id) == sent.entry_id
    with pytest.raises(SoapFault) as caught:  # indirect mode may not search metadata (FI-526)
        structure_client.document_by_unique_id(ins, sent.unique_id)
    assert caught.value.subcode == "DMPAccessDeniedByRightsService"
    found = card_like_client.document_by_unique_id(ins, sent.unique_id)
    assert found.status == Status.APPROVED and found.title == "Compte rendu de consultation"
    assert found.size == sent.size and found.repository_id
    sent_before = validate_recordings(host)
    # indirect mode may not consult (FI-526, dmp-interface.md §3.1): refused before sending
    with pytest.raises(ConsultationNeedsStrongAuth, match="e-CPS"):
        structure_client.retrieve(ins, found, io.BytesIO())
    with pytest.raises(ConsultationNeedsStrongAuth):
        structure_client.find_documents(ins)
    assert validate_recordings(host) == sent_before >= 4  # nothing more reached the host


def test_full_job_in_direct_mode(card_like_client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    client = card_like_client
    ins, traits = patient("P03")
    document = report(tmp_path, traits, "Compte rendu de consultation")
    sent = client.send(ins, document)
    listed = client.find_documents(ins)
    found = next(d for d in listed if d.unique_id == sent.unique_id)
    cda = io.BytesIO()
    client.retrieve(ins, found, cda)
    cda.seek(0)
    back = io.BytesIO()
    assert extract_body(cda, back) == "application/pdf"
    assert back.getvalue() == document.path.read_bytes()

    client.set_visibility(ins, found, add={Visibility.MASKED_FROM_PS})
    masked = client.document_by_unique_id(ins, sent.unique_id)
    assert "MASQUE_PS" in masked.confidentiality_codes and masked.lid == found.lid

    new = report(tmp_path, traits, "Compte rendu corrigé")
    replaced = client.send(ins, new, replaces=masked)
    assert replaced.version == 2
    assert client.document_by_unique_id(ins, sent.unique_id).status == Status.DEPRECATED

    newest = client.document_by_unique_id(ins, replaced.unique_id)
    client.set_status(ins, newest, Status.ARCHIVED)
    assert client.document_by_unique_id(ins, replaced.unique_id).status == Status.ARCHIVED
    client.set_status(ins, client.document_by_unique_id(ins, replaced.unique_id), Status.APPROVED)
    assert client.document_by_unique_id(ins, replaced.unique_id).status == Status.APPROVED
    client.set_status(ins, client.document_by_unique_id(ins, replaced.unique_id), Status.DELETED)
    assert client.document_by_unique_id(ins, replaced.unique_id).status == Status.DELETED
    assert validate_recordings(host) > 30  # ITI-41, 18, 43, 57 and TD0.2, both ways


def test_the_two_thousand_documents_patient(card_like_client: DmpClient) -> None:
    ins, _ = patient("P01")
    recent = card_like_client.find_documents(ins)  # first search: two years, approved
    everything = card_like_client.find_documents(
        ins, FindDocuments(ins, statuses=(Status.APPROVED, Status.ARCHIVED, Status.DEPRECATED))
    )
    assert 0 < len(recent) < len(everything)
    assert len({d.unique_id for d in everything}) == len(everything)
    assert all(d.status == Status.APPROVED for d in recent)


def test_documents_need_an_open_dmp(card_like_client: DmpClient, tmp_path: Path) -> None:
    for pid, code in (("P02", "DMP-INEXISTANT"), ("P05", "DMP-FERME")):
        ins, traits = patient(pid)
        with pytest.raises(DmpNotUsable) as caught:
            card_like_client.send(ins, report(tmp_path, traits))
        assert caught.value.code == code


def test_the_ipf_sample_query_is_understood_by_the_host(card_like_client: DmpClient) -> None:
    """The IPF ITI-18 sample as published (a hostile patient id, a quoted time) and with P01's INS."""
    from app.dmp_client.core import iti18

    ins, _ = patient("P01")
    sample = ROOT / "resources" / "spec" / "samples" / "ipf" / "iti18request.xml"
    payload = etree.fromstring(sample.read_bytes())
    refused = card_like_client._exchange(
        "registry", iti18.ACTION, iti18.ACTION_RESPONSE, payload, ins, 60, idempotent=True
    )
    with pytest.raises(RegistryFailure) as caught:  # answered as an XDS error, not a crash or a fault
        iti18.parse_query_response(refused.payload)
    assert caught.value.code.startswith("DMP:XDS")
    value = payload.find(".//{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}Value")
    assert value is not None
    value.text = f"'{ins.to_cx()}'"
    response = card_like_client._exchange(
        "registry", iti18.ACTION, iti18.ACTION_RESPONSE, payload, ins, 60, idempotent=True
    )
    assert iti18.parse_query_response(response.payload).warnings == ()
