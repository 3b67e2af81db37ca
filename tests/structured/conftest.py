"""The structured-document checks, compiled once per test run (session scope): the two volet
schematrons and the two content-model schematrons (about 1 s with saxonche), their compiled XSLT
kept in the session's temporary folder."""

from __future__ import annotations

import pytest

from tests.structured.schematron import StructuredChecks


@pytest.fixture(scope="session")
def structured_checks(tmp_path_factory: pytest.TempPathFactory) -> StructuredChecks:
    return StructuredChecks(tmp_path_factory.mktemp("structured-schematrons"))
