"""The store's commands as a user runs them, against the sandbox host over mutual TLS, with the
base's key in the real keyring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.services.training import sandbox_patient
from app.store.local_store import LocalStore, StoreSettings
from sandbox.host.server import DmpHost
from tests.cli_helpers import run
from tests.identity_helpers import qualify

P01 = "207058575627097"


@pytest.fixture
def env(cli_host_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DMP_FILE_DELAI_S", "0.01")
    return cli_host_env


@pytest.fixture
def qualified(env: Path) -> Path:
    """P01's identity qualifiée (its INSi call made, its identity document checked): only a
    qualifiée identity may be fed."""
    found = sandbox_patient("P01")
    assert found is not None and found.traits is not None
    with LocalStore.open(StoreSettings(env / "store")) as store:
        qualify(store.db, found.ins, found.traits)
    return env


def send_queued(folder: Path, title: str) -> int:
    report = folder / f"{title}.txt"
    report.write_text(f"{title}\n", encoding="utf-8")
    status, out, err = run(
        "send", str(report), "--patient", "P01", "--type", "11488-4", "--titre", title, "--mode", "structure",
        "--en-file",
    )  # fmt: skip
    assert status == 0, err
    return int(out.split("#", 1)[1].split(" ", 1)[0])


def test_queue_commands_from_queueing_to_the_audit_export(qualified: Path, host: DmpHost) -> None:
    env = qualified
    first = send_queued(env, "Compte rendu A")
    second = send_queued(env, "Compte rendu B")
    status, out, _ = run("queue", "list")
    assert status == 0 and "en attente : 2" in out and "Compte rendu A" in out and "Compte rendu B" in out
    status, _, _ = run("queue", "cancel", str(second))
    assert status == 0
    status, _, err = run("queue", "retry", str(second))
    assert status == 2 and "[FILE-ETAT]" in err and "annulé" in err
    status, out, _ = run("queue", "drain", "--mode", "structure")
    assert status == 0 and "1 envoyé(s)" in out
    status, out, _ = run("queue", "show", str(first))
    assert status == 0 and "envoyé" in out and "uniqueId 2.25." in out
    status, out, _ = run("queue", "list", "--tous")
    assert "envoyé : 1" in out and "annulé : 1" in out
    db = host.store.connect()
    assert db.execute("SELECT count(*) FROM xds_document WHERE title = 'Compte rendu A'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM xds_document WHERE title = 'Compte rendu B'").fetchone()[0] == 0

    status, out, _ = run("journal", "export", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [r["transaction"] for r in rows].count("TD2.1") == 1
    assert all(r["patient"].startswith("P-") for r in rows if r["patient"])
    assert P01 not in out and "DURAND" not in out
    status, out, _ = run("journal", "export", "--ins", P01)
    mine = next(r["patient"] for r in rows if r["transaction"] == "TD2.1")
    # header + this patient's rows (its identity's qualification among them)
    assert status == 0 and out.count("\n") == 1 + sum(r["patient"] == mine for r in rows)
    status, out, _ = run("journal", "export", "--ins", "150081505104018")
    assert status == 0 and out.count("\n") == 1  # another patient: nothing
    target = env / "audit.csv"
    status, _, err = run("journal", "export", "--sortie", str(target), "--depuis", "2000-01-01")
    assert status == 0 and target.read_text(encoding="utf-8").startswith("horodatage;acteur;")


def test_status_commands_are_journaled(env: Path) -> None:
    status, _, err = run("status", "--ins", P01, "--mode", "structure")
    assert status == 0, err
    _, out, _ = run("journal", "export")
    assert ";TD0.2;" in out and ";INDIRECTE;" in out and ";OK;" in out


def test_cache_and_store_commands(env: Path) -> None:
    status, out, _ = run("store", "check")
    assert status == 0 and "chiffrée, schéma v3" in out
    status, out, _ = run("cache", "status")
    assert status == 0 and "0 document(s)" in out
    status, out, _ = run("cache", "purge")
    assert status == 0 and "Cache vidé" in out
    status, _, err = run("find", "--ins", P01, "--hors-ligne")
    assert status == 2 and "[CACHE-VIDE]" in err


def test_an_unreadable_base_is_reported_then_set_aside(env: Path) -> None:
    folder = env / "store"
    folder.mkdir()
    (folder / "store.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 4096)
    status, _, err = run("queue", "list")
    assert status == 2 and "[STORE-ETRANGERE]" in err and "quarantine" in err
    status, out, _ = run("store", "quarantine")
    assert status == 0 and "conservée" in out
    assert any(p.name.startswith("store.db.ecartee-") for p in folder.iterdir())
    status, out, _ = run("queue", "list")
    assert status == 0 and "en attente : 0" in out


def test_hot_folder_once(qualified: Path, host: DmpHost) -> None:
    env = qualified
    drop = env / "depot"
    drop.mkdir()
    (drop / "cr.txt").write_text("Compte rendu déposé\n", encoding="utf-8")
    sidecar = {
        "ins": P01, "oid": "1.2.250.1.213.1.4.10", "nom": "DURAND", "prenoms": "CLAIRE MARIE", "sexe": "F",
        "naissance": "2007-05-14", "lieu": "85756", "type": "11488-4", "titre": "Dépôt du secrétariat",
    }  # fmt: skip
    (drop / "cr.txt.dmp.json").write_text(json.dumps(sidecar), encoding="utf-8")
    status, out, err = run("queue", "watch", str(drop), "--une-fois", "--stable", "0", "--mode", "structure")
    assert status == 0, err
    assert "1 mis en file" in out
    db = host.store.connect()
    assert (
        db.execute("SELECT count(*) FROM xds_document WHERE title = 'Dépôt du secrétariat'").fetchone()[0]
        == 1
    )
    assert not (drop / "cr.txt").exists()  # acknowledged by the host, then deleted
    leftovers = [p for p in drop.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
