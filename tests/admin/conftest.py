"""Fixtures for the administrative transactions: a legacy-profile host and direct-mode clients.

Direct mode without the card rig: the card holder's authentication and signature certificates are
issued here by the test PKI's PERSONNES CA, with software keys (the host only sees TLS and the VIHF).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.dmp_client.client import DmpClient
from app.dmp_client.factory import structure_client as make_structure_client
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread
from tests.host_fixture import settings_for


@pytest.fixture
def legacy_host(pki_dir: Path, tmp_path: Path) -> Iterator[DmpHost]:
    config = HostConfig(pki_dir / "pki", tmp_path / "legacy", profile="legacy", record_dir=tmp_path / "rec")
    server = DmpHost(("127.0.0.1", 0), config)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def legacy_structure_client(legacy_host: DmpHost, pki_dir: Path) -> Iterator[DmpClient]:
    client = make_structure_client(settings_for(legacy_host, pki_dir))
    yield client
    client.close()
