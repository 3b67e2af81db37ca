"""Patient pseudonyms for the journal, the queue's listing and the cache: an HMAC of the INS with a
secret of this installation (kept inside the encrypted base). The same patient always gets the same
pseudonym here, so an audit can follow one patient; nobody without the base can reverse it."""

from __future__ import annotations

import hashlib
import hmac
import os
import weakref

from app.ins import Ins
from app.store.database import Database

_SECRET = "pseudonym-secret"
_known: weakref.WeakKeyDictionary[Database, bytes] = weakref.WeakKeyDictionary()  # read once per base


def _secret(db: Database) -> bytes:
    if (known := _known.get(db)) is not None:
        return known
    rows = db.execute("SELECT value FROM meta WHERE name = ?", (_SECRET,))
    if not rows:
        with db.write() as cx:
            cx.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (_SECRET, os.urandom(32)))
            rows = cx.execute("SELECT value FROM meta WHERE name = ?", (_SECRET,)).fetchall()
    secret = bytes(rows[0][0])
    if not db.in_write:  # remembered once committed (an enclosing transaction could still roll back)
        _known[db] = secret
    return secret


def pseudonym(db: Database, ins: Ins) -> str:
    """``P-`` and 16 hex digits; the same INS (matricule and OID) always gives the same one."""
    digest = hmac.new(_secret(db), ins.to_cx().encode(), hashlib.sha256).hexdigest()
    return f"P-{digest[:16]}"
