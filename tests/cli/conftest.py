"""The command line against the in-process sandbox INSi host (real mutual TLS, the structure's
sandbox certificate) with a local base in a private Secret Service."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from sandbox.insi.server import InsiConfig, InsiHost
from tests.keyring_fixture import SystemKeyring
from tests.services.qualification_helpers import insi_env, running_insi


@pytest.fixture
def insi_host(pki_dir: Path) -> Iterator[InsiHost]:
    with running_insi(InsiConfig(pki_dir / "pki")) as host:
        yield host


@pytest.fixture
def cli_env(
    system_keyring: SystemKeyring,
    insi_host: InsiHost,
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    for name, value in insi_env(insi_host, pki_dir, tmp_path / "store").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DMP_MODE_AUTH", "structure")
    yield tmp_path


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(args), out, err), out.getvalue(), err.getvalue()
