"""Shared test set-up: a deterministic Hypothesis profile for the 2-core CI machine, and fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.cli_helpers import cli_host_env  # noqa: F401 (fixture)
from tests.conformance.schematron import structuration_minimale  # noqa: F401 (fixture)
from tests.host_fixture import (  # noqa: F401 (fixtures)
    card_keys,
    direct_client,
    host,
    pki_dir,
    rig_dir,
    structure_client,
)
from tests.keyring_fixture import system_keyring  # noqa: F401 (fixtures)
from tests.rig_fixture import cards_reset, rig  # noqa: F401 (fixtures)

# Nothing a test runs reads or writes the user's own folders: the configuration, the default local
# store (and the INSi instance file beside it), caches, all under a folder of this run's own.
_PRIVATE = Path(tempfile.mkdtemp(prefix="dmp-tests-"))
for _name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = str(_PRIVATE / _name.lower())
os.environ["DMP_STORE_DIR"] = str(_PRIVATE / "store")

settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
