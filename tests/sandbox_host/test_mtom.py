"""MTOM on the wire: chunked bodies, recording, hostile or malformed multipart bodies."""

from __future__ import annotations

import pytest

from sandbox.host.server import DmpHost
from tests.sandbox_host import xdskit as k
from tests.sandbox_host.conftest import Connect
from tests.sandbox_host.test_feed import PNR, feed_for

SOAP_FAULT = "{http://www.w3.org/2003/05/soap-envelope}Fault"


def test_chunked_mtom_feed_and_recording(connect: Connect, host: DmpHost) -> None:
    client = connect("generaliste")
    feed = feed_for(client, k.DocSpec())
    content_type, body = k.mtom_body(client.envelope(PNR, feed.payload), feed.attachments)
    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    response = client.http.post(
        client.base + "repository", content=chunks, headers={"Content-Type": content_type}
    )
    answer = k.parse_answer(response.status_code, response.headers["content-type"], response.content)
    assert answer.payload.get("status") == k.SUCCESS, answer.contexts()
    folder = host.config.record_dir
    assert folder is not None
    (request,) = folder.glob("*-requete.mime")
    (reply,) = folder.glob("*-reponse.mime")
    assert request.read_bytes() == body and reply.read_bytes() == response.content


def test_registry_answers_plain_soap_and_repository_faults_are_mtom(connect: Connect) -> None:
    client = connect("generaliste")
    answer = client.raw("repository", b"<pas-du-soap/>", "application/soap+xml")
    assert answer.status == 500 and answer.content_type.startswith("multipart/related")
    assert answer.envelope.find(f".//{SOAP_FAULT}") is not None


def _mtom(
    client: k.HostClient, envelope: bytes, attachments: dict[str, tuple[str, bytes]]
) -> tuple[str, bytes]:
    return k.mtom_body(envelope, attachments)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda ct, body: (ct, body.replace(b"--MIMEBoundary_t--", b"")),  # no closing delimiter
        lambda ct, body: (ct.replace('type="application/xop+xml"', 'type="text/xml"'), body),
        lambda ct, body: (ct.replace("root.message@test", "ailleurs@test"), body),  # start not found
        lambda ct, body: (ct.replace('boundary="MIMEBoundary_t"', 'boundary=""'), body),
        lambda ct, body: (ct, body.replace(b"Content-ID: <Document01@test>", b"Content-ID: <sig@test>")),
        lambda ct, body: (ct, body.replace(b"\r\n\r\n", b"\r\n", 1)),  # root headers never end
    ],
)
def test_malformed_mtom_is_a_fault(connect: Connect, mangle: object) -> None:
    client = connect("generaliste")
    feed = feed_for(client, k.DocSpec())
    content_type, body = k.mtom_body(client.envelope(PNR, feed.payload), feed.attachments)
    content_type, body = mangle(content_type, body)  # type: ignore[operator]
    answer = client.raw("repository", body, content_type)
    assert answer.status == 500
    assert b"DMPInvalidRequest" in answer.raw


def test_unknown_cid_and_hostile_root_part(connect: Connect) -> None:
    client = connect("generaliste")
    feed = feed_for(client, k.DocSpec())
    feed.attachments["autre@test"] = feed.attachments.pop("Document01@test")
    answer = client.post("repository", PNR, feed.payload, feed.attachments)
    assert answer.errors() == ["XDSMissingDocument"]
    hostile = b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>'
    content_type, body = k.mtom_body(hostile, {})
    answer = client.raw("repository", body, content_type)
    assert answer.status == 500 and b"root:" not in answer.raw and b"DMPInvalidRequest" in answer.raw


def test_hostile_cda_is_refused(connect: Connect) -> None:
    client = connect("generaliste")
    spec = k.DocSpec()
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3">&x;</ClinicalDocument>'
    )
    answer = client.post("repository", PNR, *_feed_parts(client, spec, hostile))
    assert answer.errors() == ["XDSRepositoryMetadataError"] and b"root:" not in answer.raw


def _feed_parts(
    client: k.HostClient, spec: k.DocSpec, cda: bytes
) -> tuple[object, dict[str, tuple[str, bytes]]]:
    feed = feed_for(client, spec, cdas=[cda])
    return feed.payload, feed.attachments


def test_body_over_the_limit_is_413(connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.host import server

    monkeypatch.setattr(server, "MAX_BODY", 1000)
    client = connect("generaliste")
    response = client.http.post(
        client.base + "repository", content=b"x" * 2000, headers={"Content-Type": "application/soap+xml"}
    )
    assert response.status_code == 413
