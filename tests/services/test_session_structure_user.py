"""The indirect-mode user: the VIHF's NameID and subject-id ("display name of the user, PRENOM NOM",
dmp-interface.md §VIHF) come from DMP_STRUCTURE_UTILISATEUR_ID / _NOM, and without them name the
structure: the user name is no longer the hard-coded "SECRETARIAT"."""

from __future__ import annotations

from pathlib import Path

from app.config.layers import KEYS
from app.config.settings import Settings
from app.services.session import DmpSession, StructureLogin
from tests.test_config import load


def _real_structure(pki: Path, **extra: str) -> dict[str, str]:
    return {
        "DMP_SANDBOX_DIR": str(pki.parent),  # the trust bundle only: the structure below is "real"
        "DMP_STRUCTURE_CERT_AUTH": str(pki / "structure-auth.pem"),
        "DMP_STRUCTURE_CLE_AUTH": str(pki / "structure-auth.key"),
        "DMP_STRUCTURE_CERT_SIGN": str(pki / "structure-sign.pem"),
        "DMP_STRUCTURE_CLE_SIGN": str(pki / "structure-sign.key"),
        "DMP_STRUCTURE_ID": "1990000017",
        "DMP_STRUCTURE_NOM": "CLINIQUE REELLE",
        "DMP_STRUCTURE_AUTEUR": "899900063480|JEAN|MARTIN|G15_10/SM26",
        **extra,
    }


def test_the_keys_are_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in ("DMP_STRUCTURE_UTILISATEUR_ID", "DMP_STRUCTURE_UTILISATEUR_NOM"):
        assert name in KEYS and f"`{name}`" in text


def test_the_configured_user_is_the_vihf_subject(pki_dir: Path, tmp_path: Path) -> None:
    environ = _real_structure(
        pki_dir / "pki",
        DMP_STRUCTURE_UTILISATEUR_ID="1990000017/u42",
        DMP_STRUCTURE_UTILISATEUR_NOM="ANNE MOREAU",
    )
    settings = Settings.load(load(tmp_path, environ))
    with DmpSession(settings) as session:
        connection = session.connect(StructureLogin())
        actor = session.client.session.actor
        assert (actor.national_id, actor.display_name) == ("1990000017/u42", "ANNE MOREAU")
        assert connection.display_name == "ANNE MOREAU" and connection.structure == "CLINIQUE REELLE"


def test_without_the_setting_the_structure_is_named(pki_dir: Path, tmp_path: Path) -> None:
    settings = Settings.load(load(tmp_path, _real_structure(pki_dir / "pki")))
    assert settings.structure is not None
    assert settings.structure.user_name == "CLINIQUE REELLE" != "SECRETARIAT"
    assert settings.structure.user_id == "1990000017/secretariat"
    environ = _real_structure(pki_dir / "pki")
    del environ["DMP_STRUCTURE_NOM"]
    unnamed = Settings.load(load(tmp_path, environ))
    assert unnamed.structure is not None and unnamed.structure.user_name == "1990000017"
