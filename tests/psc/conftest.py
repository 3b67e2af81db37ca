"""The in-process sandbox PSC provider for the tests of this folder: ``provider`` runs with
``psc_faults`` (no polling interval, the phone answered by hand), which a module overrides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.psc.server import PscConfig, PscFaults, PscProvider
from tests.psc.psc_helpers import running_provider


@pytest.fixture
def psc_faults() -> PscFaults:
    return PscFaults(interval=0)


@pytest.fixture
def provider(pki_dir: Path, tmp_path: Path, psc_faults: PscFaults) -> Iterator[PscProvider]:
    with running_provider(PscConfig(pki_dir / "pki", tmp_path / "psc", psc_faults)) as server:
        yield server
