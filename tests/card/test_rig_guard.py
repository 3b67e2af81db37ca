"""The rig refuses a virtual reader held by another rig's card (no device: a stand-in process).

A test run killed without its teardown leaves its virtual cards plugged into pcscd's vpcd ports;
the next rig's card swaps then silently did nothing (pcscd keeps the first card's connection) and
card tests waited until their time-out. Now the swap is refused with the reason."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import rig
from sandbox.softhsm import RigError


def test_a_card_of_another_rig_in_the_reader_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = 39_871
    monkeypatch.setattr(rig, "VPCD_BASE_PORT", port)
    stand_in = subprocess.Popen(  # a process shaped like a left-behind card: sandbox.vicc --port <port>
        [sys.executable, "-c", "import time; time.sleep(30)", "sandbox.vicc", "--port", str(port)]
    )
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd: its command line is the stand-in's
        while not rig._vicc_pids(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rig._vicc_pids(port) == [stand_in.pid]
        rig._save_state(tmp_path, {"readers": {}})
        with pytest.raises(RigError, match="Un autre banc de cartes occupe le lecteur virtuel 0"):
            rig.insert_card(tmp_path, 0, "cps:generaliste")
        assert rig.load_state(tmp_path)["readers"] == {}  # nothing started
    finally:
        stand_in.kill()
        stand_in.wait()
    assert rig._vicc_pids(port) == []
