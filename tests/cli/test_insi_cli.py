"""``dmp insi rechercher|verifier`` against the sandbox INSi host (real mutual TLS, the structure's
sandbox certificate): the strict traits shown, the status recorded, 01/02 with their next step, the
Vitale search for each beneficiary of a family card, the EHR hand-off verified; nothing logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.card.patient_sources import Beneficiary
from app.ins import Nir
from app.services.identity import IdentityLifecycle, IdentityStatus
from app.services.training import sandbox_patient
from app.store.local_store import LocalStore, StoreSettings
from sandbox.insi.server import InsiHost
from tests.cli_helpers import run


def traits_args(pid: str, *, first_only: bool = False) -> list[str]:
    found = sandbox_patient(pid)
    assert found is not None and found.traits is not None
    t = found.traits
    names = t.first_name if first_only else " ".join(t.first_names)
    args = [
        "--nom",
        t.birth_name,
        "--prenoms",
        names,
        "--sexe",
        str(t.sex),
        "--naissance",
        t.birth_date.to_french(),
    ]
    return args + (["--lieu", t.birth_place] if t.birth_place and not first_only else [])


def status_in_base(folder: Path, pid: str) -> IdentityStatus:
    found = sandbox_patient(pid)
    assert found is not None
    with LocalStore.open(StoreSettings(folder / "store")) as store:
        return IdentityLifecycle(store.db).status(found.ins)


def test_search_by_traits_shows_the_strict_traits_and_records_recuperee(
    cli_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, out, err = run(
        "insi", "rechercher", *traits_args("P04", first_only=True), "--nom-utilise", "MARTIN"
    )
    assert status == 0, err
    assert "Résultat INSi : trouvée (compte rendu 00)" in out
    for label, value in (
        ("Nom de naissance", "PETIT"),
        ("Premier prénom de naissance", "ÉLODIE"),
        ("Prénoms de naissance", "ÉLODIE ANNE"),
        ("Date de naissance", "24/12/1985"),
        ("Sexe", "F"),
        ("Lieu de naissance (code INSEE)", "75056"),
        ("Matricule INS", "2 85 12 75 056 123 53 — OID 1.2.250.1.213.1.4.10"),
        ("Nom / prénom utilisés", "MARTIN / non renseigné"),
    ):
        line = next((li for li in out.splitlines() if li.strip().startswith(label)), "")
        assert value in line, (label, out)
    assert "Historique INS (INSHISTO) : aucun ancien INS" in out
    assert "Statut de l'identité : récupérée" in out and "dmp identite valider" in out
    assert status_in_base(cli_env, "P04") is IdentityStatus.RECUPEREE
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "PETIT" not in logged and "285127505612353" not in logged


def test_homonyms_give_02_and_the_next_step(cli_env: Path) -> None:
    status, out, _ = run(
        "insi",
        "rechercher",
        "--nom",
        "MARTIN",
        "--prenom",
        "LOUIS",
        "--sexe",
        "M",
        "--naissance",
        "29/02/1972",
    )
    assert status == 1
    assert "plusieurs identités (compte rendu 02)" in out and "autres prénoms de naissance" in out
    assert "Statut de l'identité : provisoire" in out


def test_an_unknown_person_gives_01_and_the_next_step(cli_env: Path) -> None:
    status, out, _ = run(
        "insi",
        "rechercher",
        "--nom",
        "INCONNU",
        "--prenom",
        "PERSONNE",
        "--sexe",
        "F",
        "--naissance",
        "01/01/1999",
    )
    assert status == 1 and "compte rendu 01" in out and "autres critères" in out


class FamilyCard:
    """The sandbox's virtual Vitale card of P04 (ÉLODIE PETIT and her son LUCAS), without the rig."""

    label = "carte Vitale (bac à sable)"

    def beneficiaries(self) -> list[Beneficiary]:
        return [
            Beneficiary(1, "PETIT", "ELODIE", "851224", Nir.parse("285127505612353")),
            Beneficiary(2, "PETIT", "LUCAS", "150609", None),
        ]

    def holder(self) -> Nir:
        return Nir.parse("285127505612353")


@pytest.mark.parametrize(("rank", "pid"), [("1", "P04"), ("2", "P06")])
def test_search_with_the_vitale_card_for_each_beneficiary(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, rank: str, pid: str
) -> None:
    from app.services import training

    monkeypatch.setattr(training, "vitale_card", lambda sandbox, reader=None: FamilyCard())
    status, out, err = run("insi", "rechercher", "--vitale", "--beneficiaire", rank)
    assert status == 0, err
    found = sandbox_patient(pid)
    assert found is not None
    assert found.ins.matricule.grouped() in out
    assert status_in_base(cli_env, pid) is IdentityStatus.RECUPEREE
    status, _, err = run("insi", "rechercher", "--vitale")  # two beneficiaries: one must be chosen
    assert status == 2 and "VITALE-BENEFICIAIRE" in err and "rangs 1, 2" in err


def test_traits_and_vitale_do_not_go_together(cli_env: Path) -> None:
    status, _, err = run("insi", "rechercher", "--vitale", *traits_args("P01"))
    assert status == 2 and "DMP-USAGE" in err
    status, _, err = run("insi", "rechercher")
    assert status == 2 and "DMP-USAGE" in err


def test_verify_a_handed_over_qualifiee_is_recuperee_here(cli_env: Path) -> None:
    found = sandbox_patient("P01")
    assert found is not None
    ins = found.ins.matricule.value
    status, out, err = run(
        "insi", "verifier", "--ins", ins, *traits_args("P01"), "--statut-annonce", "qualifiee"
    )
    assert status == 0, err
    assert "confirmée (compte rendu 00)" in out and "Statut de l'identité : récupérée" in out
    assert "ATTENTION" in out and "aucune pièce d'identité" in out
    assert status_in_base(cli_env, "P01") is IdentityStatus.RECUPEREE


def test_verify_someone_else_s_ins_is_refused(cli_env: Path) -> None:
    other = sandbox_patient("P03")
    assert other is not None
    status, out, _ = run("insi", "verifier", "--ins", other.ins.matricule.value, *traits_args("P01"))
    assert status == 1 and "refusée" in out and "un autre INS" in out
    assert status_in_base(cli_env, "P03") is IdentityStatus.PROVISOIRE


def test_insi_not_configured_is_an_error_before_anything(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DMP_INSI_URL")
    status, _, err = run("insi", "rechercher", *traits_args("P01"), "--mode", "carte")  # no PIN asked
    assert status == 2 and "INSI-NON-CONFIGURE" in err and "Code porteur" not in err


def test_insi_host_journal_names_the_structure(cli_env: Path, insi_host: InsiHost) -> None:
    run("insi", "rechercher", *traits_args("P02"))
    assert insi_host.journal and insi_host.journal[-1].caller.startswith("ORG:")  # the structure certificate


def test_card_mode_goes_with_the_card_alone(
    cli_env: Path, insi_host: InsiHost, card_keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--mode carte``: the PIN asked once, INSi over the card's TLS (a software key of the
    card-shaped PKI stands in for the card's RSA; never the card rig), no DMP connection."""
    from types import SimpleNamespace

    from app.card import pkcs11_module
    from app.card import session as card_session
    from tests.services.test_qualification import GP, _SoftwareCard

    cert, key, _ = card_keys["generaliste"]
    signatures: list[int] = []
    asked: list[str] = []
    cards: list[Card] = []

    class Card(_SoftwareCard):
        def __init__(self, module: object, sandbox: bool = False) -> None:
            super().__init__(cert, key, signatures)
            cards.append(self)
            self.closed = False

        def login(self, prompt) -> None:  # type: ignore[no-untyped-def]
            asked.append("pin")

        def professional(self) -> SimpleNamespace:
            return SimpleNamespace(national_id=GP, display_name="DR TEST")

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(card_session, "CardSession", Card)
    monkeypatch.setattr(pkcs11_module, "discover", lambda configured=None: "module")
    status, out, err = run("insi", "rechercher", *traits_args("P03"), "--mode", "carte")
    assert status == 0, err
    assert asked == ["pin"] and signatures  # one login, the card signed the TLS handshake
    assert len(cards) == 1 and cards[0].closed
    assert insi_host.journal[-1].caller == f"CPS:{GP}"
    found = sandbox_patient("P03")
    assert found is not None and found.ins.matricule.grouped() in out
