"""The lying registry (sandbox/host/lies.py) against the facade: every lie is refused with its own code,
nothing is written to the caller's sink, no update or replacement goes out."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.dmp_client.client import DmpClient
from app.dmp_client.core.errors import AlteredDocument, OtherPatientAnswer
from app.dmp_client.core.metadata import Visibility
from app.errors import DmpClientError
from sandbox.host import lies
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient, report
from tests.host_fixture import DirectClient


@pytest.fixture
def client(host: DmpHost, direct_client: DirectClient) -> DmpClient:
    return direct_client(host, "generaliste")


def _sent(client: DmpClient, tmp_path: Path):  # type: ignore[no-untyped-def]
    ins, traits = patient("P03")
    sent = client.send(ins, report(tmp_path, traits, "Compte rendu"))
    return ins, traits, sent, client.document_by_unique_id(ins, sent.unique_id)


def test_another_patients_entry_is_refused_everywhere(
    client: DmpClient, host: DmpHost, tmp_path: Path
) -> None:
    ins, traits, sent, entry = _sent(client, tmp_path)
    host.config.faults.lie = "autre-patient"
    for call in (
        lambda: client.find_documents(ins),
        lambda: client.document_by_unique_id(ins, sent.unique_id),
        lambda: client.get_documents(ins, [entry.entry_id]),
        lambda: client.send(
            ins, report(tmp_path, traits, "v2"), replaces=client.document_by_unique_id(ins, sent.unique_id)
        ),
    ):
        with pytest.raises(OtherPatientAnswer) as caught:
            call()
        assert caught.value.code == "DMP-REPONSE-AUTRE-PATIENT"
        assert "autre patient" in caught.value.user_message
    host.config.faults.lie = None
    assert client.document_by_unique_id(ins, sent.unique_id).version == "1"  # nothing replaced


def test_entry_of_another_patient_is_never_acted_on(client: DmpClient, tmp_path: Path) -> None:
    _ins, _traits, _sent_doc, entry = _sent(client, tmp_path)
    other, _ = patient("P04")
    for call in (
        lambda: client.set_visibility(other, entry, add={Visibility.MASKED_FROM_PS}),
        lambda: client.set_status(other, entry, "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"),
        lambda: client.retrieve(other, entry, io.BytesIO()),
    ):
        with pytest.raises(OtherPatientAnswer):
            call()


@pytest.mark.parametrize("mode", ["autres-octets", "document-vide"])
def test_altered_or_empty_document_is_never_written(
    client: DmpClient, host: DmpHost, tmp_path: Path, mode: str
) -> None:
    ins, traits, sent, entry = _sent(client, tmp_path)
    host.config.faults.lie = mode
    sink = io.BytesIO()
    with pytest.raises(AlteredDocument) as caught:
        client.retrieve(ins, entry, sink)
    assert caught.value.code == "DMP-DOCUMENT-ALTERE"
    assert sink.getvalue() == b""
    with pytest.raises(AlteredDocument):  # the replacement reads the old CDA first: refused too
        client.send(ins, report(tmp_path, traits, "v2"), replaces=entry)
    host.config.faults.lie = None
    assert client.document_by_unique_id(ins, sent.unique_id).version == "1"


def test_success_carrying_an_error_is_a_failure(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    """An Error-severity RegistryError under Success is a failure carrying its code (core/registry.py)."""
    ins, _traits, _sent_doc, _entry = _sent(client, tmp_path)
    host.config.faults.lie = "succes-avec-erreur"
    with pytest.raises(DmpClientError) as caught:
        client.find_documents(ins)
    assert lies.ERROR_CODE in caught.value.code or lies.ERROR_CODE in str(caught.value)


def test_soap11_children_keep_the_servers_text(client: DmpClient, host: DmpHost, tmp_path: Path) -> None:
    """A SOAP 1.2 Fault with SOAP 1.1 children keeps the host's text (core/soap.py)."""
    ins, _traits, _sent_doc, _entry = _sent(client, tmp_path)
    host.config.faults.lie = "faute-soap11"
    with pytest.raises(DmpClientError) as caught:
        client.find_documents(ins)
    assert lies.FAULT_TEXT in str(caught.value)
