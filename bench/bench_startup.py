"""Start-up: a bare PySide6 window against ``dmp-gui``'s main window in the same run, and the
``-X importtime`` top offenders of importing ``app.ui.main_window``.

Launch times come from bench_gui.py's child (a fresh process per run, offscreen, from the parent's
spawn to the first shown window with its event loop running; idle RSS after one second). ``frozen``
runs the main window as the frozen build imports it: httpx's command-line tool excluded
(installer/dmp.spec), so httpx does without click, rich and pygments.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import bench_gui


def import_offenders(top: int) -> tuple[float, list[tuple[int, str]]]:
    """(total seconds, [(self µs summed, top-level package)]) for ``import app.ui.main_window``."""
    code = "import sys; sys.modules['httpx._main'] = None; import app.ui.main_window"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    total, by_package = 0, {}  # type: ignore[var-annotated]
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name = parts[2].strip()
        package = ".".join(name.split(".")[:2]) if name.startswith("app.") else name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(parts[0])
        if name == "app.ui.main_window":
            total = int(parts[1])
    return total / 1e6, sorted(((us, name) for name, us in by_package.items()), reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "frozen":
            sys.modules["httpx._main"] = None  # type: ignore[assignment]
        bench_gui.child("bare" if args.child == "bare" else "app")
        return
    from gui_session import SandboxSession

    session = SandboxSession()  # a keyring and a sandbox for the launched processes
    try:
        bare, bare_rss = bench_gui.launch("bare", args.runs, script=__file__)
        full, full_rss = bench_gui.launch("app", args.runs, script=__file__)
        frozen, frozen_rss = bench_gui.launch("frozen", args.runs, script=__file__)
    finally:
        session.close()
    print("| launch to a usable window (offscreen) | p50 | idle RSS | ratio |")
    print("|---|---|---|---|")
    print(f"| bare PySide6 window (baseline) | {bare * 1000:.0f} ms | {bare_rss / 2**20:.0f} MiB | 1.00 |")
    print(f"| dmp-gui main window | {full * 1000:.0f} ms | {full_rss / 2**20:.0f} MiB | {full / bare:.2f} |")
    print(
        f"| dmp-gui main window, httpx CLI excluded (frozen) | {frozen * 1000:.0f} ms "
        f"| {frozen_rss / 2**20:.0f} MiB | {frozen / bare:.2f} |"
    )
    total, offenders = import_offenders(args.top)
    print(f"\n`import app.ui.main_window` (httpx CLI excluded): {total * 1000:.0f} ms; top packages:\n")
    print("| package (app: sub-package) | self time of its modules |")
    print("|---|---|")
    for own, name in offenders:
        print(f"| {name} | {own / 1000:.1f} ms |")


if __name__ == "__main__":
    main()
