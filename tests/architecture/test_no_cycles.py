"""No import cycle between modules (docs/architecture.md): a cycle is two modules that cannot be
read, tested or moved apart; the layers contract (pyproject.toml) only sees packages."""

from __future__ import annotations

import grimp

from tests.architecture.graph import cycles, project_graph


def test_no_import_cycle_between_modules() -> None:
    found = set(cycles(project_graph()))
    assert found == set(), "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_module(importer)
        graph.add_module(imported)
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_the_cycle_check_finds_a_cycle_added_to_an_acyclic_graph() -> None:
    chain = [("app.a", "app.b"), ("app.b", "app.c"), ("app.a", "app.c"), ("app.c", "lxml")]
    assert cycles(_graph(*chain)) == []
    # One import back from the bottom to the top of the chain: one cycle of three modules.
    assert cycles(_graph(*chain, ("app.c", "app.a"))) == [frozenset({"app.a", "app.b", "app.c"})]


def test_the_cycle_check_finds_every_separate_cycle_and_self_imports() -> None:
    graph = _graph(
        ("sandbox.host.handlers", "sandbox.host.admin"),
        ("sandbox.host.admin", "sandbox.host.handlers"),
        ("app.x", "app.y"),
        ("app.y", "app.z"),
        ("app.z", "app.y"),
        ("app.self", "app.self"),
    )
    assert set(cycles(graph)) == {
        frozenset({"sandbox.host.handlers", "sandbox.host.admin"}),
        frozenset({"app.y", "app.z"}),
        frozenset({"app.self"}),
    }


def test_a_cycle_outside_the_roots_is_not_the_projects() -> None:
    assert cycles(_graph(("lxml", "lxml.etree"), ("lxml.etree", "lxml"))) == []
