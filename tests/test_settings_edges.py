"""Settings that must do what they say: a locked empty DMP_SANDBOX_DIR means "no sandbox"; a real
structure without DMP_STRUCTURE_AUTEUR has no author (never the sandbox's fictitious one) and a send
without one names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config.layers import KEYS, SANDBOX_AUTHOR
from app.config.settings import Settings
from app.dmp_client.errors import AuthorUnknown
from app.dmp_client.factory import structure_client
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient, report
from tests.test_config import load


def test_a_locked_empty_sandbox_dir_turns_the_sandbox_off(tmp_path: Path) -> None:
    rig = tmp_path / "rig"
    config = load(tmp_path, {"DMP_SANDBOX_DIR": str(rig)}, '[verrouilles]\nDMP_SANDBOX_DIR = ""\n')
    assert config.is_locked("DMP_SANDBOX_DIR") and config.get("DMP_SANDBOX_DIR") == ""
    settings = Settings.load(config)
    assert not settings.is_sandbox
    assert settings.structure is None and settings.trust_files == ()


def test_the_sandbox_structure_keeps_its_fictitious_author(tmp_path: Path) -> None:
    settings = Settings.load(load(tmp_path, {"DMP_SANDBOX_DIR": str(tmp_path / "rig")}))
    assert settings.is_sandbox and settings.structure is not None
    assert settings.structure.author == SANDBOX_AUTHOR


def _real_structure(pki: Path) -> dict[str, str]:
    return {
        "DMP_STRUCTURE_CERT_AUTH": str(pki / "structure-auth.pem"),
        "DMP_STRUCTURE_CLE_AUTH": str(pki / "structure-auth.key"),
        "DMP_STRUCTURE_CERT_SIGN": str(pki / "structure-sign.pem"),
        "DMP_STRUCTURE_CLE_SIGN": str(pki / "structure-sign.key"),
        "DMP_STRUCTURE_ID": "1990000017",
        "DMP_STRUCTURE_NOM": "CLINIQUE REELLE",
    }


def test_a_real_structure_without_its_author_setting_has_no_author(tmp_path: Path) -> None:
    assert KEYS["DMP_STRUCTURE_AUTEUR"].default is None  # no built-in (sandbox) default
    settings = Settings.load(load(tmp_path, _real_structure(tmp_path / "pki")))
    assert settings.structure is not None and settings.structure.structure_name == "CLINIQUE REELLE"
    assert settings.structure.author is None
    configured = Settings.load(
        load(tmp_path, {**_real_structure(tmp_path / "pki"), "DMP_STRUCTURE_AUTEUR": "1|A|B|G15_10/SM04"})
    )
    assert configured.structure is not None and configured.structure.author == "1|A|B|G15_10/SM04"


def test_sending_without_an_author_names_the_setting(host: DmpHost, pki_dir: Path, tmp_path: Path) -> None:
    environ = {
        "DMP_SANDBOX_DIR": str(pki_dir),  # the sandbox's trust bundle for the test host
        "DMP_HOST_URL": f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services",
        **_real_structure(pki_dir / "pki"),
    }
    settings = Settings.load(load(tmp_path, environ))
    client = structure_client(settings)
    try:
        ins, traits = patient("P03")
        with pytest.raises(AuthorUnknown) as caught:
            client.send(ins, report(tmp_path, traits))
        assert caught.value.code == "DMP-AUTEUR"
        assert "DMP_STRUCTURE_AUTEUR" in str(caught.value)
        assert "CARDIOLOGUE" not in str(caught.value)
    finally:
        client.close()
