"""The client's INSi searches against the sandbox's INSi host, over real mutual TLS.

The two were written apart from the published WSDL, XSDs and example answers (client:
app/dmp_client/core/insi.py and insi_client.py; host: sandbox/insi/, which imports nothing from
``app``): this is where they are made to agree, with the structure's ORG certificate and with a
card-shaped certificate of the GP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.dmp_client.core import insi
from app.dmp_client.insi_client import InsiClient, InsiSettings
from app.dmp_client.transport import Endpoint, client_context
from app.ins import BirthDate, IdentityTraits, Ins
from app.ins.traits import parse_sex
from app.services.training import sandbox_patient
from sandbox.insi.server import InsiConfig, InsiHost, serve_in_thread

PATIENTS = ("P01", "P02", "P03", "P04", "P05", "P06", "P07")
CHANGED = "P07"  # the host's referential has her traits changed (sandbox/data/insi.json)
INSTANCE = str(uuid.UUID(int=7))


@pytest.fixture
def insi_host(pki_dir: Path) -> Iterator[InsiHost]:
    host = InsiHost(("127.0.0.1", 0), InsiConfig(pki_dir / "pki"))
    serve_in_thread(host)
    yield host
    host.shutdown()
    host.server_close()


def _client(host: InsiHost, pki_dir: Path, cert: Path, key: Path, emitter: str) -> InsiClient:
    pki = pki_dir / "pki"
    trust = (pki / "trust-bundle.pem",)
    tls = client_context(Endpoint("unused", trust), cert, key)
    url = f"https://localhost:{host.server_address[1]}/lps"
    return InsiClient.open(
        InsiSettings(url, "BAC-A-SABLE", 10.0), tls, trust, ("ClientDMP", "1.0.0", INSTANCE), emitter
    )


@pytest.fixture
def structure(insi_host: InsiHost, pki_dir: Path) -> Iterator[InsiClient]:
    pki = pki_dir / "pki"
    client = _client(insi_host, pki_dir, pki / "structure-auth.pem", pki / "structure-auth.key", "1990000017")
    yield client
    client.close()


@pytest.mark.parametrize("pid", PATIENTS)
def test_every_sandbox_patient_is_found_with_the_ins_the_sandbox_gives(
    structure: InsiClient, pid: str
) -> None:
    patient = sandbox_patient(pid)
    assert patient is not None and patient.traits is not None
    result, _ = structure.search_guided(patient.traits)
    assert result.report is insi.Report.FOUND and result.identity is not None
    assert result.identity.ins == patient.ins  # same matricule, test OID 1.2.250.1.213.1.4.10
    assert result.identity.traits.birth_name == patient.traits.birth_name
    verified = structure.verify(patient.ins, patient.traits)
    if pid == CHANGED:  # a first name added, the birthplace corrected: told, with what differs
        assert verified.outcome is insi.Verification.MISMATCH
        assert set(verified.differences) == {"prénoms de naissance", "lieu de naissance"}
    else:
        assert verified.outcome is insi.Verification.CONFIRMED, verified.differences


def test_homonyms_02_then_found_by_the_prescribed_next_step(structure: InsiClient) -> None:
    # The host's homonyms MARTIN LOUIS (sandbox/data/insi.json): 02 on the first birth first name,
    # 00 once the other first names are sent (the client's guided search does it by itself).
    traits = IdentityTraits("MARTIN", ("LOUIS", "PIERRE"), parse_sex("M"), BirthDate.parse("1972-02-29"))
    first = structure.search(insi.TraitsSearch.first_step(traits))
    assert first.report is insi.Report.SEVERAL and first.next_step is not None
    result, search = structure.search_guided(traits)
    assert result.report is insi.Report.FOUND and search.first_names == ("LOUIS", "PIERRE")


def test_an_unknown_person_is_01_with_its_next_step(structure: InsiClient) -> None:
    traits = IdentityTraits("INCONNU", ("PERSONNE",), parse_sex("F"), BirthDate.parse("1999-01-01"))
    result = structure.search(insi.TraitsSearch.first_step(traits))
    assert result.report is insi.Report.NOT_FOUND and result.next_step is insi.NextStep.OTHER_CRITERIA


def test_another_ins_held_for_these_traits_is_not_confirmed(structure: InsiClient) -> None:
    p01, p03 = sandbox_patient("P01"), sandbox_patient("P03")
    assert p01 is not None and p03 is not None and p01.traits is not None
    verified = structure.verify(p03.ins, p01.traits)
    assert verified.outcome is insi.Verification.MISMATCH


def test_a_card_shaped_certificate_of_the_gp_is_accepted(
    insi_host: InsiHost, pki_dir: Path, card_keys: dict[str, tuple[Path, Path, object]]
) -> None:
    tls_cert, tls_key, _ = card_keys["generaliste"]
    client = _client(insi_host, pki_dir, tls_cert, tls_key, "899900012341")
    try:
        patient = sandbox_patient("P04")
        assert patient is not None and patient.traits is not None
        result, _ = client.search_guided(patient.traits)
    finally:
        client.close()
    assert result.report is insi.Report.FOUND and result.identity is not None
    assert isinstance(result.identity.ins, Ins) and result.identity.ins == patient.ins
