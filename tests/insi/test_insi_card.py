"""The INSi client in card mode on the real rig (issue 17, "Tests against the sandbox INSi host over
real mutual TLS, in card mode"): the GP's (SoftHSM) CPS in reader 0 behind pcscd and vpcd, its
authentication key signing the TLS handshake through PKCS#11 (``factory.card_tls_transport``, the
card TLS transport the DMP uses), against the rig's own INSi host (``dmp-sandbox insi serve``,
started by ``rig up`` and named by DMP_INSI_URL / DMP_INSI_IDAM). The host refuses any client
certificate not issued by the PERSONNES authority for a CPS (sandbox/insi/server.py ``caller_of``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.card import pkcs11_module
from app.card.session import CardSession
from app.config.settings import Settings
from app.dmp_client import factory
from app.dmp_client.card_tls import CardTlsTransport
from app.dmp_client.core import insi
from app.dmp_client.insi_client import InsiClient, installation_instance
from app.ins import IdentityTraits, Ins
from sandbox import cards
from sandbox.patients import SandboxPatient, load_patients
from tests.rig_fixture import Rig

pytestmark = pytest.mark.device

TEST_OID = "1.2.250.1.213.1.4.10"
UNKNOWN = IdentityTraits.parse("INCONNU-DU-REFERENTIEL", "PERSONNE", "M", "1931-01-01")


@pytest.fixture
def card(rig: Rig) -> Iterator[CardSession]:
    settings = Settings.load()
    session = CardSession(pkcs11_module.discover(settings.pkcs11_module), sandbox=settings.is_sandbox)
    try:
        session.login(lambda status: cards.CARD_PIN)
        yield session
    finally:
        session.close()


@pytest.fixture
def client(card: CardSession, tmp_path: Path) -> Iterator[tuple[InsiClient, CardTlsTransport]]:
    settings = Settings.load()
    assert settings.insi.url and settings.insi.url.startswith("https://localhost:"), "rig up exports it"
    tls = factory.card_tls_transport(settings, card, timeout=settings.insi.timeout)
    lps = (settings.software.name, settings.software.version, installation_instance(tmp_path))
    opened = InsiClient.open(
        settings.insi, tls, settings.trust_files, lps, card.professional().national_id, proxy=settings.proxy
    )
    yield opened, tls
    opened.close()


def _patient(pid: str) -> SandboxPatient:
    return next(p for p in load_patients() if p.id == pid)


def _traits(pid: str) -> IdentityTraits:
    patient = _patient(pid)
    return IdentityTraits.parse(
        patient.birth_name, patient.first_names, patient.sex, patient.birth_date, patient.birth_place
    )


def test_search_00_01_and_a_verification_with_the_card(
    client: tuple[InsiClient, CardTlsTransport],
) -> None:
    insi_client, tls = client
    traits = _traits("P03")
    found = insi_client.search(insi.TraitsSearch.first_step(traits))
    assert found.report is insi.Report.FOUND and found.identity is not None
    assert found.identity.ins == Ins.parse(_patient("P03").matricule, TEST_OID)
    assert found.identity.traits.birth_name == traits.birth_name
    none = insi_client.search(insi.TraitsSearch.first_step(UNKNOWN))
    assert none.report is insi.Report.NOT_FOUND and none.identity is None
    verified = insi_client.verify(found.identity.ins, traits)
    assert verified.outcome is insi.Verification.CONFIRMED, verified.differences
    # Every exchange over the card's TLS: one full handshake signed by the card, the connection kept.
    assert tls.full_handshakes == 1
    assert tls._idle, "the keep-alive connection is back in the card transport's pool"


def test_homonyms_answer_02_then_00_once_widened(client: tuple[InsiClient, CardTlsTransport]) -> None:
    insi_client, _ = client
    homonym = IdentityTraits.parse("MARTIN", "LOUIS PIERRE", "M", "1972-02-29")
    several = insi_client.search(insi.TraitsSearch.first_step(homonym))
    assert several.report is insi.Report.SEVERAL and several.identity is None
    result, search = insi_client.search_guided(homonym)
    assert result.report is insi.Report.FOUND and result.identity is not None
    assert search.first_names == ("LOUIS", "PIERRE")
    assert result.identity.ins == Ins.parse("172027505612395", TEST_OID)  # H01, not its homonym H02
