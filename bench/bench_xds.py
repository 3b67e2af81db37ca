"""ITI-41 ingest of 1, 10 and 50 MB documents and ITI-18 listing of the 2,000-document patient.

The sandbox host runs in its own process (``dmp-sandbox serve``), so the client's memory is the
client's. Two client modes in the same run, mutual TLS, keep-alive: the GP's keys as software keys
over the standard ``ssl`` transport ("software keys"), and the rig's card (SoftHSM2 behind pcscd and
a vpcd reader, PKCS#11) over the card TLS transport ("card"), as a GP works. ``--no-card`` leaves the
card rows out (a machine without the rig's packages).

- ITI-41: each size in a fresh child process. Baseline: a bare streaming httpx POST, from a file,
  of a complete ITI-41 MTOM body the client built beforehand without sending it (same bytes on the
  wire, same host work: the host has never seen that document).
  Measured: ``DmpClient.send`` of a PDF of that size (CDA wrapping with streamed base64, hashes,
  XAdES signature, metadata, MTOM streamed from a temporary file). Peak memory: growth of the
  child's peak RSS during the send, as a multiple of the document's size.
- ITI-18: p50 / p95 over repeated listings with 50 ms of latency injected per request by the host:
  the first search (two years, approved), the full listing (ObjectRef, then GetDocumentsAndAssociations
  in batches of 20 fetched concurrently), and as baseline one bare LeafClass FindDocuments POST.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from app.config.settings import Settings
from app.dmp_client.client import DmpClient, Session
from app.dmp_client.core import iti18
from app.dmp_client.core.context import (
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    Actor,
    AuthMode,
    Code,
    Purpose,
)
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import FindDocuments, ReturnType, StoredQuery
from app.dmp_client.core.mtom import MtomRequest
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.documents import NewDocument
from app.dmp_client.factory import author_of
from app.dmp_client.transport import Endpoint, Transport, client_context
from app.ins import IdentityTraits, Ins
from sandbox import cards, pki, rig

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def traits_of(pid: str) -> tuple[Ins, IdentityTraits]:
    from app.services.training import sandbox_patient

    patient = sandbox_patient(pid)
    assert patient is not None and patient.traits is not None
    return patient.ins, patient.traits


def fake_pdf(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.write(b"%PDF-1.4\n")
        block = os.urandom(MB)
        while f.tell() < size - 6:
            f.write(block[: min(MB, size - 6 - f.tell())])
        f.write(b"%%EOF\n")


def card_client_of_rig() -> tuple[DmpClient, object]:
    """The GP's card in the rig (reader 0), as the product opens it: PIN, card TLS, card VIHF."""
    from app.dmp_client.factory import card_client

    return card_client(Settings.load(), lambda status: cards.CARD_PIN)


def child_send(size: int, folder: Path, mode: str) -> dict[str, float]:
    """In a fresh process: the client's send (measured), then a bare replay of the same bytes."""
    card = None
    if mode == "card":
        client, card = card_client_of_rig()
    else:
        client = direct_client(folder)
    ins, traits = traits_of("P03")
    pdf = folder / f"doc-{size}.pdf"
    fake_pdf(pdf, size)
    small = folder / "warm.pdf"
    fake_pdf(small, 4096)
    client.send(ins, NewDocument(small, "application/pdf", "11488-4", "Préchauffage", traits))
    # Baseline body: a complete ITI-41 request of this size built by the client but not sent, then
    # POSTed bare (streamed from disk) over the same connection: same bytes on the wire, and the host
    # does the same work (it has never seen this document).
    captured = folder / f"request-{size}.mime"
    real_post = client.transport.post

    def capture(service: str, request: object, timeout: float, **_: object) -> object:
        assert isinstance(request, MtomRequest)
        with captured.open("wb") as out:
            for chunk in request.chunks():
                out.write(chunk)
        raise Captured(request.content_type)

    client.transport.post = capture  # type: ignore[method-assign, assignment]
    try:
        client.send(ins, NewDocument(pdf, "application/pdf", "11488-4", "Référence", traits))
        raise SystemExit("the request was not captured")
    except Captured as done:
        content_type = str(done)
    client.transport.post = real_post  # type: ignore[method-assign]

    def body() -> Iterator[bytes]:
        with captured.open("rb") as handle:
            while chunk := handle.read(MB):
                yield chunk

    start = time.perf_counter()
    with client.transport._client.stream(
        "POST",
        f"{os.environ['DMP_HOST_URL']}/repository",
        content=body(),
        headers={"Content-Type": content_type, "Content-Length": str(captured.stat().st_size)},
        timeout=600,
    ) as response:
        answer = response.read()
    baseline = time.perf_counter() - start
    if b"ResponseStatusType:Success" not in answer:
        raise SystemExit(f"baseline refused by the host: {answer[-600:]!r}")
    before_rss = rss_now()
    start = time.perf_counter()
    client.send(ins, NewDocument(pdf, "application/pdf", "11488-4", "Mesure", traits))
    elapsed = time.perf_counter() - start
    growth = max(0, peak_rss() - before_rss)
    client.close()
    if card is not None:
        card.close()  # type: ignore[attr-defined]
    return {"size": size, "baseline": baseline, "client": elapsed, "growth": growth}


class Captured(Exception):
    """Stops the client's send once its request body is on disk."""


def direct_client(work: Path, key: str = "generaliste") -> DmpClient:
    """The sandbox GP in direct mode with software keys issued by the test PKI (no card rig needed:
    the card's own signing time is the card's, not the client's)."""
    profile = cards.card(key)
    card = pki.software_card(Path(os.environ["DMP_SANDBOX_DIR"]) / "pki", profile, work)
    settings = Settings.load()
    endpoint = Endpoint(settings.host_url, settings.trust_files)
    situation = profile.situations[0]
    roles = (
        Code(profile.profession or "", PROFESSION_CODE_SYSTEM, profile.profession_label),
        Code(profile.specialty or "", SPECIALTY_CODE_SYSTEM),
    )
    actor = Actor(
        profile.national_id,
        f"{profile.given_name} {profile.surname}",
        roles,
        situation.structure_id,
        situation.sector,
    )
    author = author_of(
        profile.national_id, profile.given_name, profile.surname, profile.profession, profile.specialty,
        situation.structure_id, situation.name,
    )  # fmt: skip
    session = Session(actor, AuthMode.DIRECT, settings.software, settings.sender_oid, Purpose.NORMAL, author)
    transport = Transport(endpoint, client_context(endpoint, card.tls_cert, card.tls_key), settings.timeouts)
    return DmpClient(transport, SoftwareKeySigner(card.sign_key, card.sign_cert), session)


def listing(client: DmpClient, runs: int) -> list[tuple[str, list[float]]]:
    ins, _ = traits_of("P01")
    every = FindDocuments(ins, statuses=(Status.APPROVED, Status.ARCHIVED, Status.DEPRECATED))
    bare = client.transport._client
    envelope = client._envelope(
        iti18.ACTION,
        iti18.build_query(StoredQuery.FIND_DOCUMENTS, every.parameters(), ReturnType.LEAF_CLASS),
        ins,
        "registry",
    )
    url = f"{os.environ['DMP_HOST_URL']}/registry"
    rows: list[tuple[str, list[float]]] = [("bare LeafClass FindDocuments POST, all (baseline)", []),
                                           ("first search: 2 years, approved", []),
                                           ("full listing: ObjectRef + batches of 20", [])]  # fmt: skip
    counts = {}
    for _ in range(runs):
        start = time.perf_counter()
        response = bare.post(
            url, content=envelope.body, headers={"Content-Type": envelope.content_type}, timeout=600
        )
        assert response.status_code == 200
        rows[0][1].append(time.perf_counter() - start)
        start = time.perf_counter()
        counts["recent"] = len(client.find_documents(ins, check=False))
        rows[1][1].append(time.perf_counter() - start)
        start = time.perf_counter()
        counts["all"] = len(client.find_documents(ins, every, check=False))
        rows[2][1].append(time.perf_counter() - start)
    print(f"(documents: {counts['recent']} in the first search, {counts['all']} in the full listing)")
    return rows


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="MB")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-card", action="store_true", help="software keys only (no card rig)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="software", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = Path(tempfile.mkdtemp(dir=os.environ["BENCH_DIR"]))
        print(json.dumps(child_send(args.child, work, args.mode)))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-xds-"))
    modes = ["software"] if args.no_card else ["software", "card"]
    env = dict(os.environ)
    if "card" in modes:
        env.update(rig_up(folder))  # its PKI is the host's and the software keys' too
    else:
        rig.build_pki(folder)
    port = free_port()
    env["DMP_SANDBOX_DIR"] = str(folder)
    env["DMP_HOST_URL"] = f"https://localhost:{port}/si-dmp-server/v2/services"
    env["BENCH_DIR"] = str(folder)
    os.environ.update(env)
    try:
        sends(folder, port, env, [int(s) * MB for s in args.sizes.split(",")], modes)
        listings(folder, port, env, args.runs, modes)
    finally:
        if "card" in modes:
            subprocess.run(
                [str(Path(sys.executable).parent / "dmp-sandbox"), "--dir", str(folder), "rig", "down"]
            )


def rig_up(folder: Path) -> dict[str, str]:
    """``dmp-sandbox rig up`` in ``folder`` (pcscd, vpcd readers, SoftHSM2 cards, keyring); its
    environment (SoftHSM configuration, PKCS#11 module, keyring) for the card's children."""
    tool = Path(sys.executable).parent / "dmp-sandbox"
    done = subprocess.run(
        [str(tool), "--dir", str(folder), "rig", "up", "--port-hote", str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"card rig: {done.stderr.strip()} (use --no-card on a machine without it)")
    return rig.environment(folder)


def sends(folder: Path, port: int, env: dict[str, str], sizes: list[int], modes: list[str]) -> None:
    host = serve(folder, port, "host", env)
    try:
        _wait(port)
        print(
            "| ITI-41 | mode | bare streaming POST | DmpClient.send | ratio to bare "
            "| ratio to software keys | peak RSS growth |"
        )
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            software = 0.0
            for mode in modes:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(size), "--mode", mode],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode:
                    raise SystemExit(out.stderr)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                software = software or r["client"]
                print(
                    f"| {size // MB} MB | {mode} | {r['baseline']:.2f} s | {r['client']:.2f} s "
                    f"| {r['client'] / r['baseline']:.2f} | {r['client'] / software:.2f} "
                    f"| {r['growth'] / MB:.1f} MiB ({r['growth'] / size:.2f} x the document) |"
                )
    finally:
        host.terminate()
        host.wait()


def listings(folder: Path, port: int, env: dict[str, str], runs: int, modes: list[str]) -> None:
    host = serve(folder, port, "host2", env, "--latence", "0.05")
    results = []
    try:
        _wait(port)
        for mode in modes:
            card = None
            if mode == "card":
                client, card = card_client_of_rig()
            else:
                client = direct_client(folder)
            client.find_documents(traits_of("P01")[0], check=False)  # warm-up
            results.append((mode, client.transport.concurrency, listing(client, runs)))
            client.close()
            if card is not None:
                card.close()  # type: ignore[attr-defined]
    finally:
        host.terminate()
        host.wait()
    print(f"\n| ITI-18, P01, host +50 ms per request, {runs} runs | mode | in flight | p50 | p95 | ratio |")
    print("|---|---|---|---|---|---|")
    base = p50_p95(results[0][2][0][1])[0]  # the bare POST of the first mode
    for mode, concurrency, rows in results:
        for name, samples in rows:
            p50, p95 = p50_p95(samples)
            print(
                f"| {name} | {mode} | {concurrency} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms "
                f"| {p50 / base:.2f} |"
            )


def serve(folder: Path, port: int, data: str, env: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    """The sandbox host in its own process, as ``dmp-sandbox serve`` (its data in ``folder / data``)."""
    tool = Path(sys.executable).parent / "dmp-sandbox"
    command = [str(tool), "--dir", str(folder), "serve", "--port", str(port), "--donnees", str(folder / data)]
    return subprocess.Popen([*command, *options], env=env)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("sandbox host did not start")


if __name__ == "__main__":
    main()
