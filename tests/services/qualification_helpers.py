"""The sandbox INSi host in-process and the settings that point the product at it (real mutual TLS
with the sandbox PKI; card mode with card-shaped software keys, never the card rig)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from app.config.layers import Config
from app.config.settings import Settings
from sandbox.insi.server import InsiConfig, InsiHost, serve_in_thread
from tests.host_fixture import serving

IDAM = "BAC-A-SABLE"


def running_insi(config: InsiConfig) -> AbstractContextManager[InsiHost]:
    return serving(InsiHost(("127.0.0.1", 0), config), serve_in_thread)


def insi_env(host: InsiHost, pki_dir: Path, store: Path, timeout: float = 10.0) -> dict[str, str]:
    return {
        "DMP_SANDBOX_DIR": str(pki_dir),
        "DMP_INSI_URL": f"https://localhost:{host.server_address[1]}/lps",
        "DMP_INSI_IDAM": IDAM,
        "DMP_INSI_DELAI_S": str(timeout),
        "DMP_STORE_DIR": str(store),
    }


def insi_settings(host: InsiHost, pki_dir: Path, store: Path, timeout: float = 10.0) -> Settings:
    """Sandbox settings (the structure's sandbox certificate) with the INSi host's address."""
    env = insi_env(host, pki_dir, store, timeout)
    return Settings.load(Config.load(environ=env, user_file=store / "absent.toml"))
