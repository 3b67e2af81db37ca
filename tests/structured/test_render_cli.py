"""``dmp get --texte`` (issue 19 item 3): the CDA is saved as before and printed as plain text; the
sandbox host's structured documents (VSM, note de vaccination, biology report) come back rendered with
the sandbox patient's identity, a level-1 one with its header and its body named."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dmp_client.core.cda_render import render
from sandbox.host.docstore import SEED_OID
from tests.test_cli_lying import env, run, sent_document  # noqa: F401  (env: the CLI's fixture)

P01 = "207058575627097"  # the sandbox patient with 2,000 documents: every family


def seeded(index: int) -> str:
    return f"{SEED_OID}.1.{P01}.{index}"


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (
            3,
            [
                "Volet de synthèse médicale n° 4",
                "Traitement au long cours",
                "| PLAVIX 75mg, comprimé pelliculé",
            ],
        ),
        (
            9,
            ["Note de vaccination n° 10", "Voie d'administration", "| 28/09/2009 | VACCIN TETANIQUE PASTEUR"],
        ),
        (
            1,
            [
                "Compte rendu de biologie n° 2",
                "BIOCHIMIE",
                "| Thyroxine libre (FT4) (ECL Modular) | 7.67 pg/ml",
            ],
        ),
    ],
    ids=["vsm", "vaccination", "biologie"],
)
def test_get_texte_prints_a_structured_document(env: Path, index: int, expected: list[str]) -> None:  # noqa: F811
    target = env / "document.xml"
    status, out, err = run(
        "get", "--ins", P01, "--document", seeded(index), "--sortie", str(target), "--texte"
    )
    assert status == 0, err
    assert "Document enregistré" in out
    traits = ["Nom de naissance : DURAND", "Prénom(s) de naissance : CLAIRE MARIE", "Sexe : Féminin"]
    for line in [*expected, *traits]:
        assert line in out, line
    assert "INS : 207058575627097 — INS-NIR [TEST], OID 1.2.250.1.213.1.4.10" in out
    assert "PAT-TROIS" not in out  # the ANS example's patient is gone
    assert render(target.read_bytes()).text in out  # the CDA saved is the one printed


def test_get_texte_of_a_level_1_document_names_its_body(env: Path) -> None:  # noqa: F811
    unique_id = sent_document(env, "Compte rendu texte")
    target = env / "niveau1.xml"
    status, out, err = run(
        "get", "--ins", "150081505104018", "--document", unique_id, "--sortie", str(target), "--texte"
    )
    assert status == 0, err
    assert "Compte rendu texte" in out and "Corps du document : fichier joint (text/plain)" in out
    assert f"(Le document joint est dans le CDA enregistré : {target})" in out


def test_get_without_texte_prints_only_the_saved_line(env: Path) -> None:  # noqa: F811
    target = env / "document.xml"
    status, out, err = run("get", "--ins", P01, "--document", seeded(3), "--sortie", str(target))
    assert status == 0, err
    assert out.strip().startswith("Document enregistré") and "Nom de naissance" not in out
