"""The ``dmp`` command line: ``ins nir``, ``ins insc`` (single and CSV), ``--version``, ``demo``."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__
from app.cli import main
from tests.ins.test_insc import VECTORS


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def dmp_executable() -> str:
    found = shutil.which("dmp", path=str(Path(sys.executable).parent))
    assert found, "the dmp console script is not installed in this environment"
    return found


def test_installed_console_script_prints_only_the_insc() -> None:
    done = subprocess.run(
        [
            dmp_executable(),
            "ins",
            "insc",
            "--prenom",
            "Jean",
            "--naissance",
            "500801",
            "--nir",
            "150081505104018",
            "--valeur-seule",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "1541187387477485562488\n", "")


def test_version() -> None:
    done = subprocess.run([dmp_executable(), "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"dmp {__version__}"


def test_insc_nir_without_key_and_slashed_date() -> None:
    assert run("ins", "insc", "--prenom", "Jean", "--naissance", "01/08/1950", "--nir", "1500815051040") == (
        0,
        "INS-C (identifiant historique, jamais utilisé pour alimenter) : 1541187387477485562488\n",
        "",
    )


def test_insc_with_wrong_key_is_an_error() -> None:
    status, out, err = run(
        "ins", "insc", "--prenom", "Jean", "--naissance", "500801", "--nir", "150081505104019"
    )
    assert status == 1 and out == ""
    assert err.startswith("ERREUR: ") and "INS-NIR-CLE-FAUSSE" in err


def test_insc_missing_arguments_is_a_usage_error() -> None:
    status, out, err = run("ins", "insc", "--prenom", "Jean")
    assert status == 2 and out == "" and "--naissance" in err


def test_nir_explains_a_valid_number() -> None:
    status, out, _ = run("ins", "nir", "2", "85", "07", "2B", "502", "024", "65")
    assert status == 0
    assert "NIR valide : 2 85 07 2B 502 024 65" in out and "féminin" in out and "département 2B" in out


def test_nir_explains_what_is_wrong() -> None:
    status, out, err = run("ins", "nir", "1500815O51040")
    assert status == 1 and out == ""
    assert "position 8" in err and "INS-NIR-CARACTERE" in err


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_csv_mixed_encodings_bad_lines_and_carrying_on(tmp_path: Path) -> None:
    rows = [f"{p};{d};{n}{k}".encode() for p, d, n, k, _ in VECTORS]
    source = write_lines(
        tmp_path / "in.csv",
        [
            b"prenom;naissance;nir",
            rows[0],
            "Hélène;800101;1500815051040".encode("iso-8859-1"),
            "Hélène;800101;1500815051040".encode(),
            b"Jean;500801;150081505104019",
            b"",
            b"Jean;500801",
            rows[6] + b"\r",
        ],
    )
    status, out, err = run("ins", "insc", "--csv", str(source))
    lines = out.splitlines()
    assert status == 1
    assert len(lines) == 8
    assert lines[0] == "insc"
    assert lines[1] == VECTORS[0][4]
    assert lines[2] == lines[3] and len(lines[2]) == 22  # same INS-C whatever the encoding
    assert lines[4].startswith("ERREUR: ") and "INS-NIR-CLE-FAUSSE" in lines[4]
    assert lines[5] == "ERREUR: ligne vide."
    assert lines[6].startswith("ERREUR: 3 champs")
    assert lines[7] == VECTORS[6][4]
    assert "7 ligne(s) : 4 INS-C calculé(s), 3 erreur(s)." in err


def test_csv_all_good_exits_zero_and_writes_to_a_file(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.csv", [f"{p};{d};{n}".encode() for p, d, n, _, _ in VECTORS])
    target = tmp_path / "out.txt"
    status, out, _ = run("ins", "insc", "--csv", str(source), "--sortie", str(target))
    assert status == 0 and out == ""
    assert target.read_text().splitlines() == [v[4] for v in VECTORS]


def test_csv_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    status, out, err = run("ins", "insc", "--csv", str(tmp_path / "absent.csv"))
    assert status == 2 and out == "" and "ne peut pas être ouvert" in err


def test_csv_cannot_be_combined_with_single_arguments(tmp_path: Path) -> None:
    status, _, err = run("ins", "insc", "--csv", str(tmp_path / "x.csv"), "--prenom", "Jean")
    assert status == 2 and "--csv" in err


@pytest.mark.slow
def test_hundred_thousand_lines_in_one_run(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    p, d, n, k, expected = VECTORS[6]
    with source.open("wb") as handle:
        for i in range(100_000):
            handle.write(f"{p};{d};{n}{k}\n".encode() if i % 1000 else b"Jean;500801;15008150510401X\n")
    done = subprocess.run(
        [dmp_executable(), "ins", "insc", "--csv", str(source)], capture_output=True, text=True, check=False
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert len(lines) == 100_000
    assert lines.count(expected) == 99_900
    assert sum(line.startswith("ERREUR: ") for line in lines) == 100
    assert "100000 ligne(s) : 99900 INS-C calculé(s), 100 erreur(s)." in done.stderr


def test_demo_identifies_every_sandbox_patient(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DMP_PKCS11_MODULE", "DMP_SANDBOX_DIR", "DMP_SANDBOX_PIN"):
        monkeypatch.delenv(variable, raising=False)
    status, out, _ = run("demo")
    assert status == 0
    assert "7/7 identité(s) vérifiée(s)." in out
    assert "150081505104018^^^&1.2.250.1.213.1.4.10&ISO^NH" in out
    legacy = "INS-C (identifiant historique, jamais utilisé pour alimenter"
    assert f"{legacy} ; Vitale, rang 1) : 1541187387477485562488" in out
    assert "non calculable (rang 2" in out
    assert "ATTENTION" not in out
    assert "banc de cartes non monté" in out


def test_gui_entry_point_answers_version_and_refuses_a_bad_context(tmp_path: Path) -> None:
    gui = shutil.which("dmp-gui", path=str(Path(sys.executable).parent))
    assert gui
    version = subprocess.run([gui, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("dmp-gui ")
    bad = tmp_path / "contexte.json"
    bad.write_text("{pas du json", encoding="utf-8")
    done = subprocess.run([gui, "--contexte", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "contexte illisible" in done.stderr
