"""Import rules: the identity core imports only the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module or "")
    return names


def test_identity_core_imports_only_stdlib_and_itself() -> None:
    files = sorted((ROOT / "app" / "ins").glob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            allowed = name == "app.ins" or name.startswith("app.ins.") or top in sys.stdlib_module_names
            assert allowed and top != "sqlite3", f"{path.name} imports {name}"


def test_only_app_ui_may_import_qt() -> None:
    for path in (ROOT / "app").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "app").parts[:1]:
            continue
        assert not any(n.startswith("PySide6") for n in imported_modules(path)), path
