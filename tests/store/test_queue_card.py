"""Card-mode entries on the real rig (pcscd + vpcd + SoftHSM CPS, the sandbox host over mutual TLS
signed on the card): the card pulled out while entries wait, then back; PIN asked once, never
retried."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.identity_helpers import qualify_in_child
from tests.rig_fixture import Rig, tool

pytestmark = pytest.mark.device
P04 = "285127505612353"


RIG_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def rig_env(rig: Rig) -> None:
    """The rig's own keyring and store: other tests may have pointed this process at another
    Secret Service (``system_keyring``), in which the rig's base has no key."""
    RIG_ENV.clear()
    RIG_ENV.update(rig.env)


def dmp(*args: str, stdin: str = "1234\n", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("dmp"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **RIG_ENV, **extra},
    )


def host_copies(rig: Rig, title: str) -> int:
    db = sqlite3.connect(rig.folder / "host" / "dmp.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM xds_document WHERE title = ?", (title,)).fetchone()[0])
    finally:
        db.close()


def test_card_entries_wait_for_the_card_then_go_once(cards_reset: Rig, tmp_path: Path) -> None:
    rig = cards_reset
    report = tmp_path / "cr.txt"
    report.write_text("Compte rendu de consultation\n", encoding="utf-8")
    titles = [f"Carte {uuid.uuid4().hex[:8]} {i}" for i in range(2)]
    qualify_in_child({**os.environ, **rig.env}, "P04")  # only a qualifiée identity is queued
    for title in titles:
        queued = dmp(
            "send", str(report), "--patient", "P04", "--type", "11488-4", "--titre", title, "--en-file"
        )
        assert queued.returncode == 0, queued.stderr
        assert "entrée #" in queued.stdout
    rig.remove(0)
    waiting = dmp("queue", "drain", "--mode", "carte", "--pin-stdin")
    assert waiting.returncode == 1, waiting.stderr
    assert "carte CPS" in waiting.stdout and "[CARTE-ABSENTE]" in waiting.stdout
    listed = dmp("queue", "list")
    assert listed.stdout.count("en attente") >= 2 and "tentative(s)" not in listed.stdout
    assert all(host_copies(rig, t) == 0 for t in titles)

    rig.insert(0, "cps:generaliste")
    wrong = dmp("queue", "drain", "--mode", "carte", "--pin-stdin", stdin="0000\n")
    assert wrong.returncode == 1 and "[CARTE-CODE-FAUX]" in wrong.stdout
    assert wrong.stderr.count("Code porteur (") == 1  # asked once, not retried

    sent = dmp("queue", "drain", "--mode", "carte", "--pin-stdin")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "2 envoyé(s)" in sent.stdout
    assert all(host_copies(rig, t) == 1 for t in titles)
    journal = dmp("journal", "export", "--format", "csv")
    assert journal.returncode == 0 and ";TD2.1;" in journal.stdout
    assert "285127505612353" not in journal.stdout  # the INS never appears: pseudonyms only


def test_retrieved_documents_come_from_the_cache_after_the_rights_check(rig: Rig, tmp_path: Path) -> None:
    report = tmp_path / "cr.txt"
    report.write_text("Compte rendu pour le cache\n", encoding="utf-8")
    qualify_in_child({**os.environ, **rig.env}, "P04")  # only a qualifiée identity feeds
    sent = dmp(
        "send", str(report), "--patient", "P04", "--type", "11488-4", "--titre", "Cache", "--pin-stdin"
    )
    assert sent.returncode == 0, sent.stderr
    unique_id = sent.stdout.strip().rsplit(" ", 1)[-1]
    first, second = tmp_path / "1.xml", tmp_path / "2.xml"
    got = dmp("get", "--ins", P04, "--document", unique_id, "--sortie", str(first), "--pin-stdin")
    assert got.returncode == 0 and got.stdout.strip().endswith("DMP)"), got.stdout + got.stderr
    again = dmp("get", "--ins", P04, "--document", unique_id, "--sortie", str(second), "--pin-stdin")
    assert again.returncode == 0 and again.stdout.strip().endswith("cache local)")
    assert first.read_bytes() == second.read_bytes()

    done = dmp("status", "--ins", P04, "--pin-stdin", DMP_CACHE_PURGE_FIN_SESSION="1")
    assert done.returncode == 0, done.stderr
    status = dmp("cache", "status")
    assert "0 liste(s), 0 document(s)" in status.stdout  # purged when the card session ended
