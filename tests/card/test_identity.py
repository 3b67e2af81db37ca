"""The professional's identity from certificates and data objects (sandbox layout, sandbox PKI)."""

from __future__ import annotations

import pytest

from app.card.errors import CardDataError
from app.card.identity import (
    is_authentication_certificate,
    is_signature_certificate,
    professional_from,
    situation_from,
)
from sandbox import cards, pki


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca("TEST AC IGC-SANTE FORT PERSONNES", pki.make_ca("TEST AC RACINE IGC-SANTE FORT"))


@pytest.mark.parametrize("key", ["generaliste", "specialiste", "infirmier", "pharmacien", "secretaire"])
def test_every_sandbox_card_reads_back(key: str, ca: pki.Issued) -> None:
    profile = cards.card(key)
    subject = pki.card_subject(
        profile.national_id, profile.surname, profile.given_name, profile.profession_label
    )
    key_pair = pki.new_key()
    auth = pki.card_auth_certificate(subject, key_pair.public_key(), ca)
    sign = pki.card_sign_certificate(subject, key_pair.public_key(), ca)
    assert is_authentication_certificate(auth) and not is_signature_certificate(auth)
    assert is_signature_certificate(sign) and not is_authentication_certificate(sign)
    objects = {label: value for label, value, _ in cards.data_objects(profile)}
    who = professional_from(auth, objects["CPS_ID_CARD"], objects["CPS_NAME_PS"], objects["CPS_INFO_PS"])
    assert (who.national_id, who.surname, who.given_name) == (
        profile.national_id,
        profile.surname,
        profile.given_name,
    )
    assert (who.profession_code, who.specialty_code, who.role) == (
        profile.profession,
        profile.specialty,
        profile.role,
    )
    assert (who.card_type, who.card_serial) == (profile.card_type, profile.serial)
    situations = [situation_from(label, value) for label, value in objects.items() if "ACTIVITY" in label]
    assert [(s.structure_id, s.sector) for s in situations] == [
        (s.structure_id, s.sector) for s in profile.situations
    ]


def test_identity_falls_back_on_the_certificate(ca: pki.Issued) -> None:
    subject = pki.card_subject("899900012341", "DURAND", "ANNE", "Médecin")
    cert = pki.card_auth_certificate(subject, pki.new_key().public_key(), ca)
    who = professional_from(cert, None, None, None)
    assert (who.national_id, who.surname, who.given_name, who.profession_label) == (
        "899900012341",
        "DURAND",
        "ANNE",
        "Médecin",
    )


def test_data_objects_must_agree_with_the_certificate(ca: pki.Issued) -> None:
    profile = cards.card("generaliste")
    subject = pki.card_subject("899900099999", profile.surname, profile.given_name, "Médecin")
    cert = pki.card_auth_certificate(subject, pki.new_key().public_key(), ca)
    with pytest.raises(CardDataError):
        professional_from(cert, None, cards.name_object(profile), None)


@pytest.mark.parametrize(
    "value",
    [
        cards.tlv(0x84, b"CABINET") + cards.tlv(0x86, b"SA07"),  # no structure id
        cards.tlv(0x85, b"499900012341001"),  # no sector
        b"\x85\x10abc",  # truncated
        cards.tlv(0x85, b"\xff\xfe") + cards.tlv(0x86, b"SA07"),  # not UTF-8
    ],
)
def test_malformed_situations_are_refused(value: bytes) -> None:
    with pytest.raises(CardDataError):
        situation_from("CPS_ACTIVITY_01_PS", value)
