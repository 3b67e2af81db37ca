"""The process that sends the queue is killed (SIGKILL) at random points, many times over, while the
host is slow, failing, dropping connections and losing answers. At the end the host holds each
queued document exactly once, and the queue says so."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.store.local_store import LocalStore, StoreSettings
from app.store.queue import State
from sandbox.host.server import DmpHost
from tests.keyring_fixture import SystemKeyring
from tests.store.helpers import request_for

DOCUMENTS = 20
KILLS = 25
ENOUGH_KILLS = 8  # below this, the drains ended before they could be killed: the test proves nothing


def drain_process(host: DmpHost, pki_dir: Path, store_dir: Path) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        DMP_SANDBOX_DIR=str(pki_dir),
        DMP_HOST_URL=f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services",
        DMP_STORE_DIR=str(store_dir),
        DMP_FILE_DELAI_S="0.02",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "queue", "drain", "--mode", "structure"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def make_due(store_dir: Path) -> None:
    """What an impatient user does with « Réessayer »: the back-off (which grows to minutes after many
    failures) would otherwise make later drains end at once, with nothing to kill."""
    with LocalStore.open(StoreSettings(store_dir)) as store:
        for entry in store.queue.entries((State.QUEUED,)):
            store.queue.retry(entry.id)


@pytest.mark.slow
def test_killed_again_and_again_nothing_lost_nothing_doubled(
    system_keyring: SystemKeyring, host: DmpHost, pki_dir: Path, tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    with LocalStore.open(StoreSettings(store_dir)) as store:
        titles = [f"Crash {i}" for i in range(DOCUMENTS)]
        for title in titles:
            store.queue.enqueue(request_for(title=title), io.BytesIO(f"{title}\n".encode() * 2000))
    faults = host.config.faults
    faults.latency, faults.error_rate, faults.drop_rate, faults.lost_answer_rate = 0.03, 0.15, 0.1, 0.2
    faults.rng.seed(5)
    rng = random.Random(5)
    kills = 0
    for _ in range(KILLS):
        make_due(store_dir)
        process = drain_process(host, pki_dir, store_dir)
        time.sleep(rng.uniform(0.3, 1.2))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=30)
        if process.returncode == 0:
            break  # a drain ran to its end: the queue is empty, further kills would hit nothing
    faults.latency = faults.error_rate = faults.drop_rate = faults.lost_answer_rate = 0.0
    for _ in range(10):  # then the network is fine: drains run to their end
        make_due(store_dir)
        done = drain_process(host, pki_dir, store_dir)
        _, err = done.communicate(timeout=120)
        assert "Traceback" not in err, err
        if done.returncode == 0:
            break
        time.sleep(0.2)
    assert kills >= ENOUGH_KILLS, f"only {kills} drains were killed: the test proves nothing"
    db = host.store.connect()
    with LocalStore.open(StoreSettings(store_dir)) as store:
        entries = store.queue.entries()
        assert [e.state for e in entries] == [State.SENT] * DOCUMENTS, [(e.state, e.reason) for e in entries]
        for entry in entries:
            by_id = db.execute("SELECT count(*) FROM xds_document WHERE unique_id = ?", (entry.unique_id,))
            by_title = db.execute("SELECT count(*) FROM xds_document WHERE title = ?", (entry.title,))
            assert by_id.fetchone()[0] == 1 and by_title.fetchone()[0] == 1, entry.title
        assert store.db.execute("SELECT count(*) FROM queue_blob")[0][0] == 0
        interrupted = [
            c for e in entries for _, _, c in store.queue.history(e.id) if c == "FILE-ENVOI-INTERROMPU"
        ]
    assert interrupted, "no drain was killed in the middle of a send"
    confirmed = sum(e.reason_code == "FILE-DEJA-RECU" for e in entries)
    print(f"kills={kills} interrupted={len(interrupted)} confirmed={confirmed}")  # shown with -s
