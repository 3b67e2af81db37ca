"""Each import-linter contract of pyproject.toml breaks when a forbidden import is added: the check
runs ``lint-imports`` on a temporary copy of the tree with one offending import per contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# One offending import per contract, by the start of the contract's name: (candidate files, the first
# that exists gets the line; the import appended).
OFFENCES = {
    "The identity core (app.ins)": (("app/ins/text.py",), "import app.card.atr"),
    "The protocol core (app.dmp_client.core) does no I/O": (("app/dmp_client/core/ns.py",), "import httpx"),
    "The sandbox host shares no protocol code": (("sandbox/host/faults.py",), "import app.dmp_client.actors"),
    "The product never imports the sandbox": (("app/dmp_client/actors.py",), "import sandbox.cards"),
    "Layers: ui | cli > services": (("app/card/atr.py",), "import app.store.cache"),
    "Layers: the protocol core": (("app/errors.py",), "import app.dmp_client.core.ns"),
    "The desktop application and the command line": (("app/ui/texts.py",), "import app.cli.ins"),
    "The command line does not import the desktop application": (("app/cli/ins.py",), "import app.ui.texts"),
}


def _offence(name: str) -> tuple[tuple[str, ...], str] | None:
    found = [offence for prefix, offence in OFFENCES.items() if name.startswith(prefix)]
    assert len(found) <= 1, name
    return found[0] if found else None


def _contracts() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [c["name"] for c in config["tool"]["importlinter"]["contracts"]]


def _lint(tree: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def test_every_contract_has_an_offence() -> None:
    names = _contracts()
    assert len(names) >= 7
    assert [name for name in names if _offence(name) is None] == []


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="lint-imports is not installed next to python")
def test_each_contract_breaks_on_its_offence(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for package in ("app", "sandbox"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    clean = _lint(tree)
    assert "0 broken" in clean, clean
    names = _contracts()
    for name in names:
        offence = _offence(name)
        assert offence is not None, name
        candidates, line = offence
        path = next(tree / p for p in candidates if (tree / p).exists())
        with path.open("a", encoding="utf-8") as file:
            file.write(f"\n{line}  # noqa\n")
    broken = _lint(tree)
    for name in names:
        flat = re.sub(r"\s+", " ", name)
        assert f"{flat} BROKEN" in broken, (name, broken)
    assert f"{len(names)} broken" in broken, broken
