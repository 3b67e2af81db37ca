"""``dmp identite statut|valider``: the status on this workstation, the strict traits and the INS
history kept, the identity document check (validée, qualifiée after INSi), and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.training import sandbox_patient
from tests.cli.test_insi_cli import traits_args
from tests.cli_helpers import run


def test_an_identity_unknown_here_is_provisoire(cli_env: Path) -> None:
    status, out, _ = run("identite", "statut", "--patient", "P03")
    assert status == 0
    assert "inconnue sur ce poste : provisoire" in out
    assert "Statut de l'identité : provisoire" in out and "interroger le téléservice INSi" in out


def test_insi_then_a_document_check_qualifies_with_the_history(cli_env: Path) -> None:
    found = sandbox_patient("P05")
    assert found is not None
    assert run("insi", "verifier", "--ins", found.ins.matricule.value, *traits_args("P05"))[0] == 0
    status, out, err = run(
        "identite", "valider", "--patient", "P05", "--document", "passeport", "--par", "Dr Test"
    )
    assert status == 0, err
    assert "Pièce d'identité enregistrée : passeport, vérifiée par Dr Test." in out
    assert "Statut de l'identité : qualifiée" in out and "peut alimenter le DMP" in out
    status, out, _ = run("identite", "statut", "--ins", found.ins.matricule.value)
    assert status == 0
    assert "Traits stricts (téléservice INSi)" in out and "Nom de naissance" in out and "NGUYEN" in out
    assert "ancien INS 7 69 03 99 243 042 86" in out  # INSHISTO kept (sandbox/data/insi.json)
    assert "réponse INSi, par" in out and "pièce d'identité vérifiée, par Dr Test" in out
    assert "Statut de l'identité : qualifiée" in out


def test_a_document_check_alone_gives_validee(cli_env: Path) -> None:
    found = sandbox_patient("P03")
    assert found is not None
    status, out, err = run(
        "identite", "valider", "--ins", found.ins.matricule.value, *traits_args("P03"),
        "--document", "CNI", "--par", "accueil",
    )  # fmt: skip
    assert status == 0, err
    assert "Traits stricts (saisis ou reçus, non confirmés par INSi)" in out
    assert "Statut de l'identité : validée" in out and "interroger le téléservice INSi" in out


def test_a_document_check_of_an_unknown_identity_without_traits_is_refused(cli_env: Path) -> None:
    status, _, err = run("identite", "valider", "--patient", "P02", "--document", "CNI", "--par", "Dr Test")
    assert status == 2 and "IDENTITE-INCONNUE" in err and "dmp insi rechercher" in err


@pytest.mark.parametrize(
    "args",
    [
        ("identite", "statut"),
        ("identite", "statut", "--patient", "P01", "--ins", "150081505104018"),
        ("identite", "valider", "--patient", "P01", "--document", "CNI", "--par", " "),
        ("identite", "valider", "--patient", "P01", "--document", "CNI", "--par", "X", "--nom", "SEUL"),
    ],
)
def test_usage_errors(cli_env: Path, args: tuple[str, ...]) -> None:
    status, _, err = run(*args)
    assert status == 2 and "DMP-USAGE" in err


def test_patient_exists_only_in_the_sandbox(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMP_SANDBOX_DIR", "")
    status, _, err = run("identite", "statut", "--patient", "P01")
    assert status == 2 and "bac à sable" in err
