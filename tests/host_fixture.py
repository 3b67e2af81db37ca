"""An in-process sandbox DMP host over real mutual TLS, and a structure-mode client for it.

The test PKI is generated once per session (no card rig needed); each test gets a fresh host on
a free loopback port with freshly seeded data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.dmp_client.client import DmpClient
from app.dmp_client.factory import structure_client as make_structure_client
from app.settings import Settings
from sandbox import rig as sandbox_rig
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki-rig")
    sandbox_rig.build_pki(folder)
    return folder


@pytest.fixture
def host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    server = DmpHost(
        ("127.0.0.1", 0), HostConfig(pki_dir / "pki", tmp_path / "host", record_dir=tmp_path / "record")
    )
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def settings_for(host: DmpHost, pki_dir: Path) -> Settings:
    env = {
        "DMP_SANDBOX_DIR": str(pki_dir),
        "DMP_HOST_URL": f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings.from_env()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def structure_client(host: DmpHost, pki_dir: Path) -> Iterator[DmpClient]:
    client = make_structure_client(settings_for(host, pki_dir))
    yield client
    client.close()
