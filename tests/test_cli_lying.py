"""The ``dmp`` commands against the lying registry (sandbox/host/lies.py), end to end: the in-process
sandbox host over real mutual TLS, the CLI in card mode with the GP's card-shaped software keys (no
rig: ``card_client`` is the only thing replaced), the local base in the real keyring.

Each lie is refused with its French message and code, the command exits non-zero, nothing is written
where the user asked, nothing reaches the cache, nothing is changed on the host, and the refusal is
in the journal as a pseudonymised VIGILANCE safety event."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.config.settings import Settings
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.errors import AlteredDocument, OtherPatientAnswer
from app.dmp_client.documents import SAFETY_EVENT
from app.ins import Ins
from app.store.local_store import LocalStore
from sandbox import cards
from sandbox.host.server import DmpHost
from tests.cli_helpers import run
from tests.dmp_client.test_documents_e2e import patient
from tests.host_fixture import DirectClient
from tests.identity_helpers import qualify_in_store

AUTRE = OtherPatientAnswer.code
ALTERE = AlteredDocument.code
P03 = "P03"


class _SoftwareCard:
    """Stands for the CardSession of the software keys (the session service reads who and where)."""

    reader = "Lecteur virtuel (clés logicielles de test)"

    def professional(self) -> SimpleNamespace:
        return SimpleNamespace(national_id="899900063480", display_name="généraliste de test")

    def situations(self) -> list[SimpleNamespace]:
        situation = cards.card("generaliste").situations[0]
        return [
            SimpleNamespace(
                number=1, structure_id=situation.structure_id, sector=situation.sector, structure_name=""
            )
        ]

    def close(self) -> None:
        pass


@pytest.fixture
def env(
    cli_host_env: Path, host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> Path:
    def card_client(
        _settings: Settings, _prompt: object, _situation: int = 1, purpose: Purpose = Purpose.NORMAL
    ):  # type: ignore[no-untyped-def]
        return direct_client(host, "generaliste", purpose), _SoftwareCard()

    monkeypatch.setattr("app.dmp_client.factory.card_client", card_client)
    qualify_in_store(cli_host_env / "store")  # the patients fed: their INSi call made, their ID checked
    return cli_host_env


def ins_p03() -> Ins:
    return patient(P03)[0]


def matricule() -> str:
    return ins_p03().matricule.value


def sent_document(folder: Path, title: str = "Compte rendu") -> str:
    """A document of P03 sent honestly (the lie is switched on after): its uniqueId."""
    pdf = folder / "cr.txt"
    pdf.write_text(f"{title}\n", encoding="utf-8")
    status, out, err = run("send", str(pdf), "--patient", P03, "--type", "11488-4", "--titre", title)
    assert status == 0, err
    return out.rsplit(": ", 1)[1].strip()


def cache_usage() -> tuple[int, int, int]:
    with LocalStore.open(Settings.load().store) as store:
        return store.cache.usage()


def journal_rows() -> list[dict[str, str]]:
    status, out, err = run("journal", "export", "--format", "jsonl")
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def assert_refused(status: int, out: str, err: str, code: str) -> None:
    assert status != 0
    assert f"[{code}]" in err
    if code == AUTRE:
        assert "autre patient" in err and "écartée" in err
    else:
        assert "ne correspond pas" in err or "vide" in err
    assert "Traceback" not in err and "Document enregistré" not in out


def assert_safety_event(code: str, count: int = 1) -> None:
    rows = journal_rows()
    safety = [r for r in rows if r["transaction"] == SAFETY_EVENT]
    assert [r["resultat"] for r in safety] == [code] * count
    assert all(r["patient"].startswith("P-") for r in safety)  # the queried patient, pseudonymised
    dump = json.dumps(rows, ensure_ascii=False)
    assert matricule() not in dump and "299999999999999" not in dump  # no INS in clear, nor the other's
    assert patient(P03)[1].birth_name not in dump


def test_find_refuses_another_patients_entries_and_caches_nothing(env: Path, host: DmpHost) -> None:
    unique_id = sent_document(env)
    host.config.faults.lie = "autre-patient"
    status, out, err = run("find", "--ins", matricule())
    assert_refused(status, out, err, AUTRE)
    assert "document(s)" not in out
    assert cache_usage() == (0, 0, 0)
    status, _, err = run("find", "--ins", matricule(), "--hors-ligne")
    assert status == 2 and "[CACHE-VIDE]" in err  # nothing of the refused list kept for offline use
    assert_safety_event(AUTRE)

    host.config.faults.lie = None  # the control: the same command, honest host, lists and caches
    status, out, err = run("find", "--ins", matricule())
    assert status == 0 and "Compte rendu" in out and unique_id in out, err
    assert cache_usage()[0] == 1


@pytest.mark.parametrize("lie", ["autre-patient", "autres-octets", "document-vide"])
def test_get_refuses_and_writes_nothing(env: Path, host: DmpHost, lie: str) -> None:
    unique_id = sent_document(env)
    host.config.faults.lie = lie
    target = env / "sortie.xml"
    status, out, err = run("get", "--ins", matricule(), "--document", unique_id, "--sortie", str(target))
    code = AUTRE if lie == "autre-patient" else ALTERE
    assert_refused(status, out, err, code)
    if lie == "document-vide":
        assert "document vide" in err
    assert not target.exists() and not target.with_name(target.name + ".partiel").exists()
    assert cache_usage() == (0, 0, 0)
    assert_safety_event(code)

    host.config.faults.lie = None
    status, out, err = run("get", "--ins", matricule(), "--document", unique_id, "--sortie", str(target))
    assert status == 0 and target.stat().st_size > 0 and "octets, DMP)" in out, err
    assert cache_usage()[1] == 1


@pytest.mark.parametrize("command", ["mask", "archive"])
def test_updates_refuse_an_entry_of_another_patient(
    env: Path, host: DmpHost, direct_client: DirectClient, command: str
) -> None:
    unique_id = sent_document(env)
    host.config.faults.lie = "autre-patient"
    status, out, err = run(command, "--ins", matricule(), "--document", unique_id)
    assert_refused(status, out, err, AUTRE)
    assert "Document masqué" not in out and "Document archivé" not in out
    assert_safety_event(AUTRE)
    host.config.faults.lie = None
    entry = direct_client(host, "generaliste").document_by_unique_id(ins_p03(), unique_id)
    assert entry.status.endswith(":Approved")  # no ITI-57 went out
    assert "MASQUE_PS" not in entry.confidentiality_codes
    status, out, err = run(command, "--ins", matricule(), "--document", unique_id)  # the control
    assert status == 0, err


@pytest.mark.parametrize("lie", ["autre-patient", "autres-octets", "document-vide"])
def test_replace_refuses_and_publishes_nothing(
    env: Path, host: DmpHost, direct_client: DirectClient, lie: str
) -> None:
    unique_id = sent_document(env)
    host.config.faults.lie = lie
    v2 = env / "v2.txt"
    v2.write_text("Compte rendu corrigé\n", encoding="utf-8")
    status, out, err = run(
        "send", str(v2), "--patient", P03, "--type", "11488-4", "--titre", "v2", "--replace", unique_id
    )
    code = AUTRE if lie == "autre-patient" else ALTERE
    assert_refused(status, out, err, code)
    assert "Document déposé" not in out
    assert cache_usage() == (0, 0, 0)
    assert_safety_event(code)
    host.config.faults.lie = None
    client = direct_client(host, "generaliste")
    entry = client.document_by_unique_id(ins_p03(), unique_id)
    assert entry.status.endswith(":Approved")  # not replaced
    assert "v2" not in [d.title for d in client.find_documents(ins_p03())]  # no version 2


def test_a_queued_replacement_is_refused_and_nothing_of_the_answer_queued(
    env: Path, host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The durable queue (dmp send --en-file, dmp queue drain) meets the lie when it looks the replaced
    document up: the entry fails with the code and waits for a person; no version 2 is published."""
    unique_id = sent_document(env)
    # the card of the queue's drain is the env fixture's software-key GP (one session service)
    gp = direct_client(host, "generaliste").session.actor.national_id
    v2 = env / "v2.txt"
    v2.write_text("Compte rendu corrigé\n", encoding="utf-8")
    status, out, err = run(
        "send", str(v2), "--patient", P03, "--type", "11488-4", "--titre", "v2", "--replace", unique_id,
        "--en-file", "--professionnel", gp,
    )  # fmt: skip
    assert status == 0, err
    entry = out.split("#", 1)[1].split(" ", 1)[0]
    host.config.faults.lie = "autre-patient"
    status, out, err = run("queue", "drain")
    assert "Traceback" not in err and "0 envoyé(s)" in out and "1 en échec" in out, (out, err)
    status, out, err = run("queue", "show", entry)
    assert status == 0 and f"action requise [{AUTRE}]" in out and "autre patient" in out, (out, err)
    assert "299999999999999" not in out  # nothing of the refused answer in the queue
    assert cache_usage() == (0, 0, 0)
    assert_safety_event(AUTRE)
    host.config.faults.lie = None
    titles = [d.title for d in direct_client(host, "generaliste").find_documents(ins_p03())]
    assert "v2" not in titles and "Compte rendu" in titles


@pytest.mark.parametrize("command", ["mask", "archive"])
def test_an_updates_warning_is_said_and_the_update_done(env: Path, host: DmpHost, command: str) -> None:
    """A Success carrying a Warning: the command succeeds and says the host's warning on stderr."""
    unique_id = sent_document(env)
    host.config.faults.lie = "succes-avec-avertissement"
    status, out, err = run(command, "--ins", matricule(), "--document", unique_id)
    assert status == 0, err
    assert "Document masqué" in out or "Document archivé" in out
    assert "AVERTISSEMENT du DMP : Avertissement du registre" in err and "[XDSRegistryWarning]" in err
