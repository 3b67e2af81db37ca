"""Allow-lists for the pure cores (docs/architecture.md): import-linter's ``forbidden`` contracts
are deny-lists, so what a core may import is checked here against the whole import graph."""

from __future__ import annotations

import grimp
import pytest

from tests.architecture.graph import disallowed_imports, project_graph

# The protocol core: the standard library, the XML and crypto libraries, the identity core and the
# error hierarchy's root. Nothing else of the client (no transport, card, store, settings, config).
PROTOCOL_CORE = "app.dmp_client.core"
PROTOCOL_CORE_ALLOWED = ("lxml", "cryptography", "signxml", "joserfc", "app.ins", "app.errors")
# Standard-library modules that are I/O the protocol core has no use for (it builds and parses
# messages; the edges send them).
PROTOCOL_CORE_DENIED_STDLIB = ("socket", "ssl", "http", "subprocess", "sqlite3", "threading", "asyncio")

IDENTITY_CORE = "app.ins"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return project_graph()


def protocol_core_violations(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    found = disallowed_imports(graph, PROTOCOL_CORE, PROTOCOL_CORE_ALLOWED)
    for importer in graph.find_descendants(PROTOCOL_CORE) | {PROTOCOL_CORE}:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.split(".")[0] in PROTOCOL_CORE_DENIED_STDLIB:
                found.add((importer, imported))
    return found


def identity_core_violations(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    return disallowed_imports(graph, IDENTITY_CORE, ())


def test_protocol_core_imports_only_its_allow_list(graph: grimp.ImportGraph) -> None:
    assert graph.find_descendants(PROTOCOL_CORE)  # the graph does hold the core
    assert protocol_core_violations(graph) == set()


def test_identity_core_imports_only_the_standard_library(graph: grimp.ImportGraph) -> None:
    assert graph.find_descendants(IDENTITY_CORE)
    assert identity_core_violations(graph) == set()


def _synthetic(*extra: tuple[str, str]) -> grimp.ImportGraph:
    """A graph shaped like the project's cores, with allowed imports and the ``extra`` ones."""
    graph = grimp.ImportGraph()
    for module in ("app", "app.errors", "app.ins", "app.ins.nir", "app.dmp_client", "app.dmp_client.core"):
        graph.add_module(module)
    graph.add_module("app.dmp_client.core.ns")
    graph.add_module("app.dmp_client.core.xml")
    for external in ("lxml", "signxml", "cryptography", "re", "tlslite", "platformdirs", "socket"):
        graph.add_module(external, is_squashed=True)
    graph.add_module("app.config")
    allowed = [
        ("app.dmp_client.core.ns", "lxml"),
        ("app.dmp_client.core.ns", "app.dmp_client.core.xml"),
        ("app.dmp_client.core.xml", "signxml"),
        ("app.dmp_client.core.xml", "cryptography"),
        ("app.dmp_client.core.xml", "app.ins.nir"),
        ("app.dmp_client.core.xml", "app.errors"),
        ("app.dmp_client.core.xml", "re"),
        ("app.ins.nir", "re"),
    ]
    for importer, imported in [*allowed, *extra]:
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_the_allow_lists_pass_a_clean_synthetic_graph() -> None:
    graph = _synthetic()
    assert protocol_core_violations(graph) == set()
    assert identity_core_violations(graph) == set()


@pytest.mark.parametrize("imported", ["tlslite", "platformdirs", "socket", "app.config", "app.dmp_client"])
def test_the_protocol_core_allow_list_fails_on_a_forbidden_import(imported: str) -> None:
    # The example: `import tlslite, socket, platformdirs` and `from app import config` in
    # core/ns.py kept every deny-list contract green; each one alone breaks this check.
    graph = _synthetic(("app.dmp_client.core.ns", imported))
    assert protocol_core_violations(graph) == {("app.dmp_client.core.ns", imported)}


@pytest.mark.parametrize("imported", ["lxml", "app.errors", "app.config", "tlslite"])
def test_the_identity_core_allow_list_fails_on_anything_but_the_standard_library(imported: str) -> None:
    graph = _synthetic(("app.ins.nir", imported))
    assert identity_core_violations(graph) == {("app.ins.nir", imported)}


def test_the_structured_document_builder_is_held_to_the_protocol_core_allow_list(
    graph: grimp.ImportGraph,
) -> None:
    """app.dmp_client.core.structured (issue 19) is part of the protocol core: same allow-list."""
    package = "app.dmp_client.core.structured"
    assert package in graph.find_descendants(PROTOCOL_CORE)
    assert {(a, b) for a, b in protocol_core_violations(graph) if a.startswith(package)} == set()
