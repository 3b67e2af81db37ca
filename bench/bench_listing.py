"""The full ITI-18 listing of a large record at 50 ms of host latency: time against the floor of its
round trips, and memory as the record grows (issue 16, items 4 and 6).

The sandbox host runs in its own process (``sandbox.host.server.DmpHost`` with ``Faults.latency``),
P01 seeded with the number of documents asked; each client measurement in a fresh child process, so
the RSS figures are the client's. Direct mode with the GP's card-shaped software keys from the test
PKI, mutual TLS over the standard ``ssl`` transport ("structure mode" rows: software keys).

- **full P01**: FindDocuments (every status) as ObjectRef, then GetDocumentsAndAssociations in batches
  of 20 with ``transport.concurrency`` in flight (``DmpClient.find_documents``). Reported: concurrency,
  requests, the floor ``(1 + ceil((requests - 1) / concurrency)) x latency`` and the ratio to it; the
  measured floor uses the round trip of one bare POST of an ITI-18 measured in the same run (the
  baseline), the nominal floor the injected latency alone.
- **growth**: the same listing at ~500, ~2,000 and ~8,000 documents: time, peak RSS growth of the
  child during the listing, RSS per document.

Card mode: :func:`measure_listing` takes any client; the card-mode rows (the rig's card through
``card_tls``) are to be added by calling it with a card client (``factory.card_client``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_xds import _wait, direct_client, free_port, peak_rss, rss_now, traits_of

from app.dmp_client.client import DmpClient
from app.dmp_client.core import iti18
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import FindDocuments, ReturnType, StoredQuery
from sandbox import rig

MB = 1024 * 1024
LATENCY = 0.05
ALL = (Status.APPROVED, Status.ARCHIVED, Status.DEPRECATED)


def floor(requests: int, concurrency: int, round_trip: float) -> float:
    """The least time a listing of ``requests`` exchanges can take: the ObjectRef query, then the
    batches ``concurrency`` at a time, each costing one round trip."""
    return (1 + math.ceil(max(requests - 1, 0) / max(concurrency, 1))) * round_trip


def bare_round_trip(client: DmpClient, pid: str = "P01", runs: int = 5) -> float:
    """Baseline: the p50 of a bare POST of one pre-built, pre-signed ITI-18 (ObjectRef, small answer)
    through the client's own connection pool: the host's latency plus one exchange's fixed cost."""
    ins, _ = traits_of(pid)
    envelope = client._envelope(
        iti18.ACTION,
        iti18.build_query(
            StoredQuery.FIND_DOCUMENTS, FindDocuments(ins, statuses=ALL).parameters(), ReturnType.OBJECT_REF
        ),
        ins,
        "registry",
    )
    url = f"{os.environ['DMP_HOST_URL']}/registry"
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.transport._client.post(
            url, content=envelope.body, headers={"Content-Type": envelope.content_type}, timeout=600
        )
        assert response.status_code == 200
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure_listing(
    client: DmpClient, pid: str = "P01", *, profile: bool = False, sort: str = "tottime"
) -> dict[str, Any]:
    """One full listing of ``pid`` with ``client`` (structure or card mode): time, requests, the
    client's concurrency, documents, peak RSS growth of this process during it. The hook for the
    card-mode rows: call it with a card client."""
    ins, _ = traits_of(pid)
    post = client.transport.post
    requests = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal requests
        requests += 1
        return post(*args, **kwargs)

    client.transport.post = counted  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None
    concurrency = client.transport.concurrency
    if profiler is not None:  # cProfile sees one thread: the same work, one request at a time
        client.transport.concurrency = 1
    before = rss_now()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    documents = client.find_documents(ins, FindDocuments(ins, statuses=ALL), check=False)
    if profiler is not None:
        profiler.disable()
        client.transport.concurrency = concurrency
    elapsed = time.perf_counter() - start
    growth = max(0, peak_rss() - before)
    client.transport.post = post  # type: ignore[method-assign]
    out: dict[str, Any] = {
        "documents": len(documents),
        "time": elapsed,
        "requests": requests,
        "concurrency": client.transport.concurrency,
        "growth": growth,
    }
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(30)
        out["profile"] = text.getvalue()
    return out


def child(folder: Path, profile: bool) -> dict[str, Any]:
    client = direct_client(folder)
    client.find_documents(traits_of("P03")[0], check=False)  # warm-up: connections, imports, VIHF
    base = bare_round_trip(client)
    result = measure_listing(client)
    if profile:
        result["profile"] = measure_listing(client, profile=True)["profile"]
    result["round_trip"] = base
    client.close()
    return result


def host_main(folder: Path, port: int, count: int, latency: float) -> None:
    """The sandbox host with P01 seeded with ``count`` documents (the others as shipped)."""
    import types
    from importlib import resources

    from sandbox.host import store as host_store
    from sandbox.host.server import DmpHost, Faults, HostConfig

    shipped = resources.files("sandbox").joinpath("data/dmp.json").read_text(encoding="utf-8")
    states = json.loads(shipped)
    states["P01"]["documents"] = count
    text = json.dumps(states)

    class _Resources:  # the host's seed reads data/dmp.json through importlib.resources
        @staticmethod
        def files(_package: str) -> Any:
            return types.SimpleNamespace(
                joinpath=lambda _path: types.SimpleNamespace(read_text=lambda encoding="utf-8": text)
            )

    host_store.resources = _Resources  # type: ignore[attr-defined, assignment]
    data = folder / f"host-{count}"
    host = DmpHost(("127.0.0.1", port), HostConfig(folder / "pki", data, faults=Faults(latency=latency)))
    print("ready", flush=True)
    host.serve_forever()


def run_size(folder: Path, env: dict[str, str], count: int, profile: bool) -> dict[str, Any]:
    port = free_port()
    env = dict(env, DMP_HOST_URL=f"https://localhost:{port}/si-dmp-server/v2/services")
    host = subprocess.Popen(
        [sys.executable, __file__, "--host", str(count), "--port", str(port)], env=env, stdout=subprocess.PIPE
    )
    try:
        assert host.stdout is not None
        host.stdout.readline()  # "ready": seeded and listening
        _wait(port)
        command = [sys.executable, __file__, "--child", *(["--profile"] if profile else [])]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(out.stderr)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        host.terminate()
        host.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,8000", help="documents seeded for P01")
    parser.add_argument("--profile", action="store_true", help="cProfile of the full P01 listing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host is not None:
        host_main(Path(os.environ["DMP_SANDBOX_DIR"]), args.port, args.host, LATENCY)
        return
    if args.child:
        print(json.dumps(child(Path(tempfile.mkdtemp(dir=os.environ["BENCH_DIR"])), args.profile)))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    rig.build_pki(folder)
    env = dict(os.environ, DMP_SANDBOX_DIR=str(folder), BENCH_DIR=str(folder))
    os.environ.update(env)
    rows = []
    for count in (int(s) for s in args.sizes.split(",")):
        rows.append((count, run_size(folder, env, count, args.profile and count == 2000)))
    full = next((r for c, r in rows if c == 2000), rows[0][1])
    nominal = floor(full["requests"], full["concurrency"], LATENCY)
    measured = floor(full["requests"], full["concurrency"], full["round_trip"])
    print(f"\n| full P01 listing, host +{LATENCY * 1000:.0f} ms, structure mode (software keys) | value |")
    print("|---|---|")
    print(f"| documents | {full['documents']:,} |")
    print(f"| concurrency | {full['concurrency']} |")
    print(f"| requests | {full['requests']} |")
    print(f"| bare ITI-18 round trip (baseline) | {full['round_trip'] * 1000:.1f} ms |")
    print(f"| floor (1 + ceil((requests - 1) / concurrency)) x latency | {nominal:.2f} s |")
    print(f"| floor x measured round trip | {measured:.2f} s |")
    print(f"| listing | {full['time']:.2f} s |")
    print(f"| ratio to the floor (latency / measured round trip) | {full['time'] / nominal:.2f} / "
          f"{full['time'] / measured:.2f} |")  # fmt: skip
    print("\n| P01 seeded with | entries listed | requests | time | ratio to the floor | peak RSS growth "
          "| per document |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for count, r in rows:
        f = floor(r["requests"], r["concurrency"], LATENCY)
        print(
            f"| {count:,} | {r['documents']:,} | {r['requests']} | {r['time']:.2f} s | {r['time'] / f:.2f} "
            f"| {r['growth'] / MB:.1f} MiB | {r['growth'] / max(r['documents'], 1) / 1024:.1f} KiB |"
        )
    if "profile" in full:
        print("\ncProfile of the full P01 listing, one request at a time (tottime):\n")
        print(full["profile"])


if __name__ == "__main__":
    main()
