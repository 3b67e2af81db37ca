"""The host's AIR rules (reinforced indirect authentication: a professional authenticated by
Pro Santé Connect, the VIHF signed by the structure over its ORG TLS) and the plain indirect limits.

Sources: issue 18 (EX_AIR: consultation only, directory professionals, 30 s, one request, ORG
AUTH_CLI TLS, structure signature), dmp-interface.md §3.1 and §4.3; refusals with the DMP's
``DMPAccessDeniedByRightsService`` (§12); expired / replayed VIHFs with the host's ``DMPVihfInvalid``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from app.dmp_client.core.context import (
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    AccessContext,
    Actor,
    AirAuthn,
    AuthMode,
    Code,
    Purpose,
)
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.core.soap import build_envelope
from app.dmp_client.core.vihf import build_signed_vihf
from app.ins import Ins
from sandbox import cards
from sandbox.host.air import AirRules
from sandbox.host.server import DmpHost
from tests.sandbox_host import xdskit as k
from tests.sandbox_host.conftest import SOFTWARE, Connect, Who

RSQ = "urn:ihe:iti:2007:RegistryStoredQuery"
RETRIEVE = "urn:ihe:iti:2007:RetrieveDocumentSet"
PNR = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
SET_AUTHORIZATION = "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization"
DENIED = "DMPAccessDeniedByRightsService"
P01 = k.P01  # the GP is its médecin traitant


def air_actor(key: str = "generaliste") -> Actor:
    """The professional as PSC's userinfo gives them, acting in the structure (the hospital)."""
    profile = cards.card(key)
    roles = [Code(profile.profession or "", PROFESSION_CODE_SYSTEM)]
    if profile.specialty:
        roles.append(Code(profile.specialty, SPECIALTY_CODE_SYSTEM))
    structure = cards.load_structure()
    return Actor(
        profile.national_id,
        f"{profile.given_name} {profile.surname}",
        tuple(roles),
        structure.id_nat_struct,
        structure.sector,
    )


class Air:
    """Requests in AIR mode through a structure-certificate client; each a fresh VIHF by default."""

    def __init__(self, client: k.HostClient, who: Who, actor: Actor, matricule: str = P01) -> None:
        self.client = client
        self.signer = SoftwareKeySigner(who.sign_key, who.sign_cert)
        self.context = AccessContext(
            actor, AuthMode.INDIRECT_REINFORCED, Purpose.NORMAL, Ins.parse(matricule, k.INS_OID), SOFTWARE
        )

    def vihf(self, age: float = 0.0) -> etree._Element:
        now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
        return build_signed_vihf(self.context, self.signer, now=now)

    def post(
        self, service: str, action: str, payload: etree._Element, vihf: etree._Element | None = None
    ) -> k.Answer:
        body = build_envelope(action, payload, vihf if vihf is not None else self.vihf()).body
        return self.client.raw(service, body, f'application/soap+xml; charset=UTF-8; action="{action}"')


@pytest.fixture
def air(connect: Connect) -> Air:
    client = connect("structure")
    return Air(client, client.who, air_actor())  # type: ignore[attr-defined]


def first_document(answer: k.Answer) -> etree._Element:
    entry = answer.payload.find(f".//{{{k.RIM}}}ExtrinsicObject")
    assert entry is not None, (answer.fault(), answer.errors())
    return entry


def unique_id(entry: etree._Element) -> str:
    for ident in entry.iter(f"{{{k.RIM}}}ExternalIdentifier"):
        if ident.get("identificationScheme") == "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab":
            return ident.get("value", "")
    raise AssertionError("no uniqueId")


def test_air_finds_and_retrieves_with_fresh_vihfs(air: Air, host: DmpHost) -> None:
    found = air.post("registry", RSQ, k.find_documents())
    entry = first_document(found)
    answer = air.post("repository", RETRIEVE, k.retrieve(unique_id(entry)))
    assert answer.fault() is None and answer.errors() == [] and answer.parts
    row = host.store.journal_rows(1)[0]
    assert (row["actor"], row["mode"]) == (cards.card("generaliste").national_id, "INDIRECTE_RENFORCEE")


def test_a_replayed_air_vihf_is_refused(air: Air) -> None:
    vihf = air.vihf()
    assert air.post("registry", RSQ, k.find_documents(), vihf).fault() is None
    again = air.post("registry", RSQ, k.find_documents(), vihf)
    assert again.fault() == "DMPVihfInvalid" and again.status == 500
    assert "déjà servi" in etree.tostring(again.envelope, encoding="unicode")


def test_an_air_vihf_lives_30_seconds(air: Air) -> None:
    assert air.post("registry", RSQ, k.find_documents(), air.vihf(age=25)).fault() is None
    late = air.post("registry", RSQ, k.find_documents(), air.vihf(age=31))
    assert late.fault() == "DMPVihfInvalid" and "expiré" in etree.tostring(late.envelope, encoding="unicode")
    future = air.post("registry", RSQ, k.find_documents(), air.vihf(age=-60))
    assert future.fault() == "DMPVihfInvalid"


def test_air_is_for_consultation_only(air: Air) -> None:
    feeding = air.post("repository", PNR, etree.Element(f"{{{k.XDSB}}}ProvideAndRegisterDocumentSetRequest"))
    assert feeding.fault() == DENIED
    authorisation = air.post(
        "habilitations",
        SET_AUTHORIZATION,
        etree.fromstring("<setAuthorization><action>AJOUT</action></setAuthorization>"),
    )
    assert authorisation.fault() == DENIED


def test_air_needs_the_structures_certificates(connect: Connect) -> None:
    card = connect("generaliste")  # TLS and VIHF signature with the card's keys
    mixed = Air(card, card.who, air_actor())  # type: ignore[attr-defined]
    assert mixed.post("registry", RSQ, k.find_documents()).fault() == "DMPInvalidCertificate"


def test_air_needs_a_professional_of_the_directory(connect: Connect) -> None:
    structure = connect("structure")
    who = structure.who  # type: ignore[attr-defined]
    stranger = Actor(
        "899999999999",
        "INCONNU NOUVEAU",
        (Code("10", PROFESSION_CODE_SYSTEM), Code("SM54", SPECIALTY_CODE_SYSTEM)),
        "1990000017",
        "SA01",
    )
    assert Air(structure, who, stranger).post("registry", RSQ, k.find_documents()).fault() == DENIED
    gp = air_actor()
    no_specialty = Actor(gp.national_id, gp.display_name, gp.roles[:1], gp.structure_id, gp.sector)
    assert (
        Air(structure, who, no_specialty).post("registry", RSQ, k.find_documents()).fault()
        == "DMPVihfInvalid"
    )


def test_air_applies_the_professionals_rights(connect: Connect) -> None:
    """The rights matrix is the professional's: the cardiologist is not authorised on P01."""
    structure = connect("structure")
    cardiologist = Air(structure, structure.who, air_actor("specialiste"))  # type: ignore[attr-defined]
    answer = cardiologist.post("registry", RSQ, k.find_documents())
    assert answer.fault() is None and answer.errors() == [DENIED]  # the rights matrix: an XDS error


def test_plain_indirect_may_not_search_metadata_nor_retrieve(connect: Connect) -> None:
    structure = connect("structure")
    assert structure.post("registry", RSQ, k.find_documents()).fault() == DENIED
    by_id = k.stored_query(k.GET_DOCUMENTS, "LeafClass", XDSDocumentEntryUniqueId="'1.2.3'")
    assert structure.post("registry", RSQ, by_id).fault() == DENIED
    assert structure.post("registry", RSQ, k.find_documents("ObjectRef")).fault() is None
    assert structure.post("repository", RETRIEVE, k.retrieve("1.2.3")).fault() == DENIED


def test_the_rules_are_a_host_option(connect: Connect, host: DmpHost) -> None:
    host.config.air = AirRules(enforce=False)  # the former sandbox: no AIR, indirect reads its own
    structure = connect("structure")
    assert structure.post("registry", RSQ, k.find_documents()).fault() is None
    host.config.air = AirRules(indirect_reference_object_ref_only=False, validity=60)
    assert structure.post("registry", RSQ, k.find_documents()).fault() is None
    air = Air(structure, structure.who, air_actor())  # type: ignore[attr-defined]
    # the client's own SAML Conditions (30 s by default) would expire first: none here, so that the
    # host's validity alone is what lets a 45 s old VIHF through
    air.context = dataclasses.replace(air.context, air=AirAuthn(validity_seconds=0))
    assert air.post("registry", RSQ, k.find_documents(), air.vihf(age=45)).fault() is None
