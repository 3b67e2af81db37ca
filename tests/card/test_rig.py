"""Integration: the real pcscd + vpcd readers, SoftHSM2 CPS tokens, and the dmp commands."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from app.card.errors import CardRemoved
from app.card.pcsc import CardEvent, ReaderMonitor
from app.card.session import CardSession, wait_for
from tests.rig_fixture import Rig, tool

pytestmark = pytest.mark.device


def dmp(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("dmp"), *args], input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


def test_rig_comes_up_in_under_a_minute(rig: Rig) -> None:
    assert rig.seconds < 60


def test_rig_runs_a_private_secret_service_for_the_store_key(rig: Rig) -> None:
    assert rig.env["DMP_STORE_DIR"] == str(rig.folder / "store")
    address = rig.env["DBUS_SESSION_BUS_ADDRESS"]
    assert address.startswith("unix:path=") and Path(address.removeprefix("unix:path=")).is_socket()
    code = "import keyring; keyring.set_password('dmp-rig-test', 'cle', 'v'); b = keyring.get_keyring(); "
    code += "print(type(b).__module__, keyring.get_password('dmp-rig-test', 'cle')); "
    code += "keyring.delete_password('dmp-rig-test', 'cle')"
    env = dict(os.environ, **rig.env)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["keyring.backends.SecretService", "v"]


def test_readers_and_card_kinds(rig: Rig) -> None:
    done = dmp("card", "readers")
    assert done.returncode == 0
    assert "Virtual PCD 00 00 : CPS3 virtuelle (bac à sable)" in done.stdout
    assert "Virtual PCD 00 01 : Vitale virtuelle (bac à sable)" in done.stdout


def test_card_info_shows_identity_and_situations(rig: Rig) -> None:
    done = dmp("card", "info", "--pin-stdin", stdin="1234\n")
    assert done.returncode == 0, done.stderr
    assert "titulaire : CLAIRE MEDECIN-GENERALISTE" in done.stdout
    assert "identifiant national : 899900012341" in done.stdout
    assert "profession : Médecin (10)" in done.stdout and "spécialité : SM54" in done.stdout
    assert "structure 499900012341001, secteur SA07" in done.stdout
    assert "structure 1990000017, secteur SA01" in done.stdout
    assert "Code porteur (3 essais restants)." in done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert not any(line.strip() == "1234" or line.endswith(": 1234") for line in lines)  # PIN never echoed


def test_wrong_pin_is_reported_with_tries_and_not_retried(rig: Rig) -> None:
    done = dmp("card", "info", "--pin-stdin", stdin="0000\n1234\n")
    assert done.returncode == 2
    assert "Code porteur incorrect" in done.stderr and "CARTE-CODE-FAUX" in done.stderr
    assert done.stderr.count("Code porteur (") == 1  # asked once, never again by itself
    assert "situations d'exercice" not in done.stdout


def test_cps4_card_pairs_keys_by_certificate_usage(cards_reset: Rig) -> None:
    cards_reset.insert(0, "cps:specialiste")
    done = dmp("card", "info", "--pin-stdin", stdin="1234\n")
    assert done.returncode == 0, done.stderr
    assert "PAUL CARDIOLOGUE" in done.stdout and "spécialité : SM04" in done.stdout


def test_signature_on_the_card_with_a_key_that_never_leaves_it(rig: Rig) -> None:
    session = CardSession(rig.env["DMP_PKCS11_MODULE"], sandbox=True)
    try:
        session.login(lambda status: "1234")
        data = b"<saml2:Assertion>VIHF</saml2:Assertion>"
        signature = session.sign(data)
        certificate = session.call(session.token.signature_certificate)
        certificate.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]
    finally:
        session.close()
    token = pkcs11.lib(rig.env["DMP_PKCS11_MODULE"]).get_token(token_label="CPS 8000000101")
    with token.open(user_pin="1234") as raw:
        for label in ("CPS_PRIV_SIG", "CPS_PRIV_AUT"):
            key = raw.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
            assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                key[pkcs11.Attribute.PRIVATE_EXPONENT]


def test_card_pulled_out_mid_operation_is_reported_within_a_second(cards_reset: Rig) -> None:
    session = CardSession(cards_reset.env["DMP_PKCS11_MODULE"], sandbox=True)
    pulled_at: list[float] = []

    def pull() -> None:
        time.sleep(0.3)
        subprocess.run(cards_reset.command("card", "remove", "0"), check=True)
        pulled_at.append(time.monotonic())

    puller = threading.Thread(target=pull)
    try:
        session.login(lambda status: "1234")
        puller.start()
        with pytest.raises(CardRemoved):
            session.call(time.sleep, 3)  # stands for a slow signature on a real card
        reported_at = time.monotonic()
        puller.join()
        assert reported_at - pulled_at[0] < 1.0
        assert session.ended
        with pytest.raises(CardRemoved):
            session.sign(b"after removal")
    finally:
        session.close(wait=True)  # the token's sessions are closed once the slow call returns


def test_monitor_reports_insertion_and_removal(cards_reset: Rig) -> None:
    events: list[tuple[str, CardEvent]] = []
    monitor = ReaderMonitor(lambda reader, event, atr: events.append((reader, event)))
    monitor.start()
    try:
        cards_reset.remove(1)
        assert wait_for(lambda: ("Virtual PCD 00 01", CardEvent.REMOVED) in events, 2.0)
        cards_reset.insert(1, "vitale:P03")
        assert wait_for(lambda: ("Virtual PCD 00 01", CardEvent.INSERTED) in events, 2.0)
    finally:
        monitor.stop()


def test_vitale_read_gives_beneficiaries_and_insc(rig: Rig) -> None:
    done = dmp("vitale", "read")
    assert done.returncode == 0, done.stderr
    assert "2 bénéficiaire(s)" in done.stdout
    assert "rang 1 : PETIT ELODIE" in done.stdout and "alimenter) : 0032968080398025420195" in done.stdout
    assert "rang 2 : PETIT LUCAS" in done.stdout and "pas d'INS-C" in done.stdout


def test_no_vitale_card_is_a_clear_error(cards_reset: Rig) -> None:
    cards_reset.remove(1)
    done = dmp("vitale", "read")
    assert done.returncode == 2 and "Aucune carte Vitale" in done.stderr


def test_no_cps_in_reader(cards_reset: Rig) -> None:
    cards_reset.remove(0)
    time.sleep(0.5)
    done = dmp("card", "info", "--pin-stdin", stdin="1234\n")
    assert done.returncode == 2 and "CARTE-ABSENTE" in done.stderr


def test_missing_middleware_is_a_clear_error(rig: Rig) -> None:
    done = dmp("card", "info", "--module", "/nonexistent/libcps3_pkcs11_lux.so")
    assert done.returncode == 2 and "CARTE-MODULE-ABSENT" in done.stderr
