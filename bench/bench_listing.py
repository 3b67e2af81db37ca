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

- **card mode** (unless ``--no-card``): the same full listing with the rig's card (SoftHSM2 behind
  pcscd and a vpcd reader, PKCS#11) over the card TLS transport, as a GP works: ``rig up`` in the
  bench's folder (its PKI is the host's), ``rig down`` at the end whatever happens. Reported
  besides: the card's signatures per listing (VIHF signatures and full TLS handshakes; resumed
  handshakes cost none).
- **CPU per request**: the client's (its process) and the sandbox host's (its process, read from
  ``/proc``) during the listing: on a 2-core machine both share the cores, and each process's own
  work per request (one Python interpreter each) adds to the 50 ms of every round trip.
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

from bench_xds import (
    _wait,
    card_client_of_rig,
    direct_client,
    free_port,
    peak_rss,
    rig_up,
    rss_now,
    traits_of,
)

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


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_listing(
    client: DmpClient, pid: str = "P01", *, profile: bool = False, sort: str = "tottime"
) -> dict[str, Any]:
    """One full listing of ``pid`` with ``client`` (structure or card mode): time, requests, the
    client's concurrency, documents, peak RSS growth of this process during it, the CPU of this
    process and of the host's (``BENCH_HOST_PID``) during it, the card's signatures (card mode)."""
    ins, _ = traits_of(pid)
    post = client.transport.post
    sign = client.signer.sign
    requests = signatures = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal requests
        requests += 1
        return post(*args, **kwargs)

    def signed(data: bytes) -> bytes:
        nonlocal signatures
        signatures += 1
        return sign(data)

    tls = client.transport._client._transport
    handshakes = getattr(tls, "full_handshakes", 0)
    client.transport.post = counted  # type: ignore[method-assign]
    client.signer.sign = signed  # type: ignore[method-assign]
    host_pid = int(os.environ.get("BENCH_HOST_PID", "0"))
    host_cpu = cpu_of(host_pid) if host_pid else 0.0
    cpu = time.process_time()
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
    cpu = time.process_time() - cpu
    host_cpu = cpu_of(host_pid) - host_cpu if host_pid else 0.0
    growth = max(0, peak_rss() - before)
    client.transport.post = post  # type: ignore[method-assign]
    client.signer.sign = sign  # type: ignore[method-assign]
    out: dict[str, Any] = {
        "documents": len(documents),
        "time": elapsed,
        "requests": requests,
        "concurrency": client.transport.concurrency,
        "growth": growth,
        "cpu": cpu,
        "host_cpu": host_cpu,
        "signatures": signatures,
        "handshakes": getattr(tls, "full_handshakes", 0) - handshakes,
    }
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(30)
        out["profile"] = text.getvalue()
    return out


def child(folder: Path, profile: bool, mode: str = "software", runs: int = 1) -> dict[str, Any]:
    """In a fresh process: warm-up, the bare round trip, then ``runs`` full listings (the median's
    figures; every time kept)."""
    card = None
    if mode == "card":
        client, card = card_client_of_rig()
    else:
        client = direct_client(folder)
    client.find_documents(traits_of("P03")[0], check=False)  # warm-up: imports, VIHF, a connection
    # The first full listing (reported apart): new connections (card: the TLS session resumed), and
    # the sandbox host builds each ExtrinsicObject once per row (queries.extrinsic keeps the bytes).
    first = measure_listing(client)["time"]
    base = bare_round_trip(client)
    results = sorted((measure_listing(client) for _ in range(runs)), key=lambda r: float(r["time"]))
    result = results[len(results) // 2]
    result["times"] = [r["time"] for r in results]
    result["first"] = first
    result["mode"] = mode
    if profile:
        result["profile"] = measure_listing(client, profile=True)["profile"]
    result["round_trip"] = base
    client.close()
    if card is not None:
        card.close()  # type: ignore[attr-defined]
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


def run_size(
    folder: Path, env: dict[str, str], count: int, profile: bool, modes: list[str], runs: int
) -> dict[str, dict[str, Any]]:
    """One host seeded with ``count`` documents; one child per mode against it."""
    port = free_port()
    env = dict(env, DMP_HOST_URL=f"https://localhost:{port}/si-dmp-server/v2/services")
    host = subprocess.Popen(
        [sys.executable, __file__, "--host", str(count), "--port", str(port)], env=env, stdout=subprocess.PIPE
    )
    results = {}
    try:
        assert host.stdout is not None
        host.stdout.readline()  # "ready": seeded and listening
        _wait(port)
        env["BENCH_HOST_PID"] = str(host.pid)
        for mode in modes:
            command = [sys.executable, __file__, "--child", "--mode", mode, "--runs", str(runs)]
            out = subprocess.run(
                command + (["--profile"] if profile else []),
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode:
                raise SystemExit(out.stderr)
            results[mode] = dict(json.loads(out.stdout.strip().splitlines()[-1]))
        return results
    finally:
        host.terminate()
        host.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,8000", help="documents seeded for P01")
    parser.add_argument("--runs", type=int, default=3, help="full listings per size and mode (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the full P01 listing")
    parser.add_argument("--no-card", action="store_true", help="software keys only (no card rig)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="software", help=argparse.SUPPRESS)
    parser.add_argument("--host", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host is not None:
        host_main(Path(os.environ["DMP_SANDBOX_DIR"]), args.port, args.host, LATENCY)
        return
    if args.child:
        work = Path(tempfile.mkdtemp(dir=os.environ["BENCH_DIR"]))
        print(json.dumps(child(work, args.profile, args.mode, args.runs)))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    modes = ["software"] if args.no_card else ["software", "card"]
    env = dict(os.environ, DMP_SANDBOX_DIR=str(folder), BENCH_DIR=str(folder))
    try:
        if "card" in modes:
            env.update(rig_up(folder))  # its PKI is the host's and the software keys' too
        else:
            rig.build_pki(folder)
        env.update(DMP_SANDBOX_DIR=str(folder), BENCH_DIR=str(folder))
        os.environ.update(env)
        rows = []
        for count in (int(s) for s in args.sizes.split(",")):
            rows.append(
                (count, run_size(folder, env, count, args.profile and count == 2000, modes, args.runs))
            )
    finally:
        if "card" in modes:
            subprocess.run(
                [str(Path(sys.executable).parent / "dmp-sandbox"), "--dir", str(folder), "rig", "down"],
                check=False,
            )
    report(rows, modes, args.runs)


def report(rows: list[tuple[int, dict[str, dict[str, Any]]]], modes: list[str], runs: int) -> None:
    full = next((r for c, r in rows if c == 2000), rows[0][1])
    print(
        f"\n| full P01 listing, host +{LATENCY * 1000:.0f} ms, median of {runs} | " + " | ".join(modes) + " |"
    )
    print("|---|" + "---|" * len(modes))

    def line(name: str, cell: Any) -> None:
        print(f"| {name} | " + " | ".join(cell(full[m]) for m in modes) + " |")

    def nominal(r: dict[str, Any]) -> float:
        return floor(r["requests"], r["concurrency"], LATENCY)

    def measured(r: dict[str, Any]) -> float:
        return floor(r["requests"], r["concurrency"], r["round_trip"])

    line("entries listed", lambda r: f"{r['documents']:,}")
    line("concurrency / requests", lambda r: f"{r['concurrency']} / {r['requests']}")
    line(
        "signatures with the GP's key: VIHF + full TLS handshakes",
        lambda r: f"{r['signatures']} + {r['handshakes'] if r['mode'] == 'card' else 'n/a (ssl)'}",
    )
    line("bare ITI-18 round trip (baseline)", lambda r: f"{r['round_trip'] * 1000:.1f} ms")
    line("floor x 50 ms / x measured round trip", lambda r: f"{nominal(r):.2f} s / {measured(r):.2f} s")
    line(
        "listing (every run)",
        lambda r: f"**{r['time']:.2f} s** ({', '.join(f'{t:.2f}' for t in r['times'])})",
    )
    line(
        "ratio to the floor (50 ms / measured)",
        lambda r: f"{r['time'] / nominal(r):.2f} / {r['time'] / measured(r):.2f}",
    )
    line("first listing of the child (cold: connections, host's cache)", lambda r: f"{r['first']:.2f} s")
    line("client CPU per request", lambda r: f"{r['cpu'] / r['requests'] * 1000:.1f} ms")
    line("host CPU per request", lambda r: f"{r['host_cpu'] / r['requests'] * 1000:.1f} ms")
    if "software" in modes and "card" in modes:
        ratio = full["card"]["time"] / full["software"]["time"]
        print(f"\ncard ÷ software keys (same run): {ratio:.2f}")
    print("\n| P01 seeded with | mode | entries listed | requests | time | ratio to the floor "
          "| peak RSS growth | per document |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for count, by_mode in rows:
        for mode, r in by_mode.items():
            f = floor(r["requests"], r["concurrency"], LATENCY)
            print(
                f"| {count:,} | {mode} | {r['documents']:,} | {r['requests']} | {r['time']:.2f} s "
                f"| {r['time'] / f:.2f} | {r['growth'] / MB:.1f} MiB "
                f"| {r['growth'] / max(r['documents'], 1) / 1024:.1f} KiB |"
            )
    for mode in modes:
        if "profile" in full[mode]:
            print(f"\ncProfile of the full P01 listing, {mode}, one request at a time (tottime):\n")
            print(full[mode]["profile"])


if __name__ == "__main__":
    main()
