"""Layered configuration (app/config/layers.py): precedence, locking, the user's file, policy errors.

Every test names its files under tmp_path and passes an explicit environment: nothing depends on the
machine's /etc, registry or home folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config.layers import (
    KEYS,
    Config,
    ConfigError,
    InvalidValue,
    Kind,
    LockedSetting,
    PolicyError,
    PolicySections,
    Source,
    UserSettingsError,
    check_value,
    user_file_text,
)
from app.config.settings import Settings
from app.errors import DmpClientError
from app.store.cache import CachePolicy
from app.store.local_store import StoreSettings
from app.store.sender import Policy

HOST = "DMP_HOST_URL"
NO_REGISTRY = PolicySections({}, {})


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def policy(tmp_path: Path, defaults: str = "", locked: str = "") -> Path:
    return write(tmp_path / "policy.toml", f"[defauts]\n{defaults}\n[verrouilles]\n{locked}\n")


def load(
    tmp_path: Path,
    environ: dict[str, str] | None = None,
    policy_text: str = "",
    user_text: str | None = None,
    registry: PolicySections = NO_REGISTRY,
) -> Config:
    user = tmp_path / "user" / "reglages.toml"
    if user_text is not None:
        user.parent.mkdir(exist_ok=True)
        write(user, user_text)
    policy_file = write(tmp_path / "policy.toml", policy_text)
    return Config.load(environ=environ or {}, policy_file=policy_file, user_file=user, registry=registry)


def test_no_policy_no_user_file_is_todays_behaviour(tmp_path: Path) -> None:
    config = load(tmp_path)
    settings = Settings.load(config)
    # Outside sandbox mode the host and the homologation number have no default (issue 15).
    assert settings.host_url == ""
    assert (settings.software.name, settings.software.homologation) == ("Client DMP", "")
    assert settings.sender_oid == "1.2.250.1.999.42.1"
    assert (settings.pkcs11_module, settings.proxy, settings.structure, settings.is_sandbox) == (
        None,
        None,
        None,
        False,
    )
    assert settings.trust_files == ()
    store = settings.store
    assert store.cache == CachePolicy() and store.retry == Policy()
    assert store.folder == Path(platformdirs.user_data_dir("dmp-client", appauthor=False, roaming=False))
    assert {config.source(key) for key in KEYS} == {Source.DEFAULT} and not config.locked_keys()


def test_environment_as_today(tmp_path: Path) -> None:
    environ = {
        "DMP_SANDBOX_DIR": str(tmp_path / "rig"),
        "DMP_TRUST_FILES": os.pathsep.join(["/a.pem", "/b.pem"]),
        "DMP_CACHE_AGE_MAX_H": "2",
        "DMP_CACHE_TAILLE_MAX_MO": "1.5",
        "DMP_CACHE_PURGE_FIN_SESSION": "1",
        "DMP_FILE_DELAI_S": "0.01",
        "DMP_STORE_DIR": str(tmp_path / "store"),
        "DMP_STRUCTURE_AUTEUR": "1|A|B|G15_10/SM04",
        "UNRELATED": "x",
    }
    settings = Settings.load(load(tmp_path, environ))
    assert settings.is_sandbox and settings.structure is not None
    assert settings.structure.author == "1|A|B|G15_10/SM04"
    assert settings.trust_files == (Path("/a.pem"), Path("/b.pem"))
    store = StoreSettings.from_env(settings.config)
    assert store == settings.store
    assert store.folder == tmp_path / "store"
    assert store.cache == CachePolicy(max_age=7200.0, max_bytes=int(1.5 * 2**20), purge_at_session_end=True)
    assert store.retry.base_delay == 0.01


LAYERS = [
    (Source.POLICY_LOCKED, "https://verrouille"),
    (Source.ENVIRONMENT, "https://environnement"),
    (Source.USER, "https://utilisateur"),
    (Source.POLICY_DEFAULT, "https://editeur"),
    (Source.DEFAULT, None),  # no built-in host (the sandbox's is a default in sandbox mode only)
]


@pytest.mark.parametrize("top", range(len(LAYERS)))
def test_precedence_of_the_five_layers(tmp_path: Path, top: int) -> None:
    """With the layers above ``top`` removed, ``top`` gives the value."""
    present = {source for source, _ in LAYERS[top:]}
    defaults = f'{HOST} = "https://editeur"' if Source.POLICY_DEFAULT in present else ""
    locked = f'{HOST} = "https://verrouille"' if Source.POLICY_LOCKED in present else ""
    config = load(
        tmp_path,
        environ={HOST: "https://environnement"} if Source.ENVIRONMENT in present else {},
        policy_text=f"[defauts]\n{defaults}\n[verrouilles]\n{locked}\n",
        user_text=f'{HOST} = "https://utilisateur"\n' if Source.USER in present else None,
    )
    source, value = LAYERS[top]
    assert (config.get(HOST), config.source(HOST)) == (value, source)
    assert config.is_locked(HOST) is (source is Source.POLICY_LOCKED)
    assert config.locked_keys() == ({HOST} if source is Source.POLICY_LOCKED else set())


def test_locked_key_beats_environment_and_user_file(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        environ={HOST: "https://env", "DMP_PROXY": "http://proxy-env:3128"},
        policy_text='[verrouilles]\nDMP_HOST_URL = "https://dmp.example"\n[defauts]\nDMP_PROXY = "http://p:8080"\n',
        user_text='DMP_HOST_URL = "https://user"\nDMP_PROXY = "http://proxy-user:3128"\n',
    )
    assert config.get(HOST) == "https://dmp.example" and config.is_locked(HOST)
    assert config.get("DMP_PROXY") == "http://proxy-env:3128" and not config.is_locked("DMP_PROXY")
    assert config.source("DMP_PROXY") is Source.ENVIRONMENT
    assert config.layers[Source.USER][HOST] == "https://user"  # kept, but not used


def test_settings_load_reflects_a_locked_host_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = policy(tmp_path, locked='DMP_HOST_URL = "https://dmp.example/si-dmp-server/v2/services"')
    monkeypatch.setenv("DMP_POLICY_FILE", str(locked))
    monkeypatch.setenv(HOST, "https://localhost:9999/autre")
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda *a, **k: str(tmp_path / "home"))
    settings = Settings.load()
    assert settings.host_url == "https://dmp.example/si-dmp-server/v2/services"
    assert settings.config.is_locked(HOST) and settings.config.source(HOST) is Source.POLICY_LOCKED
    assert settings.config.user_file == tmp_path / "home" / "reglages.toml"


def test_registry_wins_over_the_file(tmp_path: Path) -> None:
    registry = PolicySections(
        defaults={"DMP_LPS_NOM": "Logiciel GPO", "DMP_CACHE_PURGE_FIN_SESSION": 1},  # REG_DWORD
        locked={"DMP_TRUST_FILES": ["C:/a.pem", "C:/b.pem"]},  # REG_MULTI_SZ
    )
    config = load(
        tmp_path,
        policy_text='[defauts]\nDMP_LPS_NOM = "Logiciel fichier"\nDMP_LPS_OID = "1.2.3"\n'
        '[verrouilles]\nDMP_TRUST_FILES = "C:/fichier.pem"\n',
        registry=registry,
    )
    assert config.get("DMP_LPS_NOM") == "Logiciel GPO" and config.get("DMP_LPS_OID") == "1.2.3"
    assert config.get("DMP_CACHE_PURGE_FIN_SESSION") == "1"
    assert config.get("DMP_TRUST_FILES") == os.pathsep.join(["C:/a.pem", "C:/b.pem"])
    assert config.is_locked("DMP_TRUST_FILES")


def test_unknown_registry_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, registry=PolicySections({}, {"DMP_HOST_ULR": "https://x"}))
    assert (
        "DmpClient\\Verrouilles" in caught.value.user_message and "DMP_HOST_ULR" in caught.value.user_message
    )


def test_toml_booleans_and_numbers_are_converted(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        policy_text="[defauts]\nDMP_CACHE_PURGE_FIN_SESSION = true\nDMP_CACHE_AGE_MAX_H = 24\n"
        'DMP_FILE_DELAI_S = 0.5\nDMP_LPS_HOMOLOGATION = 123\nDMP_TRUST_FILES = ["/a.pem", "/b.pem"]\n'
        "[verrouilles]\nDMP_CACHE_TAILLE_MAX_MO = 64\n",
        user_text="DMP_CACHE_PURGE_FIN_SESSION = false\n",
    )
    assert config.layers[Source.POLICY_DEFAULT]["DMP_CACHE_PURGE_FIN_SESSION"] == "1"
    assert config.get("DMP_CACHE_PURGE_FIN_SESSION") == "0"  # the user's false
    assert (config.get("DMP_CACHE_AGE_MAX_H"), config.get("DMP_FILE_DELAI_S")) == ("24", "0.5")
    assert config.get("DMP_LPS_HOMOLOGATION") == "123"
    assert config.get("DMP_TRUST_FILES") == os.pathsep.join(["/a.pem", "/b.pem"])
    store = StoreSettings.from_env(config)
    assert store.cache == CachePolicy(max_age=24 * 3600.0, max_bytes=64 * 2**20, purge_at_session_end=False)
    assert store.retry.base_delay == 0.5


def test_malformed_policy_names_the_file_and_the_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, policy_text='[verrouilles]\nDMP_HOST_URL = "https://x"\nDMP_PROXY = \n')
    error = caught.value
    assert error.code == "CONFIG-POLITIQUE" and isinstance(error, DmpClientError)
    assert str(tmp_path / "policy.toml") in error.user_message and "ligne 3" in error.user_message
    assert (error.path, error.line) == (tmp_path / "policy.toml", 3)
    assert str(error).endswith("[CONFIG-POLITIQUE]")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            '[verrouilles]\nDMP_HOST_URL = "https://x"\nDMP_HOTS_URL = "y"\n',
            3,
            "clé inconnue « DMP_HOTS_URL »",
        ),
        ('[defauts]\nDMP_PROXY = "p"\n[verouilles]\nDMP_HOST_URL = "https://x"\n', 3, "« verouilles »"),
        ('DMP_HOST_URL = "https://x"\n', 1, "doit être placée sous [defauts] ou [verrouilles]"),
        ('[verrouilles]\nDMP_CACHE_PURGE_FIN_SESSION = "oui"\n', 2, "1 (oui) ou 0 (non) attendu"),
        ("[defauts]\nDMP_CACHE_AGE_MAX_H = -1\n", 2, "nombre positif ou nul attendu"),
        ('[defauts]\nDMP_FILE_DELAI_S = "vite"\n', 2, "nombre attendu"),
        ('[defauts]\nDMP_HOST_URL = ["a", "b"]\n', 2, "type de valeur non pris en charge"),
        ("[defauts]\nDMP_LPS_NOM = 2024-01-01\n", 2, "type de valeur non pris en charge"),
    ],
)
def test_policy_that_cannot_be_applied_is_an_error(tmp_path: Path, text: str, line: int, words: str) -> None:
    """A typo in a locked key must not silently unlock it: no silent fallback for the policy."""
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, policy_text=text)
    assert words in caught.value.user_message and caught.value.line == line
    assert caught.value.user_message.startswith("Politique de la machine non appliquée")


def test_policy_not_utf8_is_an_error_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_bytes('[defauts]\nDMP_LPS_NOM = "Éditeur"\n'.encode("cp1252"))
    user = tmp_path / "reglages.toml"
    with pytest.raises(PolicyError, match="UTF-8"):
        Config.load(environ={}, policy_file=tmp_path / "policy.toml", user_file=user, registry=NO_REGISTRY)
    (tmp_path / "policy.toml").write_bytes('[defauts]\nDMP_LPS_NOM = "Éditeur"\n'.encode("utf-8-sig"))
    config = Config.load(
        environ={}, policy_file=tmp_path / "policy.toml", user_file=user, registry=NO_REGISTRY
    )
    assert config.get("DMP_LPS_NOM") == "Éditeur"


def test_policy_file_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    monkeypatch.setattr(platformdirs, "site_config_dir", lambda *a, **k: str(site))
    user = tmp_path / "reglages.toml"
    # The default location may be absent (no policy), a file named explicitly may not.
    assert Config.load(environ={}, user_file=user, registry=NO_REGISTRY).locked_keys() == frozenset()
    with pytest.raises(PolicyError, match="introuvable"):
        Config.load(environ={"DMP_POLICY_FILE": str(tmp_path / "absent.toml")}, user_file=user)
    with pytest.raises(PolicyError, match="introuvable"):
        Config.load(environ={}, policy_file=tmp_path / "absent.toml", user_file=user)
    site.mkdir()
    write(site / "policy.toml", '[verrouilles]\nDMP_PROXY = ""\n')
    assert Config.load(environ={}, user_file=user, registry=NO_REGISTRY).is_locked("DMP_PROXY")
    elsewhere = policy(tmp_path, locked='DMP_LPS_OID = "1.2.250.1.999.7"')
    config = Config.load(environ={"DMP_POLICY_FILE": str(elsewhere)}, user_file=user, registry=NO_REGISTRY)
    # The user's environment adds a policy file; the machine's own file still applies, and wins.
    assert config.locked_keys() == {"DMP_LPS_OID", "DMP_PROXY"}
    (tmp_path / "o").mkdir()
    override = policy(tmp_path / "o", locked='DMP_PROXY = "http://mandataire-de-l-utilisateur:3128"')
    config = Config.load(environ={"DMP_POLICY_FILE": str(override)}, user_file=user, registry=NO_REGISTRY)
    assert config.get("DMP_PROXY") == ""
    # DMP_POLICY_FILE is read from the environment only: it is not a configuration key.
    with pytest.raises(PolicyError, match="DMP_POLICY_FILE"):
        load(tmp_path, policy_text='[defauts]\nDMP_POLICY_FILE = "/autre.toml"\n')


def test_locked_empty_proxy_means_none_whatever_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path, {"DMP_PROXY": "http://contournement:3128"}, '[verrouilles]\nDMP_PROXY = ""\n')
    assert Settings.load(config).proxy is None


def test_malformed_user_file_is_an_error_unknown_keys_ignored(tmp_path: Path) -> None:
    with pytest.raises(UserSettingsError) as caught:
        load(tmp_path, user_text='DMP_HOST_URL = "https://x\n')
    assert caught.value.code == "CONFIG-UTILISATEUR"
    assert str(tmp_path / "user" / "reglages.toml") in caught.value.user_message
    assert caught.value.line == 1
    with pytest.raises(UserSettingsError, match="ligne 2"):
        load(tmp_path, user_text='DMP_LPS_NOM = "x"\nDMP_CACHE_AGE_MAX_H = "longtemps"\n')
    config = load(tmp_path, user_text='DMP_ANCIEN_REGLAGE = "x"\nDMP_LPS_NOM = "Mon logiciel"\n')
    assert dict(config.layers[Source.USER]) == {"DMP_LPS_NOM": "Mon logiciel"}


def test_save_user_writes_and_the_next_load_reads_back(tmp_path: Path) -> None:
    config = load(tmp_path, policy_text='[defauts]\nDMP_PROXY = "http://editeur:8080"\n')
    assert not config.user_file.exists()
    saved = config.save_user({"DMP_PROXY": "http://proxy:3128", "DMP_STORE_DIR": r"D:\Données\dmp"})
    assert saved.get("DMP_PROXY") == "http://proxy:3128" and saved.source("DMP_PROXY") is Source.USER
    again = load(tmp_path, policy_text='[defauts]\nDMP_PROXY = "http://editeur:8080"\n')
    assert again == saved and again.get("DMP_STORE_DIR") == r"D:\Données\dmp"
    # None removes a setting: the vendor's default shows through again.
    removed = again.save_user({"DMP_PROXY": None})
    assert (
        removed.get("DMP_PROXY") == "http://editeur:8080"
        and removed.source("DMP_PROXY") is Source.POLICY_DEFAULT
    )
    assert tomllib.loads(config.user_file.read_text(encoding="utf-8")) == {"DMP_STORE_DIR": r"D:\Données\dmp"}
    assert [p.name for p in config.user_file.parent.iterdir()] == ["reglages.toml"]  # no temporary file left


def test_save_user_refuses_a_locked_key(tmp_path: Path) -> None:
    config = load(tmp_path, policy_text='[verrouilles]\nDMP_HOST_URL = "https://dmp.example"\n')
    with pytest.raises(LockedSetting) as caught:
        config.save_user({"DMP_LPS_NOM": "Autre", HOST: "https://ailleurs"})
    assert caught.value.code == "CONFIG-VERROUILLE" and isinstance(caught.value, ConfigError)
    assert "« Adresse des services du DMP » (DMP_HOST_URL)" in caught.value.user_message
    assert not config.user_file.exists()  # nothing written, not even the other key


def test_save_user_refuses_an_invalid_value_or_an_unknown_key(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(InvalidValue) as caught:
        config.save_user({"DMP_CACHE_PURGE_FIN_SESSION": "oui"})
    assert caught.value.code == "CONFIG-VALEUR"
    with pytest.raises(KeyError):
        config.save_user({"DMP_INCONNU": "x"})
    assert not config.user_file.exists()


def test_save_user_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(tmp_path, user_text='DMP_LPS_NOM = "Avant"\n')
    before = config.user_file.read_bytes()

    def failing_replace(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(UserSettingsError, match="ne peuvent pas être enregistrés"):
        config.save_user({"DMP_LPS_NOM": "Après"})
    assert config.user_file.read_bytes() == before
    assert [p.name for p in config.user_file.parent.iterdir()] == ["reglages.toml"]


@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_user_file_text_round_trips_any_string(value: str) -> None:
    assert tomllib.loads(user_file_text({"DMP_LPS_NOM": value})) == {"DMP_LPS_NOM": value}


def test_key_table() -> None:
    """One table for the code, the dialog and docs/configuration.md; the defaults are the code's."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name, key in KEYS.items():
        assert key.name == name and name.startswith("DMP_") and key.label and isinstance(key.kind, Kind)
        if key.default is not None:
            check_value(key, key.default)
        assert f"`{name}`" in docs, name
    with pytest.raises(KeyError):
        Config.of({}).get("DMP_INCONNU")  # a typo in the code is not a missing value


def test_the_documented_vendor_policy_applies(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = docs.split("```toml\n")[1].split("```")[0]
    config = load(tmp_path, {HOST: "https://ailleurs"}, example)
    assert config.get(HOST) == "https://services.dmp.example/si-dmp-server/v2/services"
    assert config.get("DMP_CACHE_PURGE_FIN_SESSION") == "1"
    assert config.source("DMP_PROXY") is Source.POLICY_DEFAULT
