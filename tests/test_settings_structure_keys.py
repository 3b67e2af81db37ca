"""Encrypted structure keys: encrypted PEM and PKCS#12, their password from the system keyring only
(``dmp structure mot-de-passe`` stores it), a typed error when it is missing or wrong, and a real
connection to the sandbox host with the sandbox structure's keys re-encrypted both ways."""

from __future__ import annotations

import argparse
import dataclasses
import io
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
    pkcs12,
)

from app.cli import main as cli_main
from app.cli import structure as cli_structure
from app.config.layers import InvalidValue
from app.config.settings import Settings
from app.dmp_client.errors import StructureKeyPasswordMissing, StructureKeyPasswordWrong
from app.dmp_client.factory import structure_client
from app.dmp_client.structure_keys import is_encrypted, load_certificate, load_key_and_certificate
from app.ins import Ins
from app.store import keys as store_keys
from app.store.keys import SecretStore
from sandbox.host.server import DmpHost
from tests.host_fixture import settings_for
from tests.store.conftest import MemoryKeyring
from tests.test_config import load

PASSWORD = "cheval correct agrafe"


def _encrypted_pem(key_file: Path, target: Path, password: str = PASSWORD) -> Path:
    key = load_pem_private_key(key_file.read_bytes(), None)
    target.write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(password.encode()))
    )
    return target


def _pkcs12(key_file: Path, cert_file: Path, target: Path, password: str = PASSWORD) -> Path:
    key = load_pem_private_key(key_file.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    target.write_bytes(
        pkcs12.serialize_key_and_certificates(  # type: ignore[arg-type]
            b"structure", key, cert, None, BestAvailableEncryption(password.encode())
        )
    )
    return target


@pytest.fixture
def keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """The system keyring, in memory (the real Secret Service is exercised by the store's tests)."""
    backend = MemoryKeyring()
    monkeypatch.setattr(store_keys, "platform_backend", lambda: backend)
    return backend


@pytest.fixture
def pki(pki_dir: Path) -> Path:
    return pki_dir / "pki"


def test_an_encrypted_pem_needs_its_password(pki: Path, tmp_path: Path) -> None:
    path = _encrypted_pem(pki / "structure-sign.key", tmp_path / "sign.key")
    assert is_encrypted(path) and not is_encrypted(pki / "structure-sign.key")
    with pytest.raises(StructureKeyPasswordMissing) as missing:
        load_key_and_certificate(path, None)
    assert missing.value.code == "DMP-CLE-MOT-DE-PASSE-ABSENT" and "dmp structure mot-de-passe" in str(
        missing.value
    )
    with pytest.raises(StructureKeyPasswordWrong) as wrong:
        load_key_and_certificate(path, "pas le bon")
    assert wrong.value.code == "DMP-CLE-MOT-DE-PASSE-INCORRECT"
    key, certificate, _ = load_key_and_certificate(path, PASSWORD)
    assert certificate is None and key.public_key().public_numbers() == (
        load_pem_private_key((pki / "structure-sign.key").read_bytes(), None).public_key().public_numbers()
    )


def test_a_pkcs12_bundle_gives_its_key_and_certificate(pki: Path, tmp_path: Path) -> None:
    path = _pkcs12(pki / "structure-sign.key", pki / "structure-sign.pem", tmp_path / "sign.p12")
    assert is_encrypted(path)
    with pytest.raises(StructureKeyPasswordMissing):
        load_key_and_certificate(path, None)
    with pytest.raises(StructureKeyPasswordWrong):
        load_key_and_certificate(path, "pas le bon")
    expected = x509.load_pem_x509_certificate((pki / "structure-sign.pem").read_bytes())
    assert load_certificate(path, PASSWORD) == expected


def _structure_layers(
    tmp_path: Path, auth_key: Path, sign_key: Path, auth_cert: Path, sign_cert: Path
) -> Settings:
    return Settings.load(
        load(
            tmp_path,
            {
                "DMP_STRUCTURE_CERT_AUTH": str(auth_cert),
                "DMP_STRUCTURE_CLE_AUTH": str(auth_key),
                "DMP_STRUCTURE_CERT_SIGN": str(sign_cert),
                "DMP_STRUCTURE_CLE_SIGN": str(sign_key),
                "DMP_STRUCTURE_ID": "1990000017",
            },
        )
    )


def test_the_password_comes_from_the_keyring_and_only_for_encrypted_keys(
    pki: Path, tmp_path: Path, keyring: MemoryKeyring
) -> None:
    plain = _structure_layers(
        tmp_path, pki / "structure-auth.key", pki / "structure-sign.key", pki / "structure-auth.pem",
        pki / "structure-sign.pem",
    )  # fmt: skip
    assert plain.structure is not None and plain.structure.key_password is None
    SecretStore().set(PASSWORD)
    encrypted = _encrypted_pem(pki / "structure-auth.key", tmp_path / "auth.key")
    settings = _structure_layers(
        tmp_path,
        encrypted,
        pki / "structure-sign.key",
        pki / "structure-auth.pem",
        pki / "structure-sign.pem",
    )
    assert settings.structure is not None and settings.structure.key_password == PASSWORD


def test_a_password_in_the_environment_or_a_file_is_not_read(
    pki: Path, tmp_path: Path, keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_STRUCTURE_MOT_DE_PASSE", PASSWORD)  # not a setting: never looked at
    encrypted = _encrypted_pem(pki / "structure-auth.key", tmp_path / "auth.key")
    settings = _structure_layers(
        tmp_path,
        encrypted,
        pki / "structure-sign.key",
        pki / "structure-auth.pem",
        pki / "structure-sign.pem",
    )
    assert settings.structure is not None and settings.structure.key_password is None


@pytest.mark.parametrize("form", ["pem", "pkcs12"])
def test_a_structure_connects_with_encrypted_keys(
    host: DmpHost, pki_dir: Path, tmp_path: Path, form: str
) -> None:
    pki = pki_dir / "pki"
    base = settings_for(host, pki_dir)
    assert base.structure is not None
    if form == "pem":
        auth_key = _encrypted_pem(pki / "structure-auth.key", tmp_path / "auth.key")
        sign_key = _encrypted_pem(pki / "structure-sign.key", tmp_path / "sign.key")
        auth_cert, sign_cert = base.structure.auth_cert, base.structure.sign_cert
    else:
        auth_key = auth_cert = _pkcs12(
            pki / "structure-auth.key", pki / "structure-auth.pem", tmp_path / "auth.p12"
        )
        sign_key = sign_cert = _pkcs12(
            pki / "structure-sign.key", pki / "structure-sign.pem", tmp_path / "sign.p12"
        )
    creds = dataclasses.replace(
        base.structure, auth_key=auth_key, sign_key=sign_key, auth_cert=auth_cert, sign_cert=sign_cert
    )
    with pytest.raises(StructureKeyPasswordMissing):
        structure_client(dataclasses.replace(base, structure=creds))
    with pytest.raises(StructureKeyPasswordWrong):
        structure_client(dataclasses.replace(base, structure=dataclasses.replace(creds, key_password="non")))
    client = structure_client(
        dataclasses.replace(base, structure=dataclasses.replace(creds, key_password=PASSWORD))
    )
    try:
        status = client.admin_data(Ins.parse("256104410907756", "1.2.250.1.213.1.4.10"))
        assert status.observations["OPPOSITION_BRIS_DE_GLACE"]  # a real exchange over mutual TLS
    finally:
        client.close()
    assert not list(Path(tempfile.gettempdir()).glob("dmp-structure-*.pem"))  # nothing left


def _args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(effacer=False, **values)


def test_the_cli_stores_the_password_after_checking_it_on_the_configured_keys(
    pki: Path, tmp_path: Path, keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted = _encrypted_pem(pki / "structure-sign.key", tmp_path / "sign.key")
    settings = _structure_layers(
        tmp_path,
        pki / "structure-auth.key",
        encrypted,
        pki / "structure-auth.pem",
        pki / "structure-sign.pem",
    )
    monkeypatch.setattr(cli_structure.Settings, "load", classmethod(lambda cls, config=None: settings))
    out = io.StringIO()
    answers = iter(["pas le bon", "pas le bon"])
    with pytest.raises(StructureKeyPasswordWrong):
        cli_structure.run_password(_args(), out, out, ask=lambda _prompt: next(answers))
    assert SecretStore().get() is None  # a wrong password is never stored
    answers = iter([PASSWORD, "autre chose"])
    with pytest.raises(InvalidValue):
        cli_structure.run_password(_args(), out, out, ask=lambda _prompt: next(answers))
    answers = iter([PASSWORD, PASSWORD])
    assert cli_structure.run_password(_args(), out, out, ask=lambda _prompt: next(answers)) == 0
    assert SecretStore().get() == PASSWORD and "vérifié" in out.getvalue()
    assert cli_structure.run_password(argparse.Namespace(effacer=True), out, out) == 0
    assert SecretStore().get() is None


def test_the_password_goes_through_the_real_system_keyring(
    pki: Path, tmp_path: Path, system_keyring: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dmp structure mot-de-passe`` (prompts answered) into the sandbox's real Secret Service, then
    the settings read it back for an encrypted key."""
    encrypted = _encrypted_pem(pki / "structure-sign.key", tmp_path / "sign.key")
    settings = _structure_layers(
        tmp_path,
        pki / "structure-auth.key",
        encrypted,
        pki / "structure-auth.pem",
        pki / "structure-sign.pem",
    )
    monkeypatch.setattr(cli_structure.Settings, "load", classmethod(lambda cls, config=None: settings))
    monkeypatch.setattr(cli_structure.getpass, "getpass", lambda prompt: PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    try:
        assert cli_main(["structure", "mot-de-passe"], out, err) == 0, err.getvalue()
        monkeypatch.undo()
        again = _structure_layers(
            tmp_path,
            pki / "structure-auth.key",
            encrypted,
            pki / "structure-auth.pem",
            pki / "structure-sign.pem",
        )
        assert again.structure is not None and again.structure.key_password == PASSWORD
    finally:
        SecretStore().delete()
    assert SecretStore().get() is None
