"""The virtual e-CPS phone: ``dmp-sandbox ecps``, a client of the running provider's admin endpoint.

The provider writes its issuer URL and a random admin secret into its state folder (``<rig>/psc``);
the phone reads them and talks to ``/sandbox/...`` over TLS, trusting the test PKI.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sandbox.psc.server import ADMIN_PREFIX, ADMIN_TOKEN_FILE


class PhoneError(Exception):
    """The provider is not running, or refused the phone's request (French message)."""


def _call(state_dir: Path, pki_dir: Path, method: str, path: str, body: dict[str, Any] | None) -> Any:
    try:
        issuer = (state_dir / "url").read_text().strip()
        token = (state_dir / ADMIN_TOKEN_FILE).read_text().strip()
    except OSError:
        raise PhoneError(
            f"Fournisseur Pro Santé Connect du bac à sable introuvable ({state_dir}) : lancez "
            "`dmp-sandbox rig up` ou `dmp-sandbox psc serve`."
        ) from None
    parts = urlsplit(issuer)
    context = ssl.create_default_context(cafile=str(pki_dir / "trust-bundle.pem"))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{parts.scheme}://{parts.netloc}{ADMIN_PREFIX}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("error_description", "")
        except ValueError:
            detail = ""
        raise PhoneError(detail or f"Refus du fournisseur (HTTP {error.code}).") from None
    except (urllib.error.URLError, OSError) as error:
        raise PhoneError(f"Fournisseur Pro Santé Connect injoignable : {error}") from None


def pending(state_dir: Path, pki_dir: Path) -> list[dict[str, Any]]:
    answer = _call(state_dir, pki_dir, "GET", "/ecps", None)
    return list(answer.get("pending", []))


def decide(state_dir: Path, pki_dir: Path, approve: bool, auth_req_id: str | None = None) -> str:
    """Approve or refuse a pending request (the only one pending when ``auth_req_id`` is None)."""
    path = "/ecps/approve" if approve else "/ecps/refuse"
    body = {"auth_req_id": auth_req_id} if auth_req_id else {}
    return str(_call(state_dir, pki_dir, "POST", path, body)["auth_req_id"])


def set_faults(state_dir: Path, pki_dir: Path, changes: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = _call(state_dir, pki_dir, "POST", "/faults", changes)
    return answer
