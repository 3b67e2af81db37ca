"""Smoke test of the frozen application (dist/dmp-client/, built by scripts/build_frozen.sh).

Usage: python installer/smoke_test.py [dist/dmp-client]; exit status 0 when every check passed.
Runs the frozen executables only, away from the developer's keyring, card readers and settings:
HOME and the XDG folders point into a temporary folder, PC/SC at a socket that does not exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app import __version__  # noqa: E402

INSC = "1541187387477485562488"
EXE = ".exe" if sys.platform == "win32" else ""


def isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMP_", "XDG_", "DBUS_", "PCSC"))}
    for name in ("data", "config", "cache", "state", "runtime"):
        (home / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        APPDATA=str(home / "config"),
        LOCALAPPDATA=str(home / "data"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home / "runtime"),
        DBUS_SESSION_BUS_ADDRESS=f"unix:path={home / 'runtime' / 'no-bus'}",  # no real keyring
        PCSCLITE_CSOCK_NAME=str(home / "runtime" / "no-pcscd"),  # no card reader (no rig)
        PYTHONIOENCODING="utf-8",
        LC_ALL="C.UTF-8",
    )
    return env


class Smoke:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.failures: list[str] = []

    def run(
        self, name: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.folder / f"{name}{EXE}"), *args]
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, encoding="utf-8", timeout=timeout, env=env or self.env
        )
        print(f"$ {' '.join([name, *args])}  (exit {result.returncode}, {time.monotonic() - started:.1f} s)")
        return result

    def check(self, label: str, ok: bool, detail: str = "") -> None:
        print(f"  {'PASS' if ok else 'FAIL'} {label}" + (f"\n{detail}" if detail and not ok else ""))
        if not ok:
            self.failures.append(label)


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else ROOT / "dist" / "dmp-client"
    with tempfile.TemporaryDirectory(prefix="dmp-smoke-") as tmp:
        env = isolated_env(Path(tmp))
        smoke = Smoke(folder, env)

        r = smoke.run("dmp", "--version")
        smoke.check(
            f"dmp --version prints 'dmp {__version__}'", r.stdout.strip() == f"dmp {__version__}", r.stdout
        )

        r = smoke.run(
            "dmp", "ins", "insc", "--prenom", "Jean", "--naissance", "500801", "--nir", "150081505104018"
        )
        smoke.check(
            f"dmp ins insc prints {INSC}, labelled historical",
            r.returncode == 0
            and r.stdout.strip() == f"INS-C (identifiant historique, jamais utilisé pour alimenter) : {INSC}",
            r.stdout + r.stderr,
        )

        r = smoke.run("dmp", "demo")
        patients = re.findall(r"^(P0\d)  (.+)$", r.stdout, re.MULTILINE)
        smoke.check("dmp demo exits 0", r.returncode == 0, r.stderr[-2000:])
        smoke.check(
            "dmp demo lists the sandbox patients (7/7 identities checked)",
            len(patients) == 7 and "7/7 identité(s) vérifiée(s)" in r.stdout,
            r.stdout[-2000:],
        )
        for pid, identity in patients:
            print(f"    {pid} {identity}")

        r = smoke.run("dmp-gui", "--version")
        smoke.check(
            f"dmp-gui --version prints 'dmp-gui {__version__}'", r.stdout.strip() == f"dmp-gui {__version__}"
        )

        gui_env = {
            **env,
            "QT_QPA_PLATFORM": "offscreen",
            "DMP_GUI_INSTANCE": f"dmp-smoke-{os.getpid()}-{time.time_ns()}",
            "DMP_GUI_SMOKE": "1",  # test-only hook of app/ui/main.py: dismiss dialogs, quit after the window
        }
        r = smoke.run("dmp-gui", timeout=120, env=gui_env)
        lines = [line for line in r.stderr.splitlines() if line.startswith("smoke: ")]
        for line in lines:
            print(f"    {line}")
        smoke.check("dmp-gui (offscreen) exits 0", r.returncode == 0, r.stderr[-3000:])
        smoke.check(
            "dmp-gui warns 'Base locale indisponible' (no keyring)",
            any(line.startswith("smoke: dialog: Base locale indisponible") for line in lines),
            r.stderr[-3000:],
        )
        smoke.check(
            "dmp-gui opens its main window", any(line.startswith("smoke: window: ") for line in lines)
        )
        smoke.check(
            "Qt's own dialogs in French (non-native file dialog: 'Voir dans')",
            any(line.startswith("smoke: qt-fr: &Voir dans") for line in lines),
        )
        smoke.check("QtPdf (PySide6-Addons) loads", any(line.startswith("smoke: qtpdf: ") for line in lines))

    heavy = unused_qt(folder)
    smoke.check("no unused Qt module in the bundle (WebEngine, 3D, Quick, Multimedia…)", not heavy,
                "\n".join(heavy[:20]))  # fmt: skip
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"  bundle: {size / 1024 / 1024:.0f} Mo")
    smoke.check(f"bundle under {MAX_BUNDLE_MB} Mo", size < MAX_BUNDLE_MB * 1024 * 1024)

    leaked = baked_paths(folder)
    smoke.check(f"no {ROOT} path in the bundle's text files", not leaked, "\n".join(leaked[:20]))

    print(f"\n{'FAILED: ' + ', '.join(smoke.failures) if smoke.failures else 'smoke test passed'}")
    return 1 if smoke.failures else 0


# The heavy Qt modules of the PySide6-Addons wheel the application never imports
# (installer/dmp.spec excludes them); QtPdf, also from Addons, must be there.
UNUSED_QT = re.compile(
    r"Qt6?(WebEngine|3D|Quick|Qml|Multimedia|Charts|DataVisualization|Graphs|Location|"
    r"Designer|Bluetooth|Sensors|SpatialAudio|TextToSpeech|WebView|RemoteObjects|VirtualKeyboard)"
)
MAX_BUNDLE_MB = 300  # generous: the Linux bundle measures about 250 Mo (installer/README.md)


def unused_qt(folder: Path) -> list[str]:
    """Files of the bundle that belong to Qt modules the application does not use."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if UNUSED_QT.search(p.name))


def baked_paths(folder: Path) -> list[str]:
    """Text files of the bundle that name the build machine's checkout."""
    needle = str(ROOT).encode()
    leaked = []
    for path in folder.rglob("*"):
        if (
            path.is_file()
            and path.suffix.lower() not in {".so", ".dll", ".pyd", ".dylib"}
            and path.stat().st_size < 20_000_000
        ):
            data = path.read_bytes()
            if b"\0" not in data[:4096] and needle in data:
                leaked.append(str(path.relative_to(folder)))
    return leaked


if __name__ == "__main__":
    sys.exit(main(sys.argv))
