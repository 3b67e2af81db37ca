"""The project's import graph (grimp, which import-linter is built on) and the checks on it.

The checks are plain functions of a graph so that tests can run them on a synthetic graph and
show that each one fails when a forbidden import is added.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import grimp

ROOTS = ("app", "sandbox")


def project_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS, include_external_packages=True, cache_dir=None)


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def disallowed_imports(
    graph: grimp.ImportGraph, package: str, allowed: Iterable[str], *, stdlib: bool = True
) -> set[tuple[str, str]]:
    """(importer, imported) pairs of ``package`` importing outside itself and outside ``allowed``
    (packages, their descendants included) and, when ``stdlib``, the standard library."""
    allowed = tuple(allowed)
    found: set[tuple[str, str]] = set()
    for importer in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(importer):
            if _inside(imported, package) or any(_inside(imported, a) for a in allowed):
                continue
            if stdlib and imported.split(".")[0] in sys.stdlib_module_names:
                continue
            found.add((importer, imported))
    return found


def cycles(graph: grimp.ImportGraph, roots: Iterable[str] = ROOTS) -> list[frozenset[str]]:
    """Every import cycle between the modules of ``roots``: the strongly connected components of
    more than one module (Tarjan, iterative), and modules importing themselves."""
    roots = tuple(roots)
    nodes = sorted(m for m in graph.modules if any(_inside(m, r) for r in roots))
    succ = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if any(_inside(i, r) for r in roots))
        for m in nodes
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for k in range(position, len(succ[node])):
                nxt = succ[node][k]
                if nxt not in index:
                    work.append((node, k + 1))
                    work.append((nxt, 0))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in succ[node]:
                        found.append(frozenset(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found
