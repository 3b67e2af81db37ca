"""``--trace``: patient data and the signed VIHF on disk, so a private folder, private files, names
never reused; ``dmp demo --trace`` traces every exchange of the demo; the help says what traces hold."""

from __future__ import annotations

import dataclasses
import io
import stat
import time
from pathlib import Path

import pytest

from app import cli
from app.config.settings import Settings
from app.dmp_client.factory import structure_client
from app.errors import DmpClientError
from app.ins import Ins
from sandbox.host.server import DmpHost
from sandbox.training import demo
from tests.host_fixture import settings_for

ACTIVE = Ins.parse("150081505104018", "1.2.250.1.213.1.4.10")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_traces_are_private_and_never_overwritten_within_the_same_second(
    host: DmpHost, pki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "traces"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # an existing, world-readable folder is made private
    monkeypatch.setattr(time, "strftime", lambda *args: "20261207T030000")  # every name in one second
    settings = dataclasses.replace(settings_for(host, pki_dir), trace_dir=folder)
    for _ in range(2):  # two clients (two processes, or the demo's successive sessions) in one second
        client = structure_client(settings)
        try:
            client.status(ACTIVE)
        finally:
            client.close()
    files = sorted(folder.iterdir())
    assert len(files) == 4, [f.name for f in files]  # 2 exchanges, each a request and a response: none lost
    assert _mode(folder) == 0o700
    assert {_mode(f) for f in files} == {0o600}
    requests = [f.read_bytes() for f in files if f.name.endswith("-requete.txt")]
    assert len(requests) == 2 and all(b"Assertion" in r for r in requests)  # the signed VIHF is in there
    assert requests[0] != requests[1]  # two exchanges, not one file written twice


def test_trace_help_warns_of_patient_data_and_the_vihf(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("status", "find", "demo"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--trace DOSSIER" in text, command
        assert "données de santé du patient et le VIHF signé" in text, command


def test_demo_traces_every_exchange(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``dmp demo --trace DIR``: the settings every client of the demo is built from (the card's,
    the structure's, the queue's sender) carry the folder; the factory puts it on each transport
    (tested above)."""
    seen: list[tuple[str, Path | None]] = []

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def make(settings: Settings, *args: object) -> object:
            seen.append((name, settings.trace_dir))
            raise DmpClientError("arrêt du test", code="TEST")

        return make

    sandbox = dataclasses.replace(Settings.load(), is_sandbox=True)
    monkeypatch.setattr(demo.Settings, "load", classmethod(lambda cls, config=None: sandbox))
    monkeypatch.setenv("DMP_SANDBOX_PIN", "1234")
    monkeypatch.setenv("DMP_PKCS11_MODULE", str(tmp_path / "aucun-module.so"))
    monkeypatch.setattr(demo, "_cards", lambda out: None)
    monkeypatch.setattr(demo, "card_client", refuse("carte"))
    monkeypatch.setattr(demo, "structure_client", refuse("structure"))
    args = cli.build_parser().parse_args(["demo", "--trace", str(tmp_path / "t")])
    assert demo.run(args, io.StringIO(), io.StringIO()) == 1
    demo._main_job(dataclasses.replace(sandbox, trace_dir=args.trace), "1234", io.StringIO())
    assert seen == [("carte", tmp_path / "t"), ("carte", tmp_path / "t")]
