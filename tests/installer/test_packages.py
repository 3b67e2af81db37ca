"""The Windows packages (MSI with wixl, NSIS), built from a dummy payload and checked from Linux
(installer/build_packages.py): properties, policy registry rows against the keys, PE32+, signatures."""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app import __version__
from app.config.layers import KEYS

INSTALLER = Path(__file__).resolve().parents[2] / "installer"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_packages", INSTALLER / "build_packages.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


bp = _load()


def _require_tools(signing: bool = False) -> None:
    missing = bp.missing_tools(signing=signing)
    if missing:
        reason = (
            f"Debian packages missing ({', '.join(missing)}): apt-get install wixl msitools nsis osslsigncode"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Any:
    _require_tools()
    return bp.build(None, tmp_path_factory.mktemp("paquets"), environ={})


def test_msi_properties(packages: Any) -> None:
    properties = bp.table(packages.msi, "Property")
    assert packages.msi.name == f"dmp-client-{__version__}.msi"
    assert properties["UpgradeCode"] == "{E1C8DC6A-6CEE-4CBE-8E0B-6116B9A5FE0F}"
    assert properties["ProductVersion"] == bp.msi_version(__version__)
    assert properties["ALLUSERS"] == "1"
    assert properties["ProductLanguage"] == "1036"
    assert set(bp.POLICY_PROPERTIES) <= set(properties["SecureCustomProperties"].split(";"))
    assert "WIX_UPGRADE_DETECTED" in properties["SecureCustomProperties"]  # MajorUpgrade
    assert bp.summary_info(packages.msi)["Template"] == "x64;1036"
    bp.check_msi(packages.msi, __version__)


def test_msi_policy_rows_are_config_keys(packages: Any) -> None:
    """Each public property writes one locked value, named by a configuration key, only when set."""
    rows = bp.policy_rows(packages.msi)  # value name → property
    assert set(rows.values()) == set(bp.POLICY_PROPERTIES)
    assert len(set(rows.values())) == len(rows)
    assert set(rows) <= set(KEYS)
    assert {prop: key for key, prop in rows.items()} == dict(bp.POLICY_PROPERTIES)
    conditions = {row[0]: row[4] for row in bp.table_rows(packages.msi, "Component")}
    assert all(conditions[f"Politique_{prop}"] == prop for prop in bp.POLICY_PROPERTIES)


def test_msi_installs_the_bundle_per_machine(packages: Any) -> None:
    directories = {row[0]: row for row in bp.table_rows(packages.msi, "Directory")}
    assert directories["INSTALLDIR"][1:] == ["ProgramFiles64Folder", "dmp-client"]
    files = {row[2] for row in bp.table_rows(packages.msi, "File")}
    assert {"dmp.exe", "dmp-gui.exe", "python311.dll", "qwindows.dll"} <= files
    shortcut = bp.table_rows(packages.msi, "Shortcut")[0]
    assert shortcut[1:5] == ["ProgramMenuFolder", "Client DMP", "MenuDemarrer", "[#DmpGuiExe]"]
    assert all(int(row[3]) & 256 for row in bp.table_rows(packages.msi, "Component"))  # 64-bit registry view


def test_nsis_switches_are_the_msi_properties() -> None:
    text = (INSTALLER / "dmp-client.nsi").read_text(encoding="utf-8")
    switches = dict(re.findall(r"!insertmacro \$\{ACTION\} (\w+) (\w+)", text))
    assert switches == dict(bp.POLICY_PROPERTIES)
    assert set(switches.values()) <= set(KEYS)
    assert all(" /SD " in line for line in text.splitlines() if line.strip().startswith("MessageBox"))


def test_nsis_installer_is_pe32plus(packages: Any) -> None:
    assert packages.exe.name == f"dmp-client-{__version__}-setup.exe"
    bp.check_pe32plus(packages.exe)
    with pytest.raises(bp.PackagingError, match="no MZ"):
        bp.check_pe32plus(packages.msi)


def test_msi_version() -> None:
    assert bp.msi_version("0.1.0") == "0.1.0"
    assert bp.msi_version("1.2rc1") == "1.2.0"
    with pytest.raises(bp.PackagingError):
        bp.msi_version("dev")


def _code_signing_pair(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Editeur de test (jetable)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "signature.pem", folder / "signature.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_signing_round_trip(tmp_path: Path) -> None:
    _require_tools(signing=True)
    cert, key = _code_signing_pair(tmp_path)
    signed = bp.build(None, tmp_path / "dist", environ={"DMP_SIGN_CERT": str(cert), "DMP_SIGN_KEY": str(key)})
    assert signed.signed
    for package in (signed.msi, signed.exe):
        bp.verify(package, cert)  # osslsigncode verify: "Signature verification: ok"
    bp.check_pe32plus(signed.exe)
    bp.check_msi(signed.msi, signed.version)
    (tmp_path / "autre").mkdir()
    other, _ = _code_signing_pair(tmp_path / "autre")
    with pytest.raises(bp.PackagingError):
        bp.verify(signed.exe, other)  # not trusted against another certificate
