"""`dmp send` refuses a patient whose identity is not qualifiée (issue 17): directly (before any
exchange with the DMP) and through the queue (--en-file), with the code and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.identity import IdentityLifecycle, IdentityStatus, InsiAnswer
from app.services.training import sandbox_patient
from app.store.local_store import LocalStore, StoreSettings
from sandbox.host.server import DmpHost
from tests.cli_helpers import run
from tests.identity_helpers import NOW, qualify_in_store


@pytest.fixture
def env(cli_host_env: Path) -> Path:
    (cli_host_env / "cr.txt").write_text("Compte rendu\n", encoding="utf-8")
    return cli_host_env


def host_documents(host: DmpHost) -> int:
    return int(host.store.connect().execute("SELECT count(*) FROM xds_document").fetchone()[0])


SEND = ("send", "--patient", "P03", "--type", "11488-4", "--titre", "Compte rendu", "--mode", "structure")


@pytest.mark.parametrize("queued", [False, True], ids=["direct", "en-file"])
def test_send_refuses_a_non_qualified_identity(env: Path, host: DmpHost, queued: bool) -> None:
    found = sandbox_patient("P03")
    assert found is not None and found.traits is not None
    with LocalStore.open(StoreSettings(env / "store")) as store:  # récupérée only: no document checked
        life = IdentityLifecycle(store.db)
        life.record_insi(found.ins, found.traits, InsiAnswer(found.ins, found.traits, "R1", NOW), "test")
        assert life.status(found.ins) is IdentityStatus.RECUPEREE
    before = host_documents(host)
    status, out, err = run(SEND[0], str(env / "cr.txt"), *SEND[1:], *(["--en-file"] if queued else []))
    assert status != 0 and "IDENTITE-NON-QUALIFIEE" in err and "pièce d'identité" in err, err
    assert "Document" not in out and host_documents(host) == before
    with LocalStore.open(StoreSettings(env / "store")) as store:
        assert store.queue.entries() == []


def test_send_feeds_a_qualified_identity(env: Path, host: DmpHost) -> None:
    qualify_in_store(env / "store", "P03")
    status, out, err = run(SEND[0], str(env / "cr.txt"), *SEND[1:])
    assert status == 0 and "Document déposé" in out, err
