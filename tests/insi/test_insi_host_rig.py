"""The rig starts the sandbox INSi host beside the DMP host (``dmp-sandbox insi serve``) and exports
DMP_INSI_URL; only the INSi host process is started here (never the card rig)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sandbox import rig
from tests.insi import insi_host_helpers as h


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_env_lines_export_the_insi_url(rig_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rig.softhsm, "module_path", lambda: "/usr/lib/softhsm/libsofthsm2.so")
    assert f"export DMP_INSI_URL=https://localhost:{rig.INSI_PORT}/lps" in rig.env_lines(rig_dir)
    assert "export DMP_INSI_IDAM=BAC-A-SABLE" in rig.env_lines(rig_dir)
    assert rig.environment(rig_dir)["DMP_INSI_IDAM"] == "BAC-A-SABLE"  # the same, as a mapping
    rig._save_state(rig_dir, {"readers": {}, "insi_port": 9555})
    assert "export DMP_INSI_URL=https://localhost:9555/lps" in rig.env_lines(rig_dir)


def test_rig_up_starts_the_insi_host() -> None:
    source = Path(rig.__file__).read_text(encoding="utf-8")
    up = source[source.index("def up(") : source.index("def down(")]
    assert "start_insi(rig, INSI_PORT)" in up
    down = source[source.index("def down(") :]
    assert '"insi_pid"' in down


def test_start_insi_runs_dmp_sandbox_insi_serve(rig_dir: Path, pki_dir: Path) -> None:
    port = _free_port()
    rig.start_insi(rig_dir, port)
    state = rig.load_state(rig_dir)
    try:
        assert state["insi_port"] == port
        card = pki_dir / "pki" / "structure-auth"
        context = h.client_context(
            pki_dir / "pki" / "trust-bundle.pem", card.with_suffix(".pem"), card.with_suffix(".key")
        )
        body = h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14")
        answer = h.post(port, context, h.envelope(body))
        assert answer.status == 200
        assert answer.code == "00"
    finally:
        rig._kill(state["insi_pid"])
    assert "Hôte INSi du bac à sable" in (rig_dir / "insi.log").read_text(encoding="utf-8")


def test_insi_serve_options_reach_the_host_configuration(
    monkeypatch: pytest.MonkeyPatch, rig_dir: Path
) -> None:
    from sandbox import cli
    from sandbox.insi import server

    seen = {}

    class Host:
        server_address = ("127.0.0.1", 1)

        def __init__(self, address: tuple[str, int], config: server.InsiConfig) -> None:
            seen["address"], seen["config"] = address, config

        def serve_forever(self) -> None:
            return

    monkeypatch.setattr(server, "InsiHost", Host)
    argv = [
        "--dir",
        str(rig_dir),
        "insi",
        "serve",
        "--port",
        "9999",
        "--latence",
        "1.5",
        "--taux-erreur",
        "0.25",
    ]
    argv += [
        "--prenoms",
        "exact_list",
        "--noms-stricts",
        "--entete-reponse",
        "--exiger-securite",
        "--sans-structure",
    ]
    assert cli.main(argv) == 0
    config = seen["config"]
    assert seen["address"] == ("127.0.0.1", 9999)
    assert (config.faults.latency, config.faults.error_rate) == (1.5, 0.25)
    assert config.rules.first_names == "exact_list" and not config.rules.normalise
    assert config.answer_addressing and config.require_security_header and not config.allow_structure
