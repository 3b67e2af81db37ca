"""Patient identity sources: the EHR's JSON hand-off and manual entry; module discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.card import pkcs11_module
from app.card.errors import MiddlewareMissing, VitaleError
from app.card.patient_sources import EhrContextSource, ManualEntrySource


def test_ehr_context_gives_beneficiaries_and_insc(tmp_path: Path) -> None:
    context = {
        "beneficiaires": [
            {
                "nom": "BERNARD",
                "prenom": "Jean",
                "naissance": "01/08/1950",
                "nir": "150081505104018",
                "ins": {"matricule": "150081505104018", "oid": "1.2.250.1.213.1.4.10"},
            },
            {"nom": "BERNARD", "prenom": "Léa", "naissance": "120300", "rang": 2},
        ]
    }
    path = tmp_path / "contexte.json"
    path.write_text(json.dumps(context), encoding="utf-8")
    first, child = EhrContextSource.from_file(path).beneficiaries()
    assert first.insc() is not None and first.insc().value == "1541187387477485562488"  # type: ignore[union-attr]
    assert first.ins is not None and first.ins.is_fictitious
    assert child.insc() is None and "pas d'INS-C" in (child.insc_unavailable or "")
    assert child.birth_date == "120300"  # lunar date kept
    assert "BERNARD" not in repr(first)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "mal formé"),
        ("[]", "objet JSON"),
        ('{"beneficiaires": []}', "aucun bénéficiaire"),
        ('{"beneficiaires": [{"nom": "A", "naissance": "500801"}]}', "'prenom'"),
        (
            '{"beneficiaires": [{"nom": "A", "prenom": "B", "naissance": "500801", '
            '"nir": "150081505104019"}]}',
            "clé",
        ),
    ],
)
def test_bad_ehr_context_is_a_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "contexte.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VitaleError) as caught:
        EhrContextSource.from_file(path).beneficiaries()
    assert fragment in caught.value.user_message


def test_manual_entry_is_validated() -> None:
    (only,) = ManualEntrySource("BERNARD", "Jean", "500801", "1500815051040").beneficiaries()
    assert only.own_nir is not None and only.own_nir.key == "18"
    with pytest.raises(VitaleError):
        ManualEntrySource("", "Jean", "500801")
    with pytest.raises(VitaleError):
        ManualEntrySource("BERNARD", "Jean", "1950-08-01")


def test_module_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pkcs11_module.ENV_VARIABLE, raising=False)
    assert pkcs11_module.candidates(platform="win32") == [r"C:\Windows\System32\cps3_pkcs11_w64.dll"]
    assert pkcs11_module.candidates(platform="darwin") == ["/usr/local/lib/libcps3_pkcs11_osx.dylib"]
    assert pkcs11_module.candidates(platform="linux")[0] == "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so"
    with pytest.raises(MiddlewareMissing) as caught:
        pkcs11_module.discover(str(tmp_path / "absent.so"))
    assert "absent.so" in caught.value.user_message
    module = tmp_path / "module.so"
    module.write_bytes(b"")
    monkeypatch.setenv(pkcs11_module.ENV_VARIABLE, str(module))
    assert pkcs11_module.discover() == str(module)
