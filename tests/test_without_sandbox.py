"""A build without the sandbox: the product runs with ``sandbox`` absent, training mode says so, and
nothing of the product imports it (the import-linter contract checks the static imports; this checks
the run-time seam, app.services.training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import importlib.abc, io, json, sys

    class NoSandbox(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "sandbox" or name.startswith("sandbox."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoSandbox())
    from app.cli import main
    from app.services import training
    import app.services.workspace, app.ui.main_window  # the desktop application's modules load

    out, err = io.StringIO(), io.StringIO()
    demo = main(["demo"], out, err)
    try:
        training.vitale_card(True)
        vitale = "read"
    except training.VitaleReadByEhr as error:
        vitale = error.code
    ins = main(["ins", "nir", "279035121518989"], io.StringIO(), io.StringIO())
    print(json.dumps({
        "demo": demo, "demo_err": err.getvalue(), "vitale": vitale, "ins": ins,
        "available": training.available(),
        "patients": training.sandbox_patients(), "patient": training.sandbox_patient("P01"),
        "sandbox_loaded": sorted(m for m in sys.modules if m.split(".")[0] == "sandbox"),
    }))
    """
)


def test_the_product_runs_without_the_sandbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["available"] is False
    assert seen["patients"] == [] and seen["patient"] is None
    assert seen["demo"] == 2 and "mode formation" in seen["demo_err"], seen
    assert seen["ins"] == 0, seen  # the rest of the command line works
    assert seen["vitale"] == "VITALE-LOGICIEL-METIER"  # no sandbox Vitale card without the sandbox
    assert seen["sandbox_loaded"] == []


def test_with_the_sandbox_training_mode_is_there() -> None:
    from app.services import training

    assert training.available()
    patients = training.sandbox_patients()
    assert len(patients) >= 7 and all(p.ins.oid == "1.2.250.1.213.1.4.10" for p in patients)
    assert training.sandbox_patient("P01") == patients[0]
