"""The demo's secretariat job (``dmp demo``, run on the rig by a device test) against the in-process
sandbox host: P01's identity is qualified through the lifecycle before its reports are queued."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sandbox.host.server import DmpHost
from sandbox.training import demo
from tests.host_fixture import settings_for
from tests.keyring_fixture import SystemKeyring


def test_the_demo_queue_job_qualifies_then_feeds(
    system_keyring: SystemKeyring,
    host: DmpHost,
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DMP_STORE_DIR", str(tmp_path / "store"))
    out = io.StringIO()
    assert demo._queue_job(settings_for(host, pki_dir), out) == 0, out.getvalue()
    said = out.getvalue()
    assert "identité de P01 : INSi (bac à sable) et pièce d'identité vérifiée → qualifiée" in said
    assert "File d'envoi réussie." in said
