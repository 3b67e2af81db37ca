"""A real system keyring for the tests: the sandbox's private Secret Service (D-Bus + gnome-keyring).

``system_keyring`` starts it once per session in a temporary folder and points
``DBUS_SESSION_BUS_ADDRESS`` at it for the whole session, so that ``keyring`` in this process and in
every subprocess a test starts uses it, and ``DMP_STORE_DIR`` at a store of its own (a base and its key
stay together, whichever of this and the card rig came up last); both are restored and the daemons
stopped at the end.
On CI a service that cannot come up fails the run; elsewhere, without the Debian packages, the tests
that need it are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring.core
import pytest

from sandbox import keyring_daemon
from sandbox.softhsm import RigError


@dataclass
class SystemKeyring:
    folder: Path
    state: dict[str, Any]  # keyring_daemon's: pids, bus address
    env: dict[str, str]  # what a client process needs (DBUS_SESSION_BUS_ADDRESS)


@pytest.fixture(scope="session")
def system_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemKeyring]:
    folder = tmp_path_factory.mktemp("system-keyring")
    try:
        state = keyring_daemon.start(folder)
    except RigError as error:
        if os.environ.get("CI"):
            pytest.fail(f"the private Secret Service did not come up: {error}")
        pytest.skip(f"private Secret Service unavailable here: {error}")
    env = keyring_daemon.client_env(state)
    # A base's key lives in one keyring: the default store moves with the keyring, or a base made
    # here after the rig came up would sit in the rig's store with its key in this keyring.
    paired = {**env, "DMP_STORE_DIR": str(folder / "store")}
    saved = {name: os.environ.get(name) for name in paired}
    os.environ.update(paired)
    keyring.core.init_backend()  # keyring picks its backend once per process: pick it with the service up
    try:
        yield SystemKeyring(folder, state, env)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        keyring_daemon.stop(state)
