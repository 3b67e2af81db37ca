"""DMP_MODE_AUTH decides the command line's mode when --mode is not given (it was documented and
offered in the settings dialog but never read); a value other than carte/structure is refused."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest

from app.cli import dmp as cli_dmp
from app.config.layers import InvalidValue
from app.config.settings import Settings
from app.dmp_client import factory
from tests.test_config import load


class _Card:
    reader = "lecteur"

    def professional(self) -> Any:
        return argparse.Namespace(national_id="", display_name="")

    def situations(self) -> list[Any]:
        return [argparse.Namespace(number=1, structure_name="", structure_id="", sector="")]

    def close(self) -> None:
        pass


class _Client:
    def __init__(self) -> None:
        self.transport = argparse.Namespace(trace_dir=None)
        self.session = argparse.Namespace(
            actor=argparse.Namespace(national_id="", display_name="", structure_id="", sector="")
        )

    def close(self) -> None:
        pass


def _opened_with(monkeypatch: pytest.MonkeyPatch, settings: Settings, argv: list[str]) -> str:
    used: list[str] = []

    def structure(settings: Settings, purpose: Any) -> _Client:
        used.append("structure")
        return _Client()

    def card(settings: Settings, prompt: Any, situation: int, purpose: Any) -> tuple[_Client, None]:
        used.append("carte")
        return _Client(), _Card()

    monkeypatch.setattr(factory, "structure_client", structure)
    monkeypatch.setattr(factory, "card_client", card)
    monkeypatch.setattr(cli_dmp, "_journal_store", lambda settings, err: None)
    parser = argparse.ArgumentParser()
    cli_dmp.common_options(parser)
    args = parser.parse_args(["--ins", "150081505104018", *argv])
    with cli_dmp.open_session(args, settings, io.StringIO()):
        pass
    (mode,) = used
    return mode


@pytest.mark.parametrize(
    ("configured", "argv", "expected"),
    [
        (None, [], "carte"),
        ("structure", [], "structure"),
        ("carte", [], "carte"),
        ("structure", ["--mode", "carte"], "carte"),
        ("carte", ["--mode", "structure"], "structure"),
    ],
)
def test_the_configured_mode_is_the_command_lines_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured: str | None, argv: list[str], expected: str
) -> None:
    environ = {"DMP_SANDBOX_DIR": str(tmp_path / "rig")}
    if configured:
        environ["DMP_MODE_AUTH"] = configured
    settings = Settings.load(load(tmp_path, environ))
    assert _opened_with(monkeypatch, settings, argv) == expected


def test_an_unknown_mode_is_a_configuration_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="DMP_MODE_AUTH"):
        Settings.load(load(tmp_path, {"DMP_MODE_AUTH": "mot-de-passe"}))
