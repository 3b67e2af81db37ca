"""Start-up: a bare PySide6 window against ``dmp-gui``'s main window in the same run, and the
``-X importtime`` top offenders of dmp-gui's imports up to the main window.

Launch times come from bench_gui.py's child (a fresh process per run, offscreen, from the parent's
spawn to the first shown window with its event loop running; idle RSS after one second), the two
kinds alternated run by run so that the shared machine's load falls on both alike.

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
    """(total seconds, [(self µs summed, top-level package)]) for dmp-gui's imports: the service
    stack before Qt (``load_services_before_qt``), then the application and the main window."""
    bench_gui.compile_sources()
    code = (
        "import time; start = time.perf_counter(); "
        "from app.ui.main import load_services_before_qt; load_services_before_qt(); "
        "import app.ui.application, app.ui.main_window; print(time.perf_counter() - start)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    by_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name = parts[2].strip()
        package = ".".join(name.split(".")[:2]) if name.startswith("app.") else name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(parts[0])
    total = float(done.stdout.split()[-1])
    return total, sorted(((us, name) for name, us in by_package.items()), reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        bench_gui.child(args.child)
        return
    from gui_session import SandboxSession

    session = SandboxSession()  # a keyring and a sandbox for the launched processes
    try:
        launched = bench_gui.launch(("bare", "app"), args.runs, script=__file__)
    finally:
        session.close()
    (bare, bare_rss), (full, full_rss) = launched["bare"], launched["app"]
    print(f"| launch to a usable window (offscreen, p50 of {args.runs}) | p50 | idle RSS | ratio |")
    print("|---|---|---|---|")
    print(f"| bare PySide6 window (baseline) | {bare * 1000:.0f} ms | {bare_rss / 2**20:.0f} MiB | 1.00 |")
    print(f"| dmp-gui main window | {full * 1000:.0f} ms | {full_rss / 2**20:.0f} MiB | {full / bare:.2f} |")
    total, offenders = import_offenders(args.top)
    print(
        f"\ndmp-gui's imports up to the main window (-X importtime): {total * 1000:.0f} ms; top packages:\n"
    )
    print("| package (app: sub-package) | self time of its modules |")
    print("|---|---|")
    for own, name in offenders:
        print(f"| {name} | {own / 1000:.1f} ms |")
    sys.stdout.flush()
    os._exit(0)  # as bench_gui.py: PySide6's teardown after a QApplication can crash at exit


if __name__ == "__main__":
    main()
