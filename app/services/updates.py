"""Notify-only update check: the vendor publishes a small JSON announcement at a URL it configures
(``DMP_MAJ_URL``); the application says when a newer version exists and where to get it. It never
downloads or installs anything: in managed fleets, the vendor or IT redeploys the package.

Announcement: ``{"version": "0.2.0", "url": "https://…", "notes": "…"}`` (UTF-8 JSON, ≤ 64 KiB).
A failed check is silent for the user's work (it is only a notice) but reported as such.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app import __version__
from app.errors import DmpClientError

MAX_BYTES = 64 * 1024
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class UpdateCheckFailed(DmpClientError):
    code = "MAJ-VERIFICATION"
    user_message = "La vérification des mises à jour n'a pas abouti (le logiciel continue normalement)."


@dataclass(frozen=True)
class Update:
    version: str
    url: str
    notes: str

    def describe(self) -> str:
        return f"Nouvelle version {self.version} disponible : {self.url}"


def _parse_version(text: str) -> tuple[int, int, int]:
    found = _VERSION.match(text.strip())
    if not found:
        raise UpdateCheckFailed(f"Annonce de mise à jour illisible : version « {text[:20]} ».")
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch)


def _is_allowed(url: str, *, loopback_http: bool) -> bool:
    """HTTPS to a named host, or (``loopback_http``: a local test server) plain HTTP to a loopback
    address; the scheme and the host are parsed, not matched as a prefix of the text."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not loopback_http:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(
    url: str, current: str = __version__, *, timeout: float = 5.0, proxy: str | None = None
) -> Update | None:
    """The announced update when it is newer than ``current``; None when up to date."""
    if not _is_allowed(url, loopback_http=True):
        raise UpdateCheckFailed("L'adresse des mises à jour doit être en HTTPS.")
    try:
        client = httpx.Client(timeout=timeout, proxy=proxy, trust_env=False, follow_redirects=False)
        with client, client.stream("GET", url) as response:
            if response.status_code != 200:
                raise UpdateCheckFailed(f"Annonce de mise à jour indisponible (HTTP {response.status_code}).")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise UpdateCheckFailed("Annonce de mise à jour trop volumineuse.")
    except httpx.HTTPError as error:
        raise UpdateCheckFailed(f"Serveur des mises à jour injoignable ({type(error).__name__}).") from None
    try:
        data = json.loads(body.decode("utf-8"))
        version, link = str(data["version"]), str(data["url"])
    except (ValueError, KeyError, TypeError):
        raise UpdateCheckFailed("Annonce de mise à jour illisible (JSON attendu).") from None
    if not _is_allowed(link, loopback_http=False):
        raise UpdateCheckFailed("Annonce de mise à jour refusée : lien de téléchargement non HTTPS.")
    if _parse_version(version) <= _parse_version(current):
        return None
    return Update(version, link, str(data.get("notes", ""))[:500])
