"""End to end in direct mode on the real rig: TLS and VIHF signed on the (SoftHSM) card.

The rig's host runs as its own process (``dmp-sandbox serve``); the commands are run as a user
would run them.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509

from app.card.session import CardSession
from app.card.signer import CardSigner
from app.config.settings import Settings
from app.dmp_client.core.cda import extract_body
from app.dmp_client.core.errors import SoapFault
from app.dmp_client.factory import card_client
from app.ins import Ins
from sandbox.patients import load_patients
from tests.identity_helpers import qualify_in_child
from tests.rig_fixture import Rig, tool

pytestmark = pytest.mark.device
P04 = next(p.matricule for p in load_patients() if p.id == "P04")
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def dmp(*args: str, stdin: str = "1234\n") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("dmp"), *args], input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


def test_status_as_the_treating_doctor(rig: Rig) -> None:
    done = dmp("status", "--ins", "150081505104018", "--pin-stdin")
    assert done.returncode == 0, done.stderr
    assert "DMP : actif" in done.stdout and "Autorisation : oui (VALIDE)" in done.stdout
    assert "Médecin traitant DMP : oui" in done.stdout


def test_authorise_then_withdraw(rig: Rig) -> None:
    assert "Autorisation : non" in dmp("status", "--ins", "256104410907756", "--pin-stdin").stdout
    added = dmp("authorize", "--ins", "256104410907756", "--pin-stdin")
    assert added.returncode == 0 and "Autorisation enregistrée (DMPOk)" in added.stdout
    assert "Autorisation : oui" in dmp("status", "--ins", "256104410907756", "--pin-stdin").stdout
    removed = dmp("authorize", "--ins", "256104410907756", "--retirer", "--pin-stdin")
    assert removed.returncode == 0 and "supprimée" in removed.stdout


def test_authorisation_on_a_closed_dmp_is_refused(rig: Rig) -> None:
    done = dmp("authorize", "--ins", "169039924304295", "--pin-stdin")
    assert done.returncode == 2 and "DMPClosed" in done.stderr


def test_second_situation_of_the_card(rig: Rig) -> None:
    done = dmp("status", "--ins", "150081505104018", "--situation", "2", "--pin-stdin")
    assert done.returncode == 0, done.stderr
    missing = dmp("status", "--ins", "150081505104018", "--situation", "3", "--pin-stdin")
    assert missing.returncode == 2 and "CARTE-SITUATION" in missing.stderr


class AuthKeySigner:
    """A mistaken signer: the card's authentication key and certificate instead of the signature ones."""

    def __init__(self, card: CardSession) -> None:
        self._card = card
        self.certificate: x509.Certificate = card.call(card.token.authentication_certificate)

    def sign(self, data: bytes) -> bytes:
        return self._card.authenticate(SHA256_PREFIX + hashlib.sha256(data).digest())


def test_vihf_signed_with_the_card_authentication_key_is_refused_as_the_real_host_does(rig: Rig) -> None:
    client, card = card_client(Settings.load(), lambda status: "1234")
    try:
        ins = Ins.parse("150081505104018", "1.2.250.1.213.1.4.10")
        assert client.status(ins).authorized
        client.signer = AuthKeySigner(card)
        with pytest.raises(SoapFault) as caught:
            client.status(ins)
        assert caught.value.subcode == "DMPInvalidCertificate"
        assert "Not a valid signature certificate" in caught.value.user_message
        client.signer = CardSigner(card)
        roles = tuple(r for r in client.session.actor.roles if r.code_system != "1.2.250.1.71.4.2.5")
        client.session = replace(client.session, actor=replace(client.session.actor, roles=roles))
        with pytest.raises(SoapFault, match="Aucune spécialité"):
            client.status(ins)
    finally:
        client.close()
        card.close()


def test_host_journal_records_who_did_what(rig: Rig) -> None:
    dmp("status", "--ins", "150081505104018", "--pin-stdin")
    journal = subprocess.run(
        rig.command("journal", "--nombre", "5"), capture_output=True, text=True, check=True
    )
    assert "899900012341 DIRECTE normal TD0.2 OK" in journal.stdout


def test_demo_runs_end_to_end_on_the_rig(rig: Rig) -> None:
    done = subprocess.run([tool("dmp"), "demo"], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7/7 identité(s) vérifiée(s)." in done.stdout
    assert "CPS : CLAIRE MEDECIN-GENERALISTE" in done.stdout
    assert "TD0.2 P03 : DMP actif, autorisé : oui, médecin traitant : oui" in done.stdout
    assert "TD0.2 P02 : DMP aucun DMP" in done.stdout
    assert "6 échanges réussis." in done.stdout
    assert "PDF identique octet pour octet" in done.stdout
    assert "Parcours principal réussi." in done.stdout


def test_documents_with_the_card_from_the_command_line(rig: Rig, tmp_path: Path) -> None:
    """Send (a 3 MB report: several TLS records each way), find, retrieve and archive with the card."""
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024) + b"\n%%EOF\n")
    qualify_in_child(dict(os.environ), "P04")  # only a qualifiée identity feeds
    sent = dmp("send", str(pdf), "--patient", "P04", "--type", "11488-4", "--titre", "Bilan", "--pin-stdin",
               "--trace", str(tmp_path / "trace"))  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    unique_id = sent.stdout.strip().rsplit(" ", 1)[-1]
    found = dmp("find", "--ins", P04, "--pin-stdin")
    assert found.returncode == 0 and unique_id in found.stdout and "Bilan" in found.stdout
    got = dmp(
        "get", "--ins", P04, "--document", unique_id, "--sortie", str(tmp_path / "cda.xml"), "--pin-stdin"
    )
    assert got.returncode == 0, got.stderr
    back = io.BytesIO()
    with (tmp_path / "cda.xml").open("rb") as cda:
        assert extract_body(cda, back) == "application/pdf"
    assert back.getvalue() == pdf.read_bytes()
    archived = dmp("archive", "--ins", P04, "--document", unique_id, "--pin-stdin")
    assert archived.returncode == 0 and "archivé" in archived.stdout
    assert any(p.name.endswith("-repository-requete.txt") for p in (tmp_path / "trace").iterdir())


def test_administrative_transactions_with_the_card(rig: Rig) -> None:
    """TD1.3a, TD1.6, TD0.4 and the médecin traitant role of TD0.3 as a user runs them, on the card."""
    admin = dmp("admin", "--ins", P04, "--pin-stdin")
    assert admin.returncode == 0 and "rattaché à Mon espace santé : oui" in admin.stdout, admin.stderr
    listed = dmp("authorizations", "--ins", P04, "--pin-stdin")
    assert listed.returncode == 0 and "899900012341" in listed.stdout, listed.stderr
    dmps = dmp("list-dmps", "--depuis", "2000-01-01", "--pin-stdin")
    assert dmps.returncode == 0 and "(médecin traitant)" in dmps.stdout, dmps.stderr
    assert not any(p.birth_name in dmps.stdout for p in load_patients())  # no DMP traits (RG_0320)
    declared = dmp("authorize", "--ins", P04, "--medecin-traitant", "--pin-stdin")
    assert declared.returncode == 0 and "Déclaration de médecin traitant enregistrée" in declared.stdout
