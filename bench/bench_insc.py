"""Batch INS-C throughput, as a ratio to a bare hashlib loop over the same inputs.

Run with ``make bench`` (or ``python bench/bench_insc.py --lines 100000``). Prints a Markdown table
to paste into bench/README.md. Every figure is a ratio to the baseline measured in the same run,
so the numbers compare across machines; absolute times are given for orientation only.

- baseline: SHA-256 of the 29-character seeds, already built, first 64 bits, decimal and key;
- compute_insc: the library call on the raw inputs (first-name normalisation, NIR and key check,
  date check, hash);
- CSV in-process: decoding, splitting and computing ``prenom;naissance;nir`` lines (no disk);
- CSV command: ``dmp ins insc --csv FILE`` end to end, interpreter start-up included.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from timing import best

from app.cli.insc_batch import BatchTally, process
from app.ins import compute_insc, nir_key, normalize_first_name

FIRST_NAMES = ["Jean", "Marie-Christine", "Élodie", "JEAN PIERRE", "Zoé", "Gaël", "Anne-Sophie", "Mohamed"]
Row = tuple[str, str, str]


def make_rows(count: int, seed: int = 20261122) -> list[Row]:
    """Deterministic inputs: accented and compound first names, lunar dates, Corsican NIRs."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        department = rng.choice(["75", "2A", "2B", "99", f"{rng.randint(1, 95):02d}"])
        body = f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{department}"
        body += f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
        date = f"{body[1:3]}{body[3:5]}{rng.randint(0, 31):02d}"
        rows.append((rng.choice(FIRST_NAMES), date, body + nir_key(body)))
    return rows


def baseline(seeds: list[bytes]) -> list[str]:
    out = []
    for seed in seeds:
        n = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
        out.append(f"{n:020d}{97 - n % 97:02d}")
    return out


def library(rows: list[Row]) -> list[str]:
    return [compute_insc(p, d, n).value for p, d, n in rows]


def csv_in_process(lines: list[bytes]) -> list[str]:
    return list(process(lines, BatchTally()))


def streaming_peak(path: Path) -> int:
    """Peak Python allocation while streaming the file through the batch (output discarded)."""
    tracemalloc.start()
    with path.open("rb") as handle:
        for _ in process(handle, BatchTally()):
            pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = make_rows(args.lines)
    seeds = [(normalize_first_name(p) + d + n[:13]).encode("ascii") for p, d, n in rows]
    lines = [f"{p};{d};{n}".encode() for p, d, n in rows]
    if library(rows) != baseline(seeds):
        sys.exit("the library and the bare loop disagree: benchmark aborted")

    t_base = best(runs=args.repeats, action=lambda: baseline(seeds))
    t_lib = best(runs=args.repeats, action=lambda: library(rows))
    t_csv = best(runs=args.repeats, action=lambda: csv_in_process(lines))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_bytes(b"\n".join(lines) + b"\n")
        small = Path(tmp) / "small.csv"
        small.write_bytes(b"\n".join(lines[: max(1, args.lines // 100)]) + b"\n")
        dmp = str(Path(sys.executable).parent / "dmp")
        command = [dmp, "ins", "insc", "--csv", str(path), "--sortie", str(Path(tmp) / "out.txt")]
        t_cli = best(runs=3, action=lambda: subprocess.run(command, check=True, capture_output=True))
        rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        peak_full, peak_small = streaming_peak(path), streaming_peak(small)

    n = args.lines
    print(f"| measure ({n:,} lines, best of {args.repeats}) | time | lines/s | ratio to baseline |")
    print("|---|---|---|---|")
    for name, seconds in [
        ("bare hashlib loop (baseline)", t_base),
        ("compute_insc on raw inputs", t_lib),
        ("CSV lines in process", t_csv),
        ("`dmp ins insc --csv` end to end", t_cli),
    ]:
        print(f"| {name} | {seconds:.3f} s | {n / seconds:,.0f} | {seconds / t_base:.1f} |")
    print()
    print(f"- peak Python allocation while streaming {n:,} lines: {peak_full / 1024:.0f} KiB")
    small_count = max(1, n // 100)
    print(f"  (with {small_count:,} lines: {peak_small / 1024:.0f} KiB: memory does not grow with the file)")
    print(f"- peak RSS of the `dmp` process: {rss_kib / 1024:.1f} MiB")
    print(f"- Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
