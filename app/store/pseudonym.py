"""Patient pseudonyms for the journal, the queue's listing and the cache: an HMAC of the INS with a
secret of this installation (kept inside the encrypted base). The same patient always gets the same
pseudonym here, so an audit can follow one patient; nobody without the base can reverse it."""

from __future__ import annotations

import hashlib
import hmac
import os

from app.ins import Ins
from app.store.database import Database

_SECRET = "pseudonym-secret"


def _secret(db: Database) -> bytes:
    rows = db.execute("SELECT value FROM meta WHERE name = ?", (_SECRET,))
    if rows:
        return bytes(rows[0][0])
    with db.write() as cx:
        cx.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (_SECRET, os.urandom(32)))
        return bytes(cx.execute("SELECT value FROM meta WHERE name = ?", (_SECRET,)).fetchone()[0])


def pseudonym(db: Database, ins: Ins) -> str:
    """``P-`` and 16 hex digits; the same INS (matricule and OID) always gives the same one."""
    digest = hmac.new(_secret(db), ins.to_cx().encode(), hashlib.sha256).hexdigest()
    return f"P-{digest[:16]}"
