"""A private Secret Service for the sandbox and the tests: ``dbus-daemon`` plus ``gnome-keyring-daemon``.

The client keeps the key of its encrypted store in the operating system's keyring (``keyring``, whose
Linux backend talks to a Secret Service over the D-Bus session bus). A headless machine (CI, the
sandbox demo) has no desktop session and so no Secret Service: ``start`` runs one in a folder of its
own, and ``client_env`` gives what a client process needs to reach it. Never a plaintext key file.

- The bus is private (``<folder>/bus.conf``, no service directories): nothing on it is started by
  D-Bus activation, so no stray ``gnome-keyring-daemon`` can appear behind our back, and no password
  prompt can be shown: a locked collection fails at once instead of hanging.
- The keyring files live in ``<folder>/data/keyrings``; the daemons get ``HOME`` and the XDG folders
  inside ``<folder>``, so nothing goes into the user's real home.
- The login keyring is created on the first start with a fixed, sandbox-only password, and unlocked
  with it on every later start: the keys survive a restart, as the encrypted database does.
- Both daemons are managed children (``--nofork``, ``--foreground``) in their own session, so they
  outlive the process that started them (``dmp-sandbox rig up``) and ``stop`` can really end them.

Linux only.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sandbox.softhsm import RigError

UNLOCK_PASSWORD = "bac-a-sable"  # sandbox only: unlocks again, on the next start, the keyring of the first
APT_HINT = "sudo apt-get install -y --no-install-recommends gnome-keyring dbus-daemon"
TOOLS = ("dbus-daemon", "gnome-keyring-daemon")
LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"
PROBE_SERVICE = "dmp-sandbox-probe"
_LOCKED = 4  # exit status of the probe when the default collection stays locked
# A unix socket path holds at most 107 bytes; gnome-keyring puts "keyring/control" in the runtime folder.
_RUNTIME_BUDGET = 80
_SAFE_ADDRESS_BYTES = frozenset(b"-_/.*0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Private session bus of the sandbox's Secret Service: no service directories (no activation). -->
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Daemons started by this process, so that ``stop`` can reap them (a killed child is a zombie until then).
_children: dict[int, subprocess.Popen[bytes]] = {}


def check_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RigError(
            f"Trousseau système du bac à sable : outils manquants ({', '.join(missing)}) : {APT_HINT}"
        )


def dbus_address(path: Path) -> str:
    """The D-Bus address of a unix socket (bytes outside the address alphabet are %-escaped)."""
    raw = os.fsencode(path)
    return "unix:path=" + "".join(chr(b) if b in _SAFE_ADDRESS_BYTES else f"%{b:02x}" for b in raw)


def start(folder: Path, timeout: float = 15.0) -> dict[str, Any]:
    """Start the private Secret Service of ``folder``; returns its state (pids, bus address, folders).

    Returns once the service answers with its default collection unlocked and a keyring round trip
    done; raises ``RigError`` when the tools are missing or the service does not come up in time.
    """
    check_tools()
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    runtime, temporary = _runtime_dir(folder)
    bus_socket = runtime / "bus"
    if _answers(bus_socket):
        raise RigError(
            f"Un trousseau système du bac à sable tourne déjà pour {folder} (bus {bus_socket}) : "
            "arrêtez-le d'abord."
        )
    bus_socket.unlink(missing_ok=True)
    config = folder / "bus.conf"
    config.write_text(_BUS_CONFIG.format(listen=escape(dbus_address(bus_socket))))
    state: dict[str, Any] = {
        "folder": str(folder),
        "address": dbus_address(bus_socket),
        "runtime_dir": str(runtime),
        "temporary_runtime_dir": temporary,
        "dbus_pid": None,
        "keyring_pid": None,
    }
    deadline = time.monotonic() + timeout
    env = _daemon_env(folder, runtime)
    try:
        state["dbus_pid"] = _start_bus(folder, config, env, deadline)
        state["keyring_pid"] = _start_keyring(
            folder, runtime, dict(env, DBUS_SESSION_BUS_ADDRESS=state["address"])
        )
        _wait_ready(state, deadline)
    except BaseException:
        stop(state)
        raise
    return state


def client_env(state: dict[str, Any]) -> dict[str, str]:
    """The variables a client process needs to use this Secret Service through ``keyring``."""
    return {"DBUS_SESSION_BUS_ADDRESS": str(state["address"])}


def running(state: dict[str, Any]) -> bool:
    """Both daemons of ``state`` are still alive (and are the ones it started)."""
    return all(_alive(state.get(key), marker) for key, marker in _markers(state))


def stop(state: dict[str, Any]) -> None:
    """End the daemons of ``state`` (the keyring first, then its bus); the keyring files are kept."""
    for key, marker in _markers(state):
        pid = state.get(key)
        if pid:
            _terminate(int(pid), marker)
    runtime = Path(state["runtime_dir"])
    (runtime / "bus").unlink(missing_ok=True)
    if state.get("temporary_runtime_dir"):
        shutil.rmtree(runtime, ignore_errors=True)


def _runtime_dir(folder: Path) -> tuple[Path, bool]:
    """``<folder>/run``, or a short folder under the temporary directory when that path is too long."""
    runtime = folder / "run"
    temporary = len(os.fsencode(runtime)) > _RUNTIME_BUDGET
    if temporary:
        runtime = Path(tempfile.mkdtemp(prefix="dmp-keyring-"))
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)  # gnome-keyring refuses a runtime folder others can read
    return runtime, temporary


def _daemon_env(folder: Path, runtime: Path) -> dict[str, str]:
    """A small environment: our folders as HOME and XDG folders, nothing of the user's session."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "LANG") or name.startswith("LC_")
    }
    for name in ("data", "config", "cache"):
        (folder / name).mkdir(exist_ok=True)
    env.update(
        HOME=str(folder),
        XDG_DATA_HOME=str(folder / "data"),
        XDG_CONFIG_HOME=str(folder / "config"),
        XDG_CACHE_HOME=str(folder / "cache"),
        XDG_RUNTIME_DIR=str(runtime),
        GSETTINGS_BACKEND="memory",  # no dconf on a private bus
        GIO_USE_VFS="local",
    )
    return env


def _markers(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(state key, a command-line argument only that daemon has), keyring first."""
    return [
        ("keyring_pid", f"--control-directory={Path(state['runtime_dir']) / 'keyring'}"),
        ("dbus_pid", f"--config-file={Path(state['folder']) / 'bus.conf'}"),
    ]


def _start_bus(folder: Path, config: Path, env: dict[str, str], deadline: float) -> int:
    command = ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"]
    with open(folder / "dbus.log", "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    _children[process.pid] = process
    assert process.stdout is not None
    try:
        # dbus-daemon prints its address once it listens.
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else b""
    finally:
        process.stdout.close()
    if not line.startswith(b"unix:"):
        process.kill()
        process.wait()
        _children.pop(process.pid, None)
        raise RigError(f"Le bus D-Bus privé du trousseau n'a pas démarré (voir {folder / 'dbus.log'}).")
    return process.pid


def _start_keyring(folder: Path, runtime: Path, env: dict[str, str]) -> int:
    command = [
        "gnome-keyring-daemon",
        "--foreground",
        "--unlock",  # reads the login keyring's password on stdin: creates the keyring, or unlocks it
        "--components=secrets",
        f"--control-directory={runtime / 'keyring'}",
    ]
    with open(folder / "gnome-keyring.log", "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=log, stderr=log, env=env, start_new_session=True
        )
    _children[process.pid] = process
    assert process.stdin is not None
    process.stdin.write(UNLOCK_PASSWORD.encode())
    process.stdin.close()
    return process.pid


def _wait_ready(state: dict[str, Any], deadline: float) -> None:
    """Run the probe (a client process, as the application is) until the service answers."""
    folder = Path(state["folder"])
    remaining = max(1.0, deadline - time.monotonic())
    env = dict(os.environ, **client_env(state))
    command = [sys.executable, "-m", "sandbox.keyring_daemon", "_probe", f"{remaining:.1f}"]
    log = folder / "gnome-keyring.log"
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=remaining + 5, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise RigError(
            f"Le trousseau système du bac à sable ne répond pas (voir {log}) : {APT_HINT}"
        ) from error
    reason = (done.stderr.strip().splitlines() or ["sans message"])[-1]
    if done.returncode == _LOCKED:
        raise RigError(
            f"Trousseau système du bac à sable inutilisable : {reason} ({folder / 'data' / 'keyrings'})."
        )
    if done.returncode != 0:
        raise RigError(f"Trousseau système du bac à sable indisponible : {reason} (voir {log}) : {APT_HINT}")


def _probe(timeout: float) -> int:
    """In a client process: wait for the service, make sure its default collection is usable, round trip.

    Prints the reason on standard error and returns non-zero when the service is not usable.
    """
    from contextlib import closing

    import keyring
    import secretstorage
    from keyring.backends import SecretService

    deadline = time.monotonic() + timeout
    reason = f"le service Secret Service n'a pas répondu en {timeout:.0f} s"
    while True:
        try:
            with closing(secretstorage.dbus_init()) as connection:
                if secretstorage.check_service_availability(connection):
                    _ensure_default_collection(connection)
                    break
        except secretstorage.SecretServiceNotAvailableException:
            pass
        except _NotReady as error:
            reason = str(error)
        except RigError as error:
            print(error, file=sys.stderr)
            return _LOCKED
        if time.monotonic() > deadline:
            print(reason, file=sys.stderr)
            return 3
        time.sleep(0.02)
    keyring.core.init_backend()  # chosen once per process: choose now that the service answers
    backend = keyring.get_keyring()
    if not isinstance(backend, SecretService.Keyring):
        print(f"keyring choisit {type(backend).__module__} au lieu du Secret Service", file=sys.stderr)
        return 5
    keyring.set_password(PROBE_SERVICE, "probe", "ok")
    read = keyring.get_password(PROBE_SERVICE, "probe")
    keyring.delete_password(PROBE_SERVICE, "probe")
    if read != "ok":
        print("le trousseau ne relit pas ce qui vient d'y être écrit", file=sys.stderr)
        return 6
    return 0


class _NotReady(RigError):
    """The service answers but its login keyring is not there (yet)."""


def _ensure_default_collection(connection: Any) -> None:
    """The ``default`` alias names an unlocked collection (the login keyring), so no prompt is ever needed.

    Without a default collection, ``keyring`` would ask the service to create one, which prompts.
    """
    import secretstorage
    from secretstorage.defines import SS_PATH
    from secretstorage.util import SERVICE_IFACE, DBusAddressWrapper

    try:
        collection = secretstorage.get_collection_by_alias(connection, "default")
    except secretstorage.ItemNotFoundException:
        try:
            collection = secretstorage.Collection(connection, LOGIN_COLLECTION)
        except secretstorage.ItemNotFoundException as error:
            raise _NotReady("le trousseau « login » n'a pas été créé") from error
        DBusAddressWrapper(SS_PATH, SERVICE_IFACE, connection).call(
            "SetAlias", "so", "default", LOGIN_COLLECTION
        )
    if collection.is_locked():
        raise RigError(
            "le trousseau par défaut est verrouillé (créé avec un autre mot de passe ?) : effacez-le"
        )


def _alive(pid: Any, marker: str) -> bool:
    """``pid`` runs (not a zombie) and its command line holds ``marker``."""
    if not pid:
        return False
    proc = Path("/proc") / str(pid)
    try:
        status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        arguments = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    return status not in ("Z", "X") and os.fsencode(marker) in arguments


def _terminate(pid: int, marker: str) -> None:
    process = _children.pop(pid, None)
    if process is not None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _alive(pid, marker):  # gone, or the pid now belongs to another process
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 3
        while _alive(pid, marker) and time.monotonic() < deadline:
            time.sleep(0.02)


def _answers(path: Path) -> bool:
    """Something listens on the unix socket ``path``."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(os.fsdecode(path))
        except OSError:
            return False
    return True


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "_probe":
    sys.exit(_probe(float(sys.argv[2])))
