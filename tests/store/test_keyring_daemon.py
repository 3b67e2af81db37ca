"""The private Secret Service that keeps the store's key on headless machines (sandbox.keyring_daemon)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError

from sandbox import keyring_daemon
from sandbox.softhsm import RigError
from tests.keyring_fixture import SystemKeyring

pytestmark = pytest.mark.timeout(60)

SERVICE = "dmp-client-tests"


def python(code: str) -> str:
    """Run ``code`` in a new interpreter that inherits this process's environment; its output."""
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


def gone(pid: int) -> bool:
    """No process ``pid`` any more (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_keyring_chooses_the_secret_service(system_keyring: SystemKeyring) -> None:
    assert isinstance(keyring.get_keyring(), SecretService.Keyring)  # not fail, null or a plaintext file
    address = system_keyring.env["DBUS_SESSION_BUS_ADDRESS"]
    assert address == f"unix:path={system_keyring.state['runtime_dir']}/bus"
    assert list(system_keyring.env) == ["DBUS_SESSION_BUS_ADDRESS"]
    # A client process started by a test chooses it too (it inherits the variable).
    chosen = python("import keyring; b = keyring.get_keyring(); print(type(b).__module__, type(b).__name__)")
    assert chosen == "keyring.backends.SecretService Keyring"


def test_set_get_delete_without_any_prompt(system_keyring: SystemKeyring) -> None:
    keyring.set_password(SERVICE, "store-key", "clé d'essai")
    assert keyring.get_password(SERVICE, "store-key") == "clé d'essai"
    keyring.set_password(SERVICE, "store-key", "nouvelle clé")
    assert keyring.get_password(SERVICE, "store-key") == "nouvelle clé"
    keyring.delete_password(SERVICE, "store-key")
    assert keyring.get_password(SERVICE, "store-key") is None
    with pytest.raises(PasswordDeleteError):
        keyring.delete_password(SERVICE, "store-key")


def test_a_subprocess_shares_the_test_process_keyring(system_keyring: SystemKeyring) -> None:
    keyring.set_password(SERVICE, "shared", "depuis le test")
    code = f"import keyring; print(keyring.get_password({SERVICE!r}, 'shared')); "
    code += f"keyring.set_password({SERVICE!r}, 'shared', 'depuis le sous-processus')"
    assert python(code) == "depuis le test"
    assert keyring.get_password(SERVICE, "shared") == "depuis le sous-processus"
    keyring.delete_password(SERVICE, "shared")


def test_keys_persist_across_a_restart_of_the_same_folder(
    system_keyring: SystemKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "keyring"
    state = keyring_daemon.start(folder)  # a brand-new folder: the login keyring is created unlocked
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", state["address"])
        keyring.set_password(SERVICE, "persistent", "clé de la base")
        with pytest.raises(RigError, match="tourne déjà"):
            keyring_daemon.start(folder)  # one service per folder
    finally:
        keyring_daemon.stop(state)
    assert (folder / "data" / "keyrings" / "login.keyring").is_file()  # encrypted by gnome-keyring
    assert b"cl\xc3\xa9 de la base" not in (folder / "data" / "keyrings" / "login.keyring").read_bytes()
    state = keyring_daemon.start(folder)
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", state["address"])
        assert keyring.get_password(SERVICE, "persistent") == "clé de la base"
    finally:
        keyring_daemon.stop(state)


def test_stop_leaves_no_daemon_running(tmp_path: Path) -> None:
    state = keyring_daemon.start(tmp_path / "keyring")
    pids = [state["dbus_pid"], state["keyring_pid"]]
    assert keyring_daemon.running(state) and not any(gone(pid) for pid in pids)
    keyring_daemon.stop(state)
    assert all(gone(pid) for pid in pids)
    assert not keyring_daemon.running(state)
    assert not (Path(state["runtime_dir"]) / "bus").exists()


def test_stop_ends_daemons_started_by_a_process_that_has_exited(tmp_path: Path) -> None:
    """The rig's case: ``rig up`` starts the service and exits, ``rig down`` stops it from its pids."""
    folder = tmp_path / "keyring"
    code = "import json; from pathlib import Path; from sandbox import keyring_daemon as k; "
    code += f"print(json.dumps(k.start(Path({str(folder)!r}))))"
    state = json.loads(python(code))
    assert keyring_daemon.running(state)
    keyring_daemon.stop(state)
    assert all(gone(state[key]) for key in ("dbus_pid", "keyring_pid"))


def test_missing_tools_are_named_with_the_apt_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(keyring_daemon.shutil, "which", lambda tool: None)
    with pytest.raises(RigError) as raised:
        keyring_daemon.start(tmp_path / "keyring")
    message = str(raised.value)
    assert "dbus-daemon, gnome-keyring-daemon" in message
    assert "sudo apt-get install -y --no-install-recommends gnome-keyring dbus-daemon" in message
    assert not (tmp_path / "keyring").exists()
