"""No sandbox behaviour outside sandbox mode: the sandbox CPS serial probe (sandbox APDUs) runs only
when the session is in sandbox mode, and the sandbox's virtual Vitale card lives on the sandbox side,
reached through the training seam in sandbox mode only (the EHR reads a real Vitale card)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from app.card import pcsc, session
from app.card.session import CardSession
from app.cli import main as cli_main
from app.config.settings import Settings
from app.dmp_client import factory
from app.services import training
from app.services.training import VitaleReadByEhr
from tests.test_config import load

ROOT = Path(__file__).resolve().parents[1]
CPS = b"\x3b\x01"


class _OneCpsReader:
    def states(self) -> list[pcsc.ReaderState]:
        return [pcsc.ReaderState("A", CPS)]

    def close(self) -> None:
        pass


class _Token:
    def close(self) -> None:
        pass


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """The sandbox serial probe's calls, and the serial handed to the token choice."""
    seen: list[tuple[str, object]] = []
    monkeypatch.setattr(pcsc, "PcscContext", _OneCpsReader)

    def probe(reader: str) -> str:
        seen.append(("probe", reader))
        return "8000000101"

    def open_token(*args: Any, card_serial: str | None = None, **kwargs: Any) -> _Token:
        seen.append(("serial", card_serial))
        return _Token()

    monkeypatch.setattr(session, "sandbox_card_serial", probe)
    monkeypatch.setattr(session.CpsToken, "open", open_token)
    return seen


def test_no_sandbox_probe_outside_sandbox_mode(probes: list[tuple[str, object]]) -> None:
    card = CardSession("module.so", reader="A")
    card.close(wait=True)
    assert probes == [("serial", None)]


def test_the_probe_picks_the_sandbox_token_in_sandbox_mode(probes: list[tuple[str, object]]) -> None:
    card = CardSession("module.so", reader="A", sandbox=True)
    card.close(wait=True)
    assert probes == [("probe", "A"), ("serial", "8000000101")]


@pytest.mark.parametrize("sandbox_dir", [None, "rig"])
def test_the_card_client_asks_for_the_probe_in_sandbox_mode_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox_dir: str | None
) -> None:
    environ = {"DMP_SANDBOX_DIR": str(tmp_path / sandbox_dir)} if sandbox_dir else {}
    settings = Settings.load(load(tmp_path, environ))
    made: list[bool] = []

    class Stop(Exception):
        pass

    def session_of(module: str, **kwargs: Any) -> None:
        made.append(kwargs.get("sandbox", False))
        raise Stop

    monkeypatch.setattr(factory, "CardSession", session_of)
    monkeypatch.setattr(factory.pkcs11_module, "discover", lambda configured: "module.so")
    with pytest.raises(Stop):
        factory.card_client(settings, lambda status: "1234")
    assert made == [sandbox_dir is not None]


def test_the_sandbox_vitale_card_is_read_in_sandbox_mode_only() -> None:
    with pytest.raises(VitaleReadByEhr) as refused:
        training.vitale_card(False)
    assert refused.value.code == "VITALE-LOGICIEL-METIER"
    card = training.vitale_card(True, "Lecteur 1")
    assert type(card).__module__ == "sandbox.training.vitale" and card.label == "carte Vitale (bac à sable)"


def test_the_command_line_reads_no_vitale_card_outside_sandbox_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = dataclasses.replace(Settings.load(load(tmp_path)), is_sandbox=False)
    monkeypatch.setattr(Settings, "load", classmethod(lambda cls, config=None: settings))
    err = io.StringIO()
    assert cli_main(["vitale", "read"], io.StringIO(), err) == 2
    assert "VITALE-LOGICIEL-METIER" in err.getvalue()


def test_the_product_holds_no_sandbox_vitale_layout() -> None:
    """The sandbox Vitale AID and reader live in sandbox/training only (the CPS serial probe stays in
    app/card/session.py, run in sandbox mode only: see its docstring)."""
    found = [p.relative_to(ROOT) for p in (ROOT / "app").rglob("*.py") if b"SBXVITALE" in p.read_bytes()]
    assert found == []
    assert not (ROOT / "app" / "card" / "vitale.py").exists()


@pytest.mark.parametrize("policy", ["", '[verrouilles]\nDMP_SANDBOX_DIR = ""\n'])
def test_outside_sandbox_mode_there_is_no_sandbox_structure(tmp_path: Path, policy: str) -> None:
    environ = {"DMP_SANDBOX_DIR": str(tmp_path / "rig")} if policy else {}  # the lock beats it
    settings = Settings.load(load(tmp_path, environ, policy_text=policy))
    assert settings.is_sandbox is False and settings.structure is None and settings.trust_files == ()


def test_outside_sandbox_mode_the_host_and_homologation_have_no_sandbox_default(tmp_path: Path) -> None:
    # Issue 15: "no sandbox defaults outside sandbox mode". A real installation that forgot them
    # must not talk to localhost:8443 as "BAC-A-SABLE": connecting names the missing setting.
    settings = Settings.load(load(tmp_path, {}))
    assert settings.host_url == "" and settings.software.homologation == ""
    with pytest.raises(factory.ClientConfigError, match="DMP_HOST_URL"):
        factory.check_configured(settings)
    settings = Settings.load(load(tmp_path, {"DMP_HOST_URL": "https://dmp.example/services"}))
    with pytest.raises(factory.ClientConfigError, match="DMP_LPS_HOMOLOGATION"):
        factory.check_configured(settings)
    configured = {"DMP_HOST_URL": "https://dmp.example/services", "DMP_LPS_HOMOLOGATION": "H-1"}
    factory.check_configured(Settings.load(load(tmp_path, configured)))


def test_in_sandbox_mode_the_sandbox_host_and_homologation_are_the_defaults(tmp_path: Path) -> None:
    settings = Settings.load(load(tmp_path, {"DMP_SANDBOX_DIR": str(tmp_path / "rig")}))
    assert settings.host_url.startswith("https://localhost:8443/")
    assert settings.software.homologation == "BAC-A-SABLE"
