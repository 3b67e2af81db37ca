"""VIHF reuse across requests (app/dmp_client/exchange.py ``_vihf``).

[UNSURE] dmp-interface.md §4.1 (official examples [PKG-EX]): the assertion carries an ``IssueInstant``
and ``AuthnInstant`` but "no SubjectConfirmation and no Conditions" — no validity window — and no
reference document says whether the DMP accepts one signed assertion on several requests. So reuse is
off by default (one VIHF built and signed per request) and configurable
(``DMP_VIHF_REUTILISATION_S``); when on, a VIHF is reused only for the very same context: never for
another patient (resource-id), access mode (purposeofuse), authentication mode or situation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from lxml import etree

from app.config.layers import KEYS
from app.dmp_client.client import DmpClient
from app.dmp_client.core import vihf as vihf_module
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.ns import HL7V3, SAML2
from app.services.training import sandbox_patient
from sandbox.host.server import DmpHost
from tests.host_fixture import DirectClient


def _ins(pid: str) -> Any:
    patient = sandbox_patient(pid)
    assert patient is not None
    return patient.ins


def _record(client: DmpClient, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[etree._Element]]:
    """Count the VIHFs built and keep every VIHF put in an envelope."""
    built = [0]
    sent: list[etree._Element] = []
    real_build = vihf_module.build_signed_vihf

    def counting(*args: Any, **kwargs: Any) -> etree._Element:
        built[0] += 1
        return real_build(*args, **kwargs)

    monkeypatch.setattr(vihf_module, "build_signed_vihf", counting)
    real_vihf = client._vihf

    def keeping(build: Any, patient: Any) -> etree._Element:
        element = real_vihf(build, patient)
        sent.append(etree.fromstring(etree.tostring(element)))
        return element

    client._vihf = keeping  # type: ignore[method-assign]
    return built, sent


def _attribute(assertion: etree._Element, name: str) -> str:
    for node in assertion.iter(f"{{{SAML2}}}Attribute"):
        if node.get("Name") == name:
            value = node.find(f"{{{SAML2}}}AttributeValue")
            assert value is not None
            coded = value.find(f"{{{HL7V3}}}PurposeOfUse")
            return coded.get("code", "") if coded is not None else (value.text or "")
    raise AssertionError(name)


def test_the_default_is_one_vihf_per_request(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert KEYS["DMP_VIHF_REUTILISATION_S"].default == "0"
    client = direct_client(host, "generaliste")
    assert client.vihf_reuse_seconds == 0
    built, sent = _record(client, monkeypatch)
    client.status(_ins("P01"))
    client.status(_ins("P01"))
    assert built[0] == 2
    assert sent[0].get("ID") != sent[1].get("ID")


def test_built_as_the_official_examples_no_validity_window(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dmp-interface.md §4.1: "The examples have no SubjectConfirmation and no Conditions": nothing in
    the assertion bounds its use, which is why reuse is [UNSURE] and off by default."""
    client = direct_client(host, "generaliste")
    _built, sent = _record(client, monkeypatch)
    client.status(_ins("P01"))
    assert sent[0].find(f"{{{SAML2}}}Conditions") is None
    assert sent[0].find(f"{{{SAML2}}}Subject/{{{SAML2}}}SubjectConfirmation") is None


def test_reused_for_the_same_context_when_configured(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = direct_client(host, "generaliste")
    client.vihf_reuse_seconds = 240.0
    built, sent = _record(client, monkeypatch)
    for _ in range(3):
        client.status(_ins("P01"))  # accepted by the host each time
    assert built[0] == 1
    assert len({s.get("ID") for s in sent}) == 1


def test_never_reused_for_another_patient_or_access_mode(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identity vigilance: a VIHF names its patient (resource-id) and its access mode (purposeofuse)."""
    client = direct_client(host, "generaliste")
    client.vihf_reuse_seconds = 240.0
    built, sent = _record(client, monkeypatch)
    client.status(_ins("P01"))
    client.status(_ins("P03"))
    assert built[0] == 2
    assert _attribute(sent[0], vihf_module.ATTR_RESOURCE_ID) == _ins("P01").to_cx()
    assert _attribute(sent[1], vihf_module.ATTR_RESOURCE_ID) == _ins("P03").to_cx()
    # The same client whose session changes access mode: a new VIHF with the new purpose.
    client.session = replace(client.session, purpose=Purpose.BREAK_GLASS)
    client.status(_ins("P01"))
    assert built[0] == 3
    assert _attribute(sent[2], vihf_module.ATTR_PURPOSE) == Purpose.BREAK_GLASS.value
    assert _attribute(sent[2], vihf_module.ATTR_RESOURCE_ID) == _ins("P01").to_cx()
    # with_purpose (the GUI's break-glass): another client, its own cache.
    urgent = client.with_purpose(Purpose.CENTRE_15)
    assert urgent.vihf_reuse_seconds == 240.0 and urgent._vihf_cache == {}


def test_rebuilt_once_the_reuse_time_is_over(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = direct_client(host, "generaliste")
    client.vihf_reuse_seconds = 60.0
    built, _sent = _record(client, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr("app.dmp_client.exchange.time.monotonic", lambda: clock[0])
    client.status(_ins("P01"))
    clock[0] += 59.0
    client.status(_ins("P01"))
    assert built[0] == 1
    clock[0] += 2.0
    client.status(_ins("P01"))
    assert built[0] == 2
