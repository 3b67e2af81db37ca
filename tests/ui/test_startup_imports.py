"""Start-up imports only what the first window needs (issue 16 item 5).

The card (pkcs11), card TLS (tlslite), XML-signature (signxml) stacks load at first use (a
connection, a send); httpx's command-line tool (click, rich) is excluded from the frozen build
(installer/dmp.spec) and httpx does without it. Checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.ins.ins import quoteattr

ROOT = Path(__file__).resolve().parents[2]
DEFERRED = ("tlslite", "pkcs11", "signxml", "xml.sax.saxutils", "app.dmp_client.factory", "app.card.cps")
CLI_ONLY = ("click", "rich", "pygments")

PROBE = """
import json, sys
if sys.argv[1] == "frozen":
    sys.modules["httpx._main"] = None  # as in the frozen build: excluded, httpx falls back
import app.ui.main_window
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {names})))
"""


def _imported(mode: str) -> set[str]:
    names = {name.split(".")[0] for name in DEFERRED + CLI_ONLY} | {"app", "xml"}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(names=sorted(names)), mode],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_main_window_defers_the_card_tls_and_signature_stacks() -> None:
    imported = _imported("dev")
    assert "app.ui.main_window" in imported
    assert not [
        name for name in DEFERRED if name in imported or any(m.startswith(name + ".") for m in imported)
    ]


def test_frozen_build_start_up_has_no_httpx_cli() -> None:
    imported = _imported("frozen")
    assert not [name for name in CLI_ONLY if name in imported]
    spec = (ROOT / "installer" / "dmp.spec").read_text(encoding="utf-8")
    assert all(f'"{name}"' in spec for name in ("httpx._main", *CLI_ONLY))


def test_quoteattr_escapes_as_the_standard_library() -> None:
    from xml.sax.saxutils import quoteattr as standard

    from lxml import etree

    for value in ("1.2.250.1.213.1.4.10", "248092519213041", "a&b<c>", "x\n\ty\r"):
        assert quoteattr(value) == standard(value)
    for value in ('say "x"', "a'b\"c", "a&b<c>\n"):  # the attribute reads back as the value
        assert etree.fromstring(f"<id root={quoteattr(value)}/>").get("root") == value


def test_the_service_stack_is_imported_before_qt() -> None:
    # PySide6's import hook reads the source of every module imported after it (app/ui/main.py,
    # load_services_before_qt): dmp-gui loads the service stack first, so Qt comes after it. The
    # client's exchanges (httpx) are not part of it: they load with the first connection.
    code = (
        "import sys; from app.ui.main import load_services_before_qt; load_services_before_qt(); "
        "print('PySide6' in sys.modules, 'app.store.local_store' in sys.modules, "
        "'app.services.workspace' in sys.modules, 'httpx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True", "False"]
