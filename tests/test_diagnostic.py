"""``dmp diagnostic``: everything support needs, nothing about patients."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from app.cli.diagnostic import redact
from app.store.local_store import LocalStore, StoreSettings
from tests.keyring_fixture import SystemKeyring
from tests.store.helpers import request_for


def test_the_bundle_holds_no_patient_data(
    system_keyring: SystemKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_dir = tmp_path / "store"
    monkeypatch.setenv("DMP_STORE_DIR", str(store_dir))
    request = request_for(title="Compte rendu de BERNARD JEAN")
    with LocalStore.open(StoreSettings(store_dir)) as store:
        store.queue.enqueue(
            request, io.BytesIO(b"contenu medical"), source_name="150081505104018-bernard.pdf"
        )
    target = tmp_path / "diag.zip"
    out, err = io.StringIO(), io.StringIO()
    assert main(["diagnostic", "--sortie", str(target)], out, err) == 0, err.getvalue()
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        text = "".join(bundle.read(name).decode("utf-8") for name in names)
    assert {"versions.txt", "configuration.txt", "base.txt", "file-d-envoi.csv", "journal.csv"} <= names
    assert "dmp-client" in text and "DMP_HOST_URL" in text and "File, queued : 1" in text
    for secret in ("150081505104018", "BERNARD", "contenu medical", "Compte rendu"):
        assert secret not in text, secret


def test_redaction_masks_identifiers() -> None:
    assert redact("NIR 1 50 08 15 051 040 18 et 1541187387477485562488") == (
        "NIR [identifiant masqué] et [identifiant masqué]"
    )
    assert redact("schéma v2, 3 entrées, 4096 octets") == "schéma v2, 3 entrées, 4096 octets"


def test_redaction_masks_nirs_born_in_corsica() -> None:
    # The department of a birth in Corsica is 2A or 2B (the NIR key is computed with 19 and 18).
    for nir in ("2 69 05 2A 004 018 72", "269052A00401872", "1 84 12 2B 123 456 09", "18412 2b123456"):
        assert redact(f"patient {nir} vu") == "patient [identifiant masqué] vu", nir
    assert redact("version 2.2A 12345") == "version 2.2A 12345"
