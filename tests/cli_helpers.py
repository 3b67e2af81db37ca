"""The command line as the tests run it: :func:`run` (its status and both outputs) and the
environment that points it at in-process sandbox servers, with the base in ``tmp_path/store`` and
its key in the private Secret Service (``system_keyring``)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pytest

from app.cli import main
from sandbox.host.server import DmpHost
from tests.host_fixture import sandbox_env
from tests.keyring_fixture import SystemKeyring


def run(*args: str) -> tuple[int, str, str]:
    """``dmp <args>``: the exit status, the standard output and the error output."""
    out, err = io.StringIO(), io.StringIO()
    return main(list(args), out, err), out.getvalue(), err.getvalue()


def set_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cli_host_env(
    system_keyring: SystemKeyring,
    host: DmpHost,
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The command line pointed at the in-process sandbox DMP host (``host``), the base in
    ``tmp_path/store``; returns ``tmp_path``."""
    set_env(monkeypatch, sandbox_env(host, pki_dir, tmp_path / "store"))
    return tmp_path
