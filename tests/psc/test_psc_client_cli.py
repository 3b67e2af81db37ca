"""``dmp ecps connexion|statut|deconnexion`` and ``--mode ecps`` (AIR) against the fake provider and
the in-process sandbox host over real TLS; ``--mode structure`` consultation refused before sending."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.cli import ecps as cli_ecps
from app.cli import main
from app.config.settings import Settings
from app.dmp_client.options import PscSettings
from app.dmp_client.psc_client import PscClient
from app.services import ecps
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient
from tests.host_fixture import sandbox_env
from tests.keyring_fixture import SystemKeyring
from tests.psc.fake_psc import CLIENT_ID, ISSUER, RPPS, SECRET, FakePsc
from tests.psc.test_psc_client import FakeClock, FastEvent


class Interrupting(FastEvent):
    """Ctrl-C during the wait: ``wait`` raises KeyboardInterrupt after a few waits."""

    def wait(self, timeout: float | None = None) -> bool:
        if len(self.waits) >= 3:
            raise KeyboardInterrupt
        return super().wait(timeout)


@pytest.fixture
def env(
    host: DmpHost,
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    system_keyring: SystemKeyring,
) -> FakePsc:
    for name, value in sandbox_env(host, pki_dir, tmp_path / "store").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the user settings file
    monkeypatch.setenv("DMP_PSC_URL", ISSUER)
    monkeypatch.setenv("DMP_PSC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DMP_PSC_AUTH_CLIENT", "secret")
    fake = FakePsc()
    clock = FakeClock()
    fake.clock = clock

    def open_psc(settings: Settings) -> PscClient:
        assert settings.psc.url == ISSUER and settings.psc.client_auth == "secret"
        psc = PscSettings(url=ISSUER, client_id=CLIENT_ID, client_auth="secret")
        return PscClient(psc, secret=SECRET, transport=fake.transport(), clock=clock)

    monkeypatch.setattr(ecps, "open_psc", open_psc)
    monkeypatch.setattr(cli_ecps, "new_event", lambda: FastEvent(clock))  # waits advance the clock
    fake.test_clock = clock  # type: ignore[attr-defined]
    return fake


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def test_login_status_air_consultation_and_logout(env: FakePsc) -> None:
    status, out, err = run("ecps", "connexion", "--rpps", RPPS)
    assert status == 0, err
    code = next(f for p, f in env.requests if p.endswith("/ciba"))["binding_message"][0]
    assert f"({code})" in out and "application e-CPS du téléphone" in out
    assert cli_ecps.big_code(code) in out  # the code printed large (5 lines of blocks)
    assert len(cli_ecps.big_code(code).splitlines()) == 5
    assert "restantes" in err  # the wait with the time left
    assert "PAUL CARDIOLOGUE" in out and "CH DU BAC A SABLE" in out

    status, out, _ = run("ecps", "statut")
    assert status == 0 and RPPS in out and "valide encore" in out

    ins, _ = patient("P03")
    status, out, err = run("status", "--mode", "ecps", "--ins", ins.matricule.value)
    assert status == 0, err  # TD0.2 in AIR, over mutual TLS with the structure's certificate

    status, out, _ = run("ecps", "deconnexion")
    assert status == 0 and "fermée" in out and env.logged_out
    status, out, _ = run("ecps", "statut")
    assert status == 1 and "Aucune session" in out
    status, out, err = run("ecps", "connexion")  # the RPPS id was remembered (DMP_PSC_RPPS)
    assert status == 0, err


def test_ctrl_c_cancels_the_wait(env: FakePsc, monkeypatch: pytest.MonkeyPatch) -> None:
    env.pending_polls = 10_000
    clock = env.test_clock  # type: ignore[attr-defined]
    monkeypatch.setattr(cli_ecps, "new_event", lambda: Interrupting(clock))
    status, _, err = run("ecps", "connexion", "--rpps", RPPS)
    assert status == 2 and "PSC-ANNULE" in err
    assert run("ecps", "statut")[0] == 1  # nothing kept


def test_refused_on_the_phone_is_told_in_french(env: FakePsc) -> None:
    env.outcome = "deny"
    status, _, err = run("ecps", "connexion", "--rpps", RPPS)
    assert status == 2 and "refusée" in err and "PSC-REFUS" in err


def test_several_exercises_need_a_choice(env: FakePsc) -> None:
    env.exercises = 2
    status, _, err = run("ecps", "connexion", "--rpps", RPPS)
    assert status == 2 and "--situation" in err and "CABINET DU DR CARDIOLOGUE" in err
    assert run("ecps", "statut")[0] == 1
    status, out, err = run("ecps", "connexion", "--rpps", RPPS, "--situation", "2")
    assert status == 0, err
    assert "CABINET DU DR CARDIOLOGUE (SA07)" in out


def test_bad_rpps_is_refused(env: FakePsc) -> None:
    status, _, err = run("ecps", "connexion", "--rpps", "1234")
    assert status == 2 and "PSC-RPPS-INVALIDE" in err


def test_structure_mode_find_is_refused_before_sending(env: FakePsc, host: DmpHost) -> None:
    ins, _ = patient("P03")
    status, _, err = run("find", "--mode", "structure", "--ins", ins.matricule.value)
    assert status == 2 and "DMP-CONSULTATION-MODE-STRUCTURE" in err and "e-CPS" in err
    record = host.config.record_dir
    assert record is not None
    sent = [p.name for p in record.iterdir()] if record.exists() else []
    assert all("RegistryStoredQuery" not in (record / name).read_text(errors="replace") for name in sent)
