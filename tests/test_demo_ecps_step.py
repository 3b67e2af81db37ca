"""The demo's e-CPS step (``dmp demo`` on the rig, run by ``make run``) against the in-process sandbox
Pro Santé Connect provider and DMP host over real TLS: the virtual phone put in automatic approval
through the provider's admin endpoint (as ``dmp-sandbox ecps auto`` does), the GP logged in with
e-CPS, P01's DMP consulted in AIR (TD3.1), a send refused before sending, the PSC session ended."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.host.server import DmpHost
from sandbox.psc.server import DEFAULT_CLIENT_ID, PscConfig, PscFaults, PscProvider, serve_in_thread
from sandbox.training import demo
from tests.host_fixture import settings_for


@pytest.fixture
def rig_dir(pki_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, PscProvider]]:
    """A sandbox folder as the rig lays it out (``pki/``, ``psc/``), its provider's phone manual."""
    folder = tmp_path / "rig"
    folder.mkdir()
    os.symlink(pki_dir / "pki", folder / "pki")
    faults = PscFaults(phone="manual", interval=1)
    provider = PscProvider(("127.0.0.1", 0), PscConfig(folder / "pki", folder / "psc", faults))
    serve_in_thread(provider)
    yield folder, provider
    provider.shutdown()
    provider.server_close()


def test_the_demo_logs_in_with_ecps_and_consults_in_air(
    host: DmpHost, pki_dir: Path, rig_dir: tuple[Path, PscProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, provider = rig_dir
    monkeypatch.setenv("DMP_PSC_URL", provider.issuer)
    monkeypatch.setenv("DMP_PSC_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("DMP_PSC_AUTH_CLIENT", "mtls")
    out = io.StringIO()
    assert demo.ecps_step(settings_for(host, pki_dir), out, rig_dir=folder) == 0, out.getvalue()
    said = out.getvalue()
    assert provider.config.faults.phone == "approve"  # the virtual phone in automatic approval
    [request] = provider.requests.values()
    assert f"code à vérifier « {request.binding_message} » (canal MOBILE)" in said
    assert "CLAIRE MEDECIN-GENERALISTE" in said and "n° 2 choisie (CH DU BAC A SABLE (SA01))" in said
    assert "e-CPS (AIR)" in said and "TD3.1 recherche (AIR) P01 : " in said
    found = int(said.split("TD3.1 recherche (AIR) P01 : ")[1].split(" ")[0])
    assert found > 0
    assert "[DMP-AIR-HORS-CONSULTATION]" in said
    assert all(s.ended for s in provider.sessions.values()) and provider.sessions  # logged out
    assert "Connexion e-CPS et consultation AIR réussies." in said


def test_the_demo_says_when_the_phone_refuses(
    host: DmpHost, pki_dir: Path, rig_dir: tuple[Path, PscProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    _folder, provider = rig_dir
    provider.config.faults.phone, provider.config.faults.phone_delay = "refuse", 0.2
    monkeypatch.setenv("DMP_PSC_URL", provider.issuer)
    monkeypatch.setenv("DMP_PSC_CLIENT_ID", DEFAULT_CLIENT_ID)
    out = io.StringIO()
    assert demo.ecps_step(settings_for(host, pki_dir), out) == 1  # no rig folder: the phone as it is
    assert "ÉCHEC à l'étape « connexion e-CPS »" in out.getvalue() and "refusée" in out.getvalue()
