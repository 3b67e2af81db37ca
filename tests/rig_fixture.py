"""The real card rig for integration tests: pcscd + vpcd virtual readers + SoftHSM2 CPS tokens.

Brought up once per session in a temporary folder with ``dmp-sandbox rig up`` (as CI and
``make run`` do) and taken down at the end. On CI a rig that cannot come up fails the run; on a
developer machine without the Debian packages the device tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Rig:
    folder: Path
    env: dict[str, str]
    seconds: float

    def command(self, *args: str) -> list[str]:
        return [tool("dmp-sandbox"), "--dir", str(self.folder), *args]

    def insert(self, reader: int, card: str) -> None:
        subprocess.run(self.command("card", "insert", str(reader), card), check=True)
        wait_for_reader_state(reader, present=True)

    def remove(self, reader: int) -> None:
        subprocess.run(self.command("card", "remove", str(reader)), check=True)


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed in this environment"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_reader_state(reader: int, present: bool, timeout: float = 5.0) -> None:
    from app.card.pcsc import PcscContext

    context = PcscContext()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = context.states()
            if len(states) > reader and (states[reader].atr is not None) == present:
                return
            time.sleep(0.05)
    finally:
        context.close()
    raise AssertionError(f"reader {reader} did not become {'full' if present else 'empty'}")


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("rig")
    start = time.monotonic()
    done = subprocess.run(
        [tool("dmp-sandbox"), "--dir", str(folder), "rig", "up", "--port-hote", str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - start
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"the card rig did not come up: {done.stderr}")
        pytest.skip(f"card rig unavailable here: {done.stderr.strip()}")
    from sandbox import rig as sandbox_rig

    env = sandbox_rig.environment(folder)
    os.environ.update(env)  # before python-pkcs11 loads SoftHSM in this process
    result = Rig(folder, env, seconds)
    wait_for_reader_state(0, present=True)
    wait_for_reader_state(1, present=True)
    yield result
    subprocess.run(result.command("rig", "down"), check=False)


@pytest.fixture
def cards_reset(rig: Rig) -> Iterator[Rig]:
    """Tests that swap or pull cards get the default ones back afterwards."""
    yield rig
    rig.insert(0, "cps:generaliste")
    rig.insert(1, "vitale:P04")
