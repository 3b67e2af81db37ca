"""TD0.2 over mutual TLS against the sandbox host: the client's cost as a ratio to a bare POST.

- baseline: httpx POSTs of one pre-built, pre-signed TD0.2 envelope to the same host over the same
  kind of TLS connection (keep-alive): network, TLS, host work, and nothing of the client;
- client: ``DmpClient.status`` (build the HL7v3 query, build and sign a fresh VIHF, post, parse);
- with 50 ms of injected host latency, to see that the client adds no waiting of its own.
Structure mode (software key), and card mode (the rig's card: SoftHSM2 behind pcscd, PKCS#11, the
card TLS transport) in the same run; in card mode the time the card spends signing each VIHF is
measured and reported apart (SoftHSM signs in software; a real CPS takes its own time), and the
client's p50 is also given without it. ``--no-card`` leaves the card rows out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app.config.settings import Settings
from app.dmp_client.client import DmpClient
from app.dmp_client.core.hl7v3 import ACTION_GET_DEMOGRAPHICS, Reason, build_get_demographics
from app.dmp_client.core.soap import build_envelope
from app.dmp_client.core.vihf import build_signed_vihf
from app.dmp_client.factory import card_client, structure_client
from app.ins import Ins
from sandbox import cards, rig
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
    parser.add_argument("--no-card", action="store_true", help="structure mode only (no card rig)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    if args.no_card:
        rig.build_pki(folder)
    else:
        from bench_xds import rig_up

        os.environ.update(rig_up(folder))
    host = DmpHost(("127.0.0.1", 0), HostConfig(folder / "pki", folder / "host"))
    serve_in_thread(host)
    os.environ["DMP_SANDBOX_DIR"] = str(folder)
    os.environ["DMP_HOST_URL"] = f"https://localhost:{host.server_address[1]}/si-dmp-server/v2/services"
    try:
        table(host, "structure mode", structure_client(Settings.load()), None, args.requests)
        if not args.no_card:
            client, card = card_client(Settings.load(), lambda status: cards.CARD_PIN)
            try:
                table(host, "card mode", client, card, args.requests)
            finally:
                card.close()
    finally:
        host.shutdown()
        if not args.no_card:
            tool = Path(sys.executable).parent / "dmp-sandbox"
            subprocess.run([str(tool), "--dir", str(folder), "rig", "down"], check=False)


def table(host: DmpHost, mode: str, client: DmpClient, card: object, requests: int) -> None:
    """The four rows of one mode; in card mode, the card's signing time per call apart."""
    host.config.faults.latency = 0.0
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

    expected = client.status(INS).authorized  # the structure is not authorised; the GP is

    def status() -> None:
        assert client.status(INS).authorized is expected

    signing: list[float] = []
    if card is not None:
        sign = client.signer.sign

        def timed_sign(data: bytes) -> bytes:
            start = time.perf_counter()
            try:
                return sign(data)
            finally:
                signing.append(time.perf_counter() - start)

        client.signer.sign = timed_sign  # type: ignore[method-assign]
    measure(20, post), measure(20, status)  # warm-up: TLS sessions, caches
    base = measure(requests, post)
    signing.clear()
    ours = measure(requests, status)
    card_signing = list(signing)
    host.config.faults.latency = 0.05
    slow_base = measure(requests // 5, post)
    slow_ours = measure(requests // 5, status)
    client.close()
    rows = [
        ("bare httpx POST (baseline)", base, base),
        ("DmpClient.status", ours, base),
        ("bare POST, host +50 ms", slow_base, slow_base),
        ("DmpClient.status, host +50 ms", slow_ours, slow_base),
    ]
    if card_signing:
        per_call = statistics.median(card_signing)
        rows.insert(2, ("DmpClient.status without the card's signature", [t - per_call for t in ours], base))
        rows.append(("the card's VIHF signature alone (SoftHSM2 over PKCS#11)", card_signing, base))
    print(f"\n| TD0.2, {mode}, {requests} requests | p50 | p95 | ratio of p50 to its baseline |")
    print("|---|---|---|---|")
    for name, samples, reference in rows:
        p50, p95 = percentiles(samples)
        print(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | {p50 / percentiles(reference)[0]:.2f} |")


if __name__ == "__main__":
    main()
