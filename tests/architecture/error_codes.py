"""The error codes of the software, collected from the classes and from every ``code="…"`` given at
a raise, and the rows of docs/errors.md (used by test_errors_doc.py and the doc's generator)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import app
from app.errors import DmpClientError
from app.ins.errors import InsErrorCode

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
# A text constant of this shape anywhere in app/ is a code (reason codes of the queue, problem codes
# of the hot folder and the batch, the GUI's internal error): it must be documented too.
# (The identity core's codes are its InsErrorCode enum; INS-NIR, INS-NIA, INS-C are labels.)
CODE_CONSTANT = re.compile(r"^(?:DMP|CARTE|VITALE|STORE|FILE|DEPOT|POSTE|CONFIG|CACHE|MAJ)(?:-[A-Z0-9]+)+$")
# Constants of that shape that are not codes shown to anyone.
NOT_CODES = {"DEPOT-ACCOMPAGNEMENT"}  # the key of the hot folder's advice for a bad pair (sidecar.py)
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:[-:][A-Z0-9<>a-z]+)*$")
# Codes made at run time from another code: documented as patterns.
PATTERNS = ("DMP:<code>", "DMP-HTTP-<status>")


def _import_all() -> None:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if module.name.startswith("app.ui") or module.name.endswith("__main__"):
            continue  # Qt: its errors are DmpClientError subclasses defined in app/ui/errors.py
        importlib.import_module(module.name)
    importlib.import_module("app.ui.errors")


def _subclasses(root: type) -> list[type]:
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@dataclass(frozen=True)
class Defined:
    code: str
    where: str  # the class (module.qualname) or file:line of the raise
    message: str | None  # the class's own French message (None: given at each raise)


def defined_codes() -> list[Defined]:
    """Every code: each error class that names one, each InsErrorCode, each ``code="…"`` keyword
    of a call to an error class (parsed from the sources, so raises in untested paths count)."""
    _import_all()
    out: list[Defined] = []
    classes = {}
    for cls in _subclasses(DmpClientError):
        if not cls.__module__.startswith("app."):
            continue  # test doubles
        classes[cls.__name__] = cls
        if "code" in vars(cls):
            message = vars(cls).get("user_message")
            out.append(Defined(cls.code, f"{cls.__module__}.{cls.__qualname__}", message))
    out.extend(Defined(c.value, f"app.ins.errors.InsErrorCode.{c.name}", None) for c in InsErrorCode)
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if CODE_CONSTANT.match(node.value) and node.value not in NOT_CODES:
                    out.append(Defined(node.value, f"{path.relative_to(ROOT)}:{node.lineno}", None))
                continue
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in classes:
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    out.append(Defined(str(keyword.value.value), where, BARE))
    return out


BARE = "<code= at the raise>"  # the message of a Defined found as ``SomeError(..., code="…")``


@dataclass(frozen=True)
class Row:
    codes: tuple[str, ...]
    cells: tuple[str, ...]  # the cells after the code cell
    line: int


def doc_rows(text: str | None = None) -> list[Row]:
    """The table rows of docs/errors.md whose first cell holds backquoted codes."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        codes = tuple(re.findall(r"`([^`]+)`", cells[0]))
        if codes and all(CODE.match(c) for c in codes):
            rows.append(Row(codes, tuple(cells[1:]), number))
    return rows
