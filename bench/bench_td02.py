"""TD0.2 over mutual TLS against the sandbox host: the client's cost as a ratio to a bare POST.

- baseline: httpx POSTs of one pre-built, pre-signed TD0.2 envelope to the same host over the same
  kind of TLS connection (keep-alive): network, TLS, host work, and nothing of the client;
- client: ``DmpClient.status`` (build the HL7v3 query, build and sign a fresh VIHF, post, parse);
- with 50 ms of injected host latency, to see that the client adds no waiting of its own.
Structure mode (software key): the card's own signing time is the card's, not ours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from app.config.settings import Settings
from app.dmp_client.core.hl7v3 import ACTION_GET_DEMOGRAPHICS, Reason, build_get_demographics
from app.dmp_client.core.soap import build_envelope
from app.dmp_client.core.vihf import build_signed_vihf
from app.dmp_client.factory import structure_client
from app.ins import Ins
from sandbox import rig
from sandbox.host.server import DmpHost, HostConfig, serve_in_thread

INS = Ins.parse("150081505104018", "1.2.250.1.213.1.4.10")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def measure(count: int, call: object) -> list[float]:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    rig.build_pki(folder)
    host = DmpHost(("127.0.0.1", 0), HostConfig(folder / "pki", folder / "host"))
    serve_in_thread(host)
    import os

    os.environ["DMP_SANDBOX_DIR"] = str(folder)
    os.environ["DMP_HOST_URL"] = f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services"
    client = structure_client(Settings.load())
    context = client._context(INS)
    envelope = build_envelope(
        ACTION_GET_DEMOGRAPHICS,
        build_get_demographics(INS, client.session.sender_oid, Reason.TEST_EXISTENCE),
        build_signed_vihf(context, client.signer),
    )
    bare = client.transport._client
    url = f"{os.environ['DMP_HOST_URL']}/patients"
    headers = {"Content-Type": envelope.content_type}

    def post() -> None:
        assert bare.post(url, content=envelope.body, headers=headers).status_code == 200

    def status() -> None:
        assert client.status(INS).authorized is False

    measure(20, post), measure(20, status)  # warm-up: TLS sessions, caches
    base = measure(args.requests, post)
    ours = measure(args.requests, status)
    host.config.faults.latency = 0.05
    slow_base = measure(args.requests // 5, post)
    slow_ours = measure(args.requests // 5, status)
    client.close()
    host.shutdown()
    rows = [
        ("bare httpx POST (baseline)", base, base),
        ("DmpClient.status", ours, base),
        ("bare POST, host +50 ms", slow_base, slow_base),
        ("DmpClient.status, host +50 ms", slow_ours, slow_base),
    ]
    print(f"| TD0.2, structure mode, {args.requests} requests | p50 | p95 | ratio of p50 to its baseline |")
    print("|---|---|---|---|")
    for name, samples, reference in rows:
        p50, p95 = percentiles(samples)
        print(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | {p50 / percentiles(reference)[0]:.2f} |")


if __name__ == "__main__":
    main()
