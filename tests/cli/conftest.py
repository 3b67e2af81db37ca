"""The command line against the in-process sandbox INSi host (real mutual TLS, the structure's
sandbox certificate) with a local base in a private Secret Service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.insi.server import InsiConfig, InsiHost
from tests.cli_helpers import set_env
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
    set_env(monkeypatch, insi_env(insi_host, pki_dir, tmp_path / "store"))
    monkeypatch.setenv("DMP_MODE_AUTH", "structure")
    yield tmp_path
