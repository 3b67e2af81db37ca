"""The hardware-free card rig: test PKI, SoftHSM2 CPS tokens, pcscd with vpcd readers, virtual cards.

``dmp-sandbox rig up`` builds what is missing (PKI and tokens are kept between runs), starts pcscd
when it is not running, starts the private Secret Service that keeps the store's key
(``sandbox.keyring_daemon``, in ``<rig>/keyring``) when it is not running, and plugs the default
cards in: the general practitioner's CPS in reader 0 and a family's Vitale card in reader 1.
``dmp-sandbox rig down`` pulls the cards and stops what ``up`` started. The state (process ids,
paths) is kept in ``<rig>/state.json`` and the variables the client needs in ``<rig>/env`` (shell
syntax).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sandbox import cards, keyring_daemon, pki, softhsm
from sandbox.softhsm import RigError

VPCD_BASE_PORT = 35963
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD_SOCKET = "/run/pcscd/pcscd.comm"
DEFAULT_CARDS = {0: "cps:generaliste", 1: "vitale:P04"}
HOST_PORT = int(os.environ.get("DMP_SANDBOX_PORT", "8443"))
INSI_PORT = int(os.environ.get("DMP_SANDBOX_INSI_PORT", "8444"))  # the sandbox INSi host (sandbox/insi)
PSC_PORT = int(os.environ.get("DMP_SANDBOX_PSC_PORT", "8445"))  # the sandbox PSC provider (sandbox/psc)
# The rig's virtual e-CPS phone: "approuver" (after PSC_PHONE_DELAY s, for the demo), "refuser" or
# "manuel" (`dmp-sandbox ecps approuver|refuser`); changeable while it runs (`dmp-sandbox ecps auto`).
PSC_PHONE = os.environ.get("DMP_SANDBOX_PSC_TELEPHONE", "approuver")
PSC_PHONE_DELAY = float(os.environ.get("DMP_SANDBOX_PSC_DELAI", "3"))
APT_HINT = "sudo apt-get install -y --no-install-recommends softhsm2 pcscd vsmartcard-vpcd"


def default_dir() -> Path:
    return Path(os.environ.get("DMP_SANDBOX_DIR") or Path.home() / ".cache" / "dmp-client-sandbox")


def _state_path(rig: Path) -> Path:
    return rig / "state.json"


def load_state(rig: Path) -> dict[str, Any]:
    path = _state_path(rig)
    return json.loads(path.read_text()) if path.exists() else {"readers": {}}


def _save_state(rig: Path, state: dict[str, Any]) -> None:
    _state_path(rig).write_text(json.dumps(state, indent=2))


def _check_tools() -> None:
    missing = [tool for tool in ("softhsm2-util", "pcscd") if shutil.which(tool) is None]
    if missing or not Path(VPCD_DRIVER).exists():
        raise RigError(f"Outils du banc de cartes manquants ({', '.join(missing) or 'vpcd'}) : {APT_HINT}")


def build_pki(rig: Path) -> None:
    """Generate the test PKI once; card provisioning needs the PERSONNES CA key, kept on disk."""
    folder = rig / "pki"
    if (folder / "complete").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    root_fort = pki.make_ca("TEST AC RACINE IGC-SANTE FORT")
    personnes = pki.make_ca("TEST AC IGC-SANTE FORT PERSONNES", root_fort)
    root_elem = pki.make_ca("TEST AC RACINE IGC-SANTE ELEMENTAIRE")
    organisations = pki.make_ca("TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS", root_elem)
    (folder / "trust-bundle.pem").write_bytes(root_fort.cert_pem() + root_elem.cert_pem())
    (folder / "intermediates.pem").write_bytes(personnes.cert_pem() + organisations.cert_pem())
    for name, issued in [("ca-personnes", personnes), ("ca-organisations", organisations)]:
        (folder / f"{name}.pem").write_bytes(issued.cert_pem())
        assert issued.key is not None
        pki.write_pem_key(folder / f"{name}.key", issued.key)
    server = pki.server_certificate("localhost", organisations)
    (folder / "server.pem").write_bytes(server.cert_pem() + organisations.cert_pem())
    assert server.key is not None
    pki.write_pem_key(folder / "server.key", server.key)
    structure = cards.load_structure()
    auth, sign = pki.structure_certificates(structure.finess, structure.name, organisations)
    for name, issued in [("structure-auth", auth), ("structure-sign", sign)]:
        pki.write_p12(folder / f"{name}.p12", issued, [organisations, root_elem])
        (folder / f"{name}.pem").write_bytes(issued.cert_pem())
        assert issued.key is not None
        pki.write_pem_key(folder / f"{name}.key", issued.key)
    (folder / "complete").write_text("ok\n")


def build_tokens(rig: Path) -> Path:
    """Initialise and provision one SoftHSM token per virtual card (once)."""
    config = rig / "softhsm2.conf"
    if (rig / "tokens" / "complete").exists():
        return config
    shutil.rmtree(rig / "tokens", ignore_errors=True)
    config = softhsm.write_config(rig)
    profiles = cards.load_cards()
    for profile in profiles:
        softhsm.init_token(config, profile.token_label, cards.CARD_PIN, cards.CARD_PUK)
    # Provision in a child process: SoftHSM reads its token folder once, when the module is loaded.
    env = dict(os.environ, SOFTHSM2_CONF=str(config))
    command = [sys.executable, "-m", "sandbox.rig", "_provision", str(rig)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RigError(f"Préparation des cartes virtuelles impossible : {done.stderr.strip()[-2000:]}")
    (rig / "tokens" / "complete").write_text("ok\n")
    return config


def _provision(rig: Path) -> None:
    import pkcs11
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    folder = rig / "pki"
    cert = x509.load_pem_x509_certificate((folder / "ca-personnes.pem").read_bytes())
    key = load_pem_private_key((folder / "ca-personnes.key").read_bytes(), None)
    ca = pki.Issued(cert, key)  # type: ignore[arg-type]
    lib = pkcs11.lib(softhsm.module_path())
    for profile in cards.load_cards():
        softhsm.provision(lib, profile, ca)


def _listening(port: int) -> bool:
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(needle in line and line.split()[3] == "0A" for line in lines):
            return True
    return False


def _pcscd_running() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "pcscd":
                return True
        except OSError:
            continue
    return False


def start_pcscd(rig: Path, state: dict[str, Any]) -> None:
    if not _pcscd_running():
        log = open(rig / "pcscd.log", "ab")  # noqa: SIM115 (handed to the daemon)
        process = subprocess.Popen(["pcscd", "--foreground"], stdout=log, stderr=log, start_new_session=True)
        state["pcscd_pid"] = process.pid
    deadline = time.monotonic() + 15
    while not _listening(VPCD_BASE_PORT):
        if time.monotonic() > deadline:
            raise RigError(
                "pcscd ne publie pas les lecteurs virtuels (port vpcd 35963). pcscd doit tourner en root "
                f"(ou avec /run/pcscd accessible en écriture) et vsmartcard-vpcd être installé : {APT_HINT}"
            )
        time.sleep(0.05)


def start_keyring(rig: Path, state: dict[str, Any]) -> None:
    """The private Secret Service of ``<rig>/keyring`` (its keyring, hence the store's key, is kept)."""
    current = state.get("keyring")
    if current and keyring_daemon.running(current):
        return
    if current:
        keyring_daemon.stop(current)  # whatever is left of an earlier run
    state["keyring"] = keyring_daemon.start(rig / "keyring")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def remove_card(rig: Path, reader: int) -> None:
    state = load_state(rig)
    entry = state["readers"].pop(str(reader), None)
    if entry:
        _kill(entry["pid"])
    _save_state(rig, state)


def _vicc_pids(port: int) -> list[int]:
    """The virtual cards plugged into the vpcd port ``port``, whichever rig started them."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sandbox.vicc" in words and b"--port" in words and str(port).encode() in words:
            found.append(int(cmdline.parent.name))
    return found


def insert_card(rig: Path, reader: int, spec: str) -> None:
    """Plug a virtual card into reader ``reader`` (0 or 1), replacing the one there. A card of another
    rig (one left behind by a killed test run) in the same reader is refused clearly: pcscd keeps the
    first card's connection, so the swap would silently not happen and card tests would wait."""
    remove_card(rig, reader)
    others = _vicc_pids(VPCD_BASE_PORT + reader)
    if others:
        raise RigError(
            f"Un autre banc de cartes occupe le lecteur virtuel {reader} (processus {others[0]}) : "
            "arrêtez-le (dmp-sandbox rig down dans son dossier) ou terminez ce processus."
        )
    state = load_state(rig)
    log = open(rig / f"vicc-{reader}.log", "ab")  # noqa: SIM115 (handed to the child)
    command = [sys.executable, "-m", "sandbox.vicc", "--port", str(VPCD_BASE_PORT + reader), "--card", spec]
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    state["readers"][str(reader)] = {"pid": process.pid, "card": spec}
    _save_state(rig, state)
    _wait_until_seen(reader)


def _wait_until_seen(reader: int, timeout: float = 10.0) -> None:
    """Return once pcscd reports a card in virtual reader ``reader`` (it polls vpcd)."""
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        name = f"Virtual PCD 00 {reader:02d}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result, states = scard.SCardGetStatusChange(context, 200, [(name, scard.SCARD_STATE_UNAWARE)])
            if result == scard.SCARD_S_SUCCESS and states and states[0][1] & scard.SCARD_STATE_PRESENT:
                return
            time.sleep(0.05)
    finally:
        scard.SCardReleaseContext(context)
    raise RigError(f"pcscd ne voit pas la carte insérée dans le lecteur virtuel {reader}.")


def _start_server(rig: Path, name: str, port: int, arguments: list[str], what: str) -> None:
    """Run ``dmp-sandbox --dir <rig> <arguments>`` in the background as the rig's server ``name``
    (its pid and port in the state as ``<name>_pid`` / ``<name>_port``, its output in
    ``<rig>/<name>.log``), replacing the one the rig ran before; wait until it listens on ``port``.
    ``what`` names it in the French error message."""
    state = load_state(rig)
    if state.get(f"{name}_pid"):
        _kill(state[f"{name}_pid"])
    log_path = rig / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 (handed to the child)
    command = [sys.executable, "-m", "sandbox.cli", "--dir", str(rig), *arguments]
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 20
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RigError(f"{what} n'a pas démarré (voir {log_path}).")
        time.sleep(0.05)
    state[f"{name}_pid"], state[f"{name}_port"] = process.pid, port
    _save_state(rig, state)


def start_host(rig: Path, port: int) -> None:
    """Run the sandbox DMP host in the background (stopped by ``down``); wait until it listens."""
    _start_server(rig, "host", port, ["serve", "--port", str(port)], "L'hôte DMP du bac à sable")


def start_insi(rig: Path, port: int) -> None:
    """Run the sandbox INSi host beside the DMP host (stopped by ``down``); wait until it listens."""
    _start_server(rig, "insi", port, ["insi", "serve", "--port", str(port)], "L'hôte INSi du bac à sable")


def start_psc(rig: Path, port: int) -> None:
    """Run the sandbox Pro Santé Connect provider beside the hosts (stopped by ``down``)."""
    arguments = ["psc", "serve", "--port", str(port)]
    arguments += ["--telephone", PSC_PHONE, "--delai-telephone", str(PSC_PHONE_DELAY)]
    _start_server(rig, "psc", port, arguments, "Le fournisseur Pro Santé Connect du bac à sable")


def env_lines(rig: Path) -> list[str]:
    state = load_state(rig)
    port = state.get("host_port", HOST_PORT)
    insi_port = state.get("insi_port", INSI_PORT)
    psc_port = state.get("psc_port", PSC_PORT)
    keyring_env = keyring_daemon.client_env(state["keyring"]) if state.get("keyring") else {}
    return [
        f"export DMP_HOST_URL=https://localhost:{port}/si-dmp-server/v2/services",
        f"export DMP_INSI_URL=https://localhost:{insi_port}/lps",
        "export DMP_INSI_IDAM=BAC-A-SABLE",  # the CNDA number: a sandbox value (the host checks presence)
        # The sandbox PSC provider (docs/sandbox-psc.md): issuer (discovery at /.well-known/...),
        # the registered client and its sandbox-only secret.
        f"export DMP_PSC_URL=https://localhost:{psc_port}/auth/realms/esante-wallet",
        "export DMP_PSC_CLIENT_ID=dmp-client-bac-a-sable",
        "export DMP_PSC_CLIENT_SECRET=secret-du-bac-a-sable",
        f"export SOFTHSM2_CONF={rig / 'softhsm2.conf'}",
        f"export DMP_PKCS11_MODULE={softhsm.module_path()}",
        f"export DMP_SANDBOX_DIR={rig}",
        f"export DMP_SANDBOX_PIN={cards.CARD_PIN}",  # used only by `dmp demo` on sandbox cards
        f"export DMP_STORE_DIR={rig / 'store'}",
        *(f"export {name}={value}" for name, value in keyring_env.items()),
    ]


def environment(rig: Path) -> dict[str, str]:
    """:func:`env_lines` as a mapping: what ``dmp-sandbox rig up`` prints, for a caller in Python."""
    return dict(line.removeprefix("export ").split("=", 1) for line in env_lines(rig))


def up(rig: Path, default_cards: bool = True, host_port: int | None = None) -> float:
    """Bring the rig up; returns the seconds it took."""
    start = time.monotonic()
    _check_tools()
    keyring_daemon.check_tools()
    rig.mkdir(parents=True, exist_ok=True)
    build_pki(rig)
    build_tokens(rig)
    state = load_state(rig)
    start_pcscd(rig, state)
    _save_state(rig, state)
    start_keyring(rig, state)
    _save_state(rig, state)
    if default_cards:
        for reader, spec in DEFAULT_CARDS.items():
            insert_card(rig, reader, spec)
    start_host(rig, HOST_PORT if host_port is None else host_port)
    start_insi(rig, INSI_PORT)
    start_psc(rig, PSC_PORT)
    (rig / "env").write_text("\n".join(env_lines(rig)) + "\n")
    return time.monotonic() - start


def down(rig: Path, purge: bool = False) -> None:
    state = load_state(rig)
    for reader in list(state["readers"]):
        remove_card(rig, int(reader))
    state = load_state(rig)
    for key in ("host_pid", "insi_pid", "psc_pid", "pcscd_pid"):
        if state.get(key):
            _kill(state[key])
    if state.get("keyring"):
        keyring_daemon.stop(state["keyring"])
    _state_path(rig).unlink(missing_ok=True)
    if purge:
        shutil.rmtree(rig, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "_provision":
    _provision(Path(sys.argv[2]))
