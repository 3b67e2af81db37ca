"""What kind of structure key file a path holds, from its bytes alone (app/dmp_client/structure_keys.py
re-exports these): the settings ask whether a password is needed without loading cryptography or the
transport, which the first connection imports (dmp-gui's start-up, issue 16)."""

from __future__ import annotations

from pathlib import Path


def is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data[:4096]


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` needs a password: an encrypted PEM key, or any PKCS#12 bundle (even one with an
    empty password is read with the keyring's). An unreadable file is not: loading it will say why."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return b"ENCRYPTED" in data if is_pem(data) else bool(data)
