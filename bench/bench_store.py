"""The local store: time to queue a document durably, and drain throughput against the sandbox host.

- Enqueue: ``UploadQueue.enqueue`` of a document (request + bytes in the SQLCipher base, one
  transaction, WAL with synchronous=FULL) for 100 KB, 1 MB and 10 MB; p50 over the runs. Baseline:
  the least a durable write costs, the same bytes written to a new file, fsync'ed and renamed into
  place (then the folder fsync'ed).
- Drain: N reports of 100 KB for P01 in structure mode (the secretariat's case) over mutual TLS to
  the sandbox host in its own process. Baseline: the same N reports sent directly with
  ``DmpClient.send``, one after the other, on one keep-alive connection. Measured: the same N
  reports queued beforehand, then ``QueueSender.drain`` (claim, read back and check the bytes,
  status check cached, send, acknowledge and erase). Peak RSS growth during the drain.
The base's key lives in a private Secret Service (gnome-keyring on its own D-Bus), as on CI.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_xds import _wait, free_port, peak_rss, rss_now, serve, traits_of

from app.config.settings import Settings
from app.dmp_client.client import DmpClient
from app.dmp_client.documents import NewDocument
from app.dmp_client.factory import structure_client
from app.store.local_store import LocalStore, StoreSettings
from app.store.queue import State
from app.store.request import SendMode, UploadRequest
from sandbox import keyring_daemon, rig

KB = 1024


class Structure:
    def __init__(self, client: DmpClient) -> None:
        self._client = client

    def client(self, mode: SendMode, professional: str | None) -> DmpClient:
        return self._client

    def invalidate(self, mode: SendMode) -> None:
        return None


def request(title: str) -> UploadRequest:
    ins, traits = traits_of("P01")
    return UploadRequest(ins, traits, "application/pdf", "11488-4", title, SendMode.STRUCTURE)


def durable_file_write(folder: Path, data: bytes, n: int) -> float:
    start = time.perf_counter()
    partial, final = folder / f"f{n}.part", folder / f"f{n}.bin"
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(final)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return time.perf_counter() - start


def bench_enqueue(store: LocalStore, folder: Path, runs: int) -> None:
    print("| enqueue (durable) | file write + fsync + rename (baseline) | UploadQueue.enqueue | ratio |")
    print("|---|---|---|---|")
    for size in (100 * KB, 1024 * KB, 10 * 1024 * KB):
        data = os.urandom(size)
        files, queued = [], []
        for n in range(runs):
            files.append(durable_file_write(folder, data, n))
            start = time.perf_counter()
            store.queue.enqueue(request(f"Mesure {size} {n}"), io.BytesIO(data))
            queued.append(time.perf_counter() - start)
        base, mine = statistics.median(files), statistics.median(queued)
        label = f"{size // KB} KB" if size < 1024 * KB else f"{size // (1024 * KB)} MB"
        print(f"| {label} | {base * 1000:.1f} ms | {mine * 1000:.1f} ms | {mine / base:.2f} |")
        for entry in store.queue.entries([State.QUEUED]):
            store.queue.cancel(entry.id)  # keep the base small between sizes


def bench_drain(store: LocalStore, count: int, pdf: bytes) -> None:
    settings = Settings.load()
    ins, traits = traits_of("P01")
    client = structure_client(settings)
    client.journal = store.journal
    try:
        source = Path(tempfile.mkdtemp()) / "cr.pdf"
        source.write_bytes(pdf)
        client.send(ins, NewDocument(source, "application/pdf", "11488-4", "Préchauffage", traits))
        start = time.perf_counter()
        for n in range(count):
            client.send(ins, NewDocument(source, "application/pdf", "11488-4", f"Direct {n}", traits))
        direct = time.perf_counter() - start
        for n in range(count):
            store.queue.enqueue(request(f"File {n}"), io.BytesIO(pdf))
        before = rss_now()
        start = time.perf_counter()
        report = store.sender(Structure(client)).drain((SendMode.STRUCTURE,))
        drained = time.perf_counter() - start
        growth = max(0, peak_rss() - before)
    finally:
        client.close()
    if len(report.sent) != count:
        raise SystemExit(f"drain incomplete: {report.summary()}")
    print(f"\n| drain, {count} reports of {len(pdf) // KB} KB, structure mode | time | reports/s | ratio |")
    print("|---|---|---|---|")
    print(
        f"| direct DmpClient.send, one after the other (baseline) | {direct:.2f} s "
        f"| {count / direct:.1f} | 1.00 |"
    )
    print(
        f"| QueueSender.drain of the same reports, queued beforehand | {drained:.2f} s "
        f"| {count / drained:.1f} | {drained / direct:.2f} |"
    )
    print(f"\nPeak RSS growth during the drain: {growth / (1024 * KB):.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reports", type=int, default=40)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    rig.build_pki(folder)
    secrets = keyring_daemon.start(folder / "keyring")
    os.environ.update(keyring_daemon.client_env(secrets))
    port = free_port()
    os.environ["DMP_SANDBOX_DIR"] = str(folder)
    os.environ["DMP_HOST_URL"] = f"https://localhost:{port}/si-dmp-server/v2/services"
    host = serve(folder, port, "host", dict(os.environ))
    try:
        _wait(port)
        with LocalStore.open(StoreSettings(folder / "store")) as store:
            bench_enqueue(store, folder, args.runs)
        with LocalStore.open(StoreSettings(folder / "store-drain")) as store:
            bench_drain(store, args.reports, b"%PDF-1.4\n" + os.urandom(100 * KB) + b"\n%%EOF\n")
    finally:
        host.terminate()
        host.wait()
        keyring_daemon.stop(secrets)


if __name__ == "__main__":
    main()
