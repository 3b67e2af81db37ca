"""The provider as `rig up` starts it (a child process) and the virtual phone's command line."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox import cards, cli
from sandbox import rig as sandbox_rig
from sandbox.psc.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    REALM,
    PscConfig,
    PscProvider,
)
from tests.psc.psc_helpers import running_provider


@pytest.fixture
def provider(rig_dir: Path) -> Iterator[PscProvider]:
    with running_provider(PscConfig(rig_dir / "pki", rig_dir / "psc")) as server:
        yield server


def _ask(provider: PscProvider, binding: str = "42") -> str:
    context = ssl.create_default_context(cafile=str(provider.config.pki_dir / "trust-bundle.pem"))
    with httpx.Client(
        verify=context, auth=httpx.BasicAuth(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    ) as client:
        answer = client.post(
            provider.issuer + "/protocol/openid-connect/ext/ciba/auth",
            data={
                "scope": "openid all",
                "login_hint": cards.card("specialiste").national_id,
                "binding_message": binding,
                "acr_values": "eidas1",
                "channel": "CARD",
            },
        )
    auth_req_id: str = answer.json()["auth_req_id"]
    return auth_req_id


def test_ecps_commands(provider: PscProvider, rig_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--dir", str(rig_dir), "ecps"]
    assert cli.main([*base, "attente"]) == 0
    assert "Aucune demande" in capsys.readouterr().out
    assert cli.main([*base, "approuver"]) == 2
    assert "Aucune demande" in capsys.readouterr().err
    first = _ask(provider)
    assert cli.main([*base, "attente"]) == 0
    listed = capsys.readouterr().out
    assert first in listed and "code 42" in listed and "CARD" in listed
    assert cli.main([*base, "refuser"]) == 0
    assert provider.requests[first].status == "refused"
    second, third = _ask(provider, "01"), _ask(provider, "02")
    assert cli.main([*base, "approuver"]) == 2  # two pending: which one?
    assert "--id" in capsys.readouterr().err
    assert cli.main([*base, "approuver", "--id", third]) == 0
    assert provider.requests[third].status == "approved"
    assert provider.requests[second].status == "pending"
    assert cli.main([*base, "auto", "--delai", "0.5"]) == 0
    assert (provider.config.faults.phone, provider.config.faults.phone_delay) == ("approve", 0.5)
    assert cli.main([*base, "auto", "--refus"]) == 0
    assert provider.config.faults.phone == "refuse"
    assert cli.main([*base, "manuel"]) == 0
    assert provider.config.faults.phone == "manual"


def test_ecps_without_a_provider(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(tmp_path), "ecps", "attente"]) == 2
    assert "introuvable" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_rig_starts_the_provider_and_exports_its_variables(rig_dir: Path) -> None:
    port = _free_port()
    sandbox_rig.start_psc(rig_dir, port)
    try:
        env = sandbox_rig.environment(rig_dir)
        assert env["DMP_PSC_URL"] == f"https://localhost:{port}{REALM}"
        assert (env["DMP_PSC_CLIENT_ID"], env["DMP_PSC_CLIENT_SECRET"]) == (
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
        )
        context = ssl.create_default_context(cafile=str(rig_dir / "pki" / "trust-bundle.pem"))
        found = httpx.get(env["DMP_PSC_URL"] + "/.well-known/openid-configuration", verify=context).json()
        assert found["issuer"] == env["DMP_PSC_URL"]
        assert (rig_dir / "psc" / "admin-token").stat().st_mode & 0o077 == 0
    finally:
        sandbox_rig.down(rig_dir)
    assert not sandbox_rig.load_state(rig_dir).get("psc_pid")
