"""Where the CPS PKCS#11 module (Cryptolib CPS) lives on each system (ins-and-cards.md §3.2)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.card.errors import MiddlewareMissing

ENV_VARIABLE = "DMP_PKCS11_MODULE"

DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "win32": (r"C:\Windows\System32\cps3_pkcs11_w64.dll",),
    "linux": ("/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so", "/usr/lib/libcps3_pkcs11_lux.so"),
    "darwin": ("/usr/local/lib/libcps3_pkcs11_osx.dylib",),
}


def candidates(configured: str | None = None, platform: str | None = None) -> list[str]:
    """Paths tried in order: the configured one, the environment variable, the OS defaults."""
    platform = platform or sys.platform
    found: list[str] = []
    if configured:
        found.append(configured)
    if os.environ.get(ENV_VARIABLE):
        found.append(os.environ[ENV_VARIABLE])
    found.extend(DEFAULT_PATHS.get("linux" if platform.startswith("linux") else platform, ()))
    return found


def discover(configured: str | None = None) -> str:
    """The first existing module; a configured path that does not exist is an error, not skipped."""
    paths = candidates(configured)
    if configured and not Path(configured).is_file():
        raise MiddlewareMissing(f"Le module PKCS#11 configuré est introuvable : {configured}")
    for path in paths:
        if Path(path).is_file():
            return path
    tried = ", ".join(paths) or "aucun chemin"
    raise MiddlewareMissing(
        "Le module PKCS#11 de la carte CPS (Cryptolib CPS) est introuvable "
        f"(chemins essayés : {tried}). Installez la Cryptolib CPS ou indiquez son chemin."
    )
