"""dmp-gui's first window imports only what it needs (issue 16 item 5).

A fresh interpreter starts as ``dmp-gui`` does (app/ui/main.py: ``load_services_before_qt``, then the
application and the main window) and builds the main window on an empty workspace; the stacks that
only a connection, a send, a card, a hot folder or an INSi search need must not be loaded yet. Each
has its own first use: the card session (app.card.cps: pkcs11), the card TLS transport (tlslite,
app.dmp_client.card_tls / card_records), the VIHF's signature (signxml), the reader monitor started
behind the shown window (pyscard), a hot folder's watcher (watchdog), the INSi client, and the
client's exchanges (httpx, cryptography: the first connection, send or drain); httpx's command-line
tool (click, rich, pygments) is never needed. The encrypted base is not opened here (its keyring is
the test's own business): it is the one stack the first window does load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DEFERRED = (
    "tlslite",  # card TLS
    "pkcs11",  # the CPS card's PKCS#11 module
    "smartcard",  # PC/SC (pyscard): the reader monitor
    "signxml",  # the VIHF's XML signature
    "watchdog",  # the hot folder's watcher
    "click",  # httpx's command-line tool and what only it needs
    "rich",
    "pygments",
    "xml.sax",  # xml.sax.saxutils: urllib, http.client, email for one quoteattr
    "app.card.cps",
    "app.card.pcsc",
    "app.card.session",
    "app.dmp_client.card_tls",
    "app.dmp_client.card_records",
    "app.dmp_client.factory",
    "app.dmp_client.insi_client",
    "app.dmp_client.core.insi",
    "httpx",  # the client's exchanges: HTTP, TLS contexts, the VIHF, the encrypted spool
    "httpcore",
    "h11",
    "cryptography",
    "app.dmp_client.transport",
    "app.dmp_client.bounds",
    "app.dmp_client.exchange",
    "app.dmp_client.client",
    "app.dmp_client.documents",
    "app.dmp_client.structure_keys",
    "app.dmp_client.spool",
    "app.dmp_client.core.signing",
)

PROBE = """
import json, os, sys, tempfile
from app.ui.main import load_services_before_qt

load_services_before_qt()
from app.ui.application import create_application
from app.ui.main_window import MainWindow
from app.config.settings import Settings
from app.services.workspace import Workspace

app = create_application()
window = MainWindow(Workspace(Settings.load(), None), monitor_cards=False)
window.show()
app.processEvents()
print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
sys.stdout.flush()
os._exit(0)
"""


def _first_window_modules(tmp_path: Path) -> set[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "DMP_STORE_DIR": str(tmp_path / "store"),
    }
    env.pop("DMP_MAJ_URL", None)  # the update check's first request would load httpx
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120, check=True,
        cwd=tmp_path,
    )  # fmt: skip
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_first_window_leaves_the_deferred_stacks_out(tmp_path: Path) -> None:
    imported = _first_window_modules(tmp_path)
    assert {"app.ui.main_window", "app.services.workspace", "PySide6.QtWidgets"} <= imported
    loaded = sorted(name for name in imported if any(name == d or name.startswith(d + ".") for d in DEFERRED))
    assert loaded == []
