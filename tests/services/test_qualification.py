"""The qualification flows (app/services/qualification.py, issue 17 item 4) against the sandbox's
INSi host over real mutual TLS: the structure's certificate from the settings, and card mode with
card-shaped software keys (an ``ssl`` context, and the card TLS transport with a software signer).
Never the card rig."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.card.patient_sources import Beneficiary
from app.dmp_client.card_tls import CardTlsTransport
from app.dmp_client.core.context import AuthMode
from app.dmp_client.core.errors import InsiFault, InsiVitaleObsolete
from app.dmp_client.errors import InsiNotConfigured, InsiTimeout
from app.dmp_client.insi_client import InsiClient
from app.dmp_client.transport import Endpoint, client_context
from app.errors import IdentityNotQualified, IdentityUnknownHere, VitaleBeneficiaryUnknown
from app.ins import BirthDate, IdentityTraits, Ins, Nir
from app.ins.traits import parse_sex
from app.services import qualification as q
from app.services.identity import DocumentType, IdentityLifecycle, IdentityStatus
from app.services.session import Connection
from app.services.training import sandbox_patient
from app.store.database import Database
from app.store.keys import KeyStore
from sandbox.insi.server import InsiConfig, InsiFaults, InsiHost
from sandbox.patients import load_patients
from tests.services.qualification_helpers import insi_settings, running_insi
from tests.store.conftest import MemoryKeyring

NOW = dt.datetime.now(dt.UTC)  # the INSi client checks a Vitale read against the real clock
GP = "899900012341"  # the sandbox GP's national identifier (sandbox/data/cards.json)


@pytest.fixture
def insi_host(pki_dir: Path) -> Iterator[InsiHost]:
    with running_insi(InsiConfig(pki_dir / "pki")) as host:
        yield host


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "base", KeyStore(backend=MemoryKeyring()))
    yield database
    database.close()


@pytest.fixture
def settings(insi_host: InsiHost, pki_dir: Path, tmp_path: Path):
    return insi_settings(insi_host, pki_dir, tmp_path / "store")


@pytest.fixture
def structure(settings) -> Iterator[InsiClient]:
    client = q.open_insi(settings)  # no session: the structure's certificate from the settings
    yield client
    client.close()


def flows(db: Database, client: InsiClient) -> q.Qualification:
    return q.Qualification(IdentityLifecycle(db), client, "Dr Test", clock=lambda: NOW)


def patient(pid: str) -> tuple[Ins, IdentityTraits]:
    found = sandbox_patient(pid)
    assert found is not None and found.traits is not None
    return found.ins, found.traits


def family_card(holder_id: str, read_at: dt.datetime = NOW) -> q.VitaleRead:
    """The sandbox's virtual Vitale card of ``holder_id`` as sandbox/vicc.py lays it out: the holder
    and every beneficiary attached to the holder's NIR, the holder's NIR in the card's header."""
    patients = load_patients()
    holder = next(p for p in patients if p.id == holder_id)
    members = [holder] + [p for p in patients if p.vitale.opening_nir == holder.matricule]
    beneficiaries = tuple(
        Beneficiary(
            p.vitale.rank,
            p.birth_name,
            p.vitale.first_name,
            p.vitale.birth_date,
            Nir.parse(p.vitale.nir_own) if p.vitale.nir_own else None,
        )
        for p in members
    )
    return q.VitaleRead(beneficiaries, read_at, Nir.parse(holder.matricule))


# -- (c) manual entry: INSi by traits ----------------------------------------------------------------


def test_a_manual_entry_found_by_traits_becomes_recuperee_with_the_strict_traits(
    db: Database, structure: InsiClient
) -> None:
    ins, traits = patient("P01")
    typed = IdentityTraits(traits.birth_name, (traits.first_name,), traits.sex, traits.birth_date)
    outcome = flows(db, structure).from_traits(typed)
    assert outcome.outcome is q.Outcome.FOUND and outcome.status is IdentityStatus.RECUPEREE
    assert outcome.ins == ins and not outcome.usable
    strict = outcome.strict
    assert strict is not None and strict.from_insi
    assert (strict.matricule, strict.oid) == (ins.matricule.value, "1.2.250.1.213.1.4.10")
    assert strict.birth_name == traits.birth_name and strict.first_name == traits.first_name
    assert strict.birth_place == traits.birth_place and strict.sex == str(traits.sex)
    assert "pièce d'identité" in outcome.message
    assert IdentityLifecycle(db).status(ins) is IdentityStatus.RECUPEREE
    # The outcome's repr says nothing of the patient.
    assert traits.birth_name not in repr(outcome) and ins.matricule.value not in repr(outcome)


def test_homonyms_give_02_with_the_next_step_then_00_with_the_other_first_names(
    db: Database, structure: InsiClient
) -> None:
    flow = flows(db, structure)
    alone = IdentityTraits("MARTIN", ("LOUIS",), parse_sex("M"), BirthDate.parse("1972-02-29"))
    several = flow.from_traits(alone)
    assert several.outcome is q.Outcome.SEVERAL and several.status is IdentityStatus.PROVISOIRE
    assert several.ins is None and several.next_step is not None
    assert "autres prénoms" in several.next_step and several.next_step in several.message
    both = IdentityTraits("MARTIN", ("LOUIS", "PIERRE"), parse_sex("M"), BirthDate.parse("1972-02-29"))
    found = flow.from_traits(both)  # the guided search adds the other first names by itself
    assert found.outcome is q.Outcome.FOUND and found.ins is not None
    assert found.ins.matricule.value == "172027505612395"


def test_an_unknown_person_stays_provisoire_with_the_01_next_step(
    db: Database, structure: InsiClient
) -> None:
    traits = IdentityTraits("INCONNU", ("PERSONNE",), parse_sex("F"), BirthDate.parse("1999-01-01"))
    outcome = flows(db, structure).from_traits(traits)
    assert outcome.outcome is q.Outcome.NOT_FOUND and outcome.status is IdentityStatus.PROVISOIRE
    assert outcome.next_step is not None and "autres critères" in outcome.next_step


def test_traits_insi_completes_are_named_and_insi_s_are_recorded(db: Database, structure: InsiClient) -> None:
    # P07's first names and birthplace changed in the referential: a search without the birthplace
    # finds her, with INSi's traits (recorded), the typed ones named as different.
    ins, traits = patient("P07")
    typed = IdentityTraits(traits.birth_name, traits.first_names, traits.sex, traits.birth_date)
    outcome = flows(db, structure).from_traits(typed)
    assert outcome.outcome is q.Outcome.FOUND and outcome.ins == ins
    assert "prénoms de naissance" in outcome.differences
    assert any("font foi" in w for w in outcome.warnings)
    stored = IdentityLifecycle(db).get(ins)
    assert stored is not None and stored.traits.first_names == ("MARIE-ANNICK", "JOSEPHINE")


# -- (a) Vitale → INSi with the Vitale card ----------------------------------------------------------


@pytest.mark.parametrize(("rank", "pid"), [(1, "P04"), (2, "P06")])
def test_each_beneficiary_of_a_family_card_gets_its_own_ins(
    db: Database, structure: InsiClient, rank: int, pid: str
) -> None:
    ins, traits = patient(pid)
    outcome = flows(db, structure).from_vitale(family_card("P04"), rank)
    assert outcome.outcome is q.Outcome.FOUND and outcome.status is IdentityStatus.RECUPEREE
    assert outcome.ins == ins  # the child's own INS, not the holder's
    assert outcome.strict is not None and outcome.strict.birth_name == traits.birth_name


def test_the_vitale_beneficiary_must_be_chosen_and_on_the_card(db: Database, structure: InsiClient) -> None:
    flow = flows(db, structure)
    with pytest.raises(VitaleBeneficiaryUnknown) as several:
        flow.from_vitale(family_card("P04"))
    assert "rangs 1, 2" in several.value.user_message
    with pytest.raises(VitaleBeneficiaryUnknown):
        flow.from_vitale(family_card("P04"), 3)
    only = flow.from_vitale(family_card("P03"))  # one beneficiary: no choice to make
    assert only.ins == patient("P03")[0]


def test_a_vitale_read_older_than_20_minutes_is_refused_before_any_exchange(
    db: Database, structure: InsiClient, insi_host: InsiHost
) -> None:
    old = family_card("P03", NOW - dt.timedelta(minutes=21))
    with pytest.raises(InsiVitaleObsolete):
        flows(db, structure).from_vitale(old)
    assert insi_host.journal == []


def test_the_card_year_is_read_in_the_latest_century_that_fits() -> None:
    today = dt.date(2026, 12, 7)
    assert q._card_date("150609", today) == "2015-06-09"
    assert q._card_date("500801", today) == "1950-08-01"
    assert q._card_date("690300", today) == "1969-03-00"  # lunar dates kept
    assert q._card_date("261207", today) == "2026-12-07"


# -- (b) EHR hand-off: verified by INSi before use --------------------------------------------------


def test_a_handed_over_qualifiee_is_only_recuperee_here_until_a_document_is_checked(
    db: Database, structure: InsiClient
) -> None:
    ins, traits = patient("P01")
    life = IdentityLifecycle(db)
    outcome = flows(db, structure).from_handoff(ins, traits, q.parse_claimed_status("qualifiee"))
    assert outcome.outcome is q.Outcome.CONFIRMED and outcome.status is IdentityStatus.RECUPEREE
    assert outcome.ins == ins and not outcome.usable
    assert any("« qualifiée »" in w and "récupérée" in w for w in outcome.warnings)
    with pytest.raises(IdentityNotQualified):
        life.require_qualified(ins, traits)
    view = q.check_document(life, ins, DocumentType.CNI, "Dr Test", at=NOW)
    assert view.status is IdentityStatus.QUALIFIEE and view.document is not None
    assert "carte nationale d'identité" in view.document and "Dr Test" in view.document
    life.require_qualified(ins, traits)  # may feed now


def test_a_handed_over_ins_of_someone_else_is_refused_and_steps_back(
    db: Database, structure: InsiClient
) -> None:
    _, p01 = patient("P01")
    p03_ins, _ = patient("P03")
    life = IdentityLifecycle(db)
    q.check_document(life, p03_ins, DocumentType.PASSEPORT, "accueil", traits=p01, at=NOW)
    outcome = flows(db, structure).from_handoff(p03_ins, p01, IdentityStatus.QUALIFIEE)
    assert outcome.outcome is q.Outcome.REFUSED and outcome.ins is None and not outcome.usable
    assert "un autre INS" in outcome.message
    assert life.status(p03_ins) is IdentityStatus.VALIDEE  # no INSi proof: never qualifiée


def test_a_handed_over_identity_whose_traits_changed_is_refused_naming_them(
    db: Database, structure: InsiClient
) -> None:
    ins, traits = patient("P07")
    outcome = flows(db, structure).from_handoff(ins, traits, IdentityStatus.QUALIFIEE)
    assert outcome.outcome is q.Outcome.REFUSED and outcome.ins is None
    assert set(outcome.differences) == {"prénoms de naissance", "lieu de naissance"}
    assert "prénoms de naissance" in outcome.message
    stored = IdentityLifecycle(db).get(ins)
    assert stored is not None and stored.status is IdentityStatus.PROVISOIRE and stored.reason


def test_an_old_ins_handed_over_is_replaced_by_the_active_one_and_the_history_kept(
    db: Database, structure: InsiClient
) -> None:
    ins, traits = patient("P05")
    old = Ins.parse("769039924304286", "1.2.250.1.213.1.4.10")  # P05's INSHISTO (sandbox/data/insi.json)
    life = IdentityLifecycle(db)
    outcome = flows(db, structure).from_handoff(old, traits, None)
    assert outcome.outcome is q.Outcome.REPLACED and outcome.ins == ins
    assert outcome.status is IdentityStatus.RECUPEREE and "ancien INS" in outcome.message
    assert life.status(old) is IdentityStatus.PROVISOIRE
    view = q.identity_view(life, ins)
    assert view.known and view.strict is not None
    assert [h.ins for h in view.strict.history] == [old]  # INSHISTO kept with the INSi proof
    assert outcome.strict is not None and [h.ins for h in outcome.strict.history] == [old]


def test_a_trait_changed_after_qualification_steps_back(db: Database, structure: InsiClient) -> None:
    ins, traits = patient("P02")
    life = IdentityLifecycle(db)
    flows(db, structure).from_handoff(ins, traits, None)
    q.check_document(life, ins, DocumentType.CNI, "Dr Test", at=NOW)
    assert life.status(ins) is IdentityStatus.QUALIFIEE
    changed = IdentityTraits(traits.birth_name, ("PAUL",), traits.sex, traits.birth_date, traits.birth_place)
    view = q.check_document(life, ins, DocumentType.CNI, "Dr Test", traits=changed, at=NOW)
    assert view.status is IdentityStatus.VALIDEE  # the INSi proof concerned the old traits
    assert view.missing == "interroger le téléservice INSi"


# -- (d) the document check, the view -----------------------------------------------------------


def test_a_document_check_needs_a_known_identity_or_its_traits(db: Database) -> None:
    ins, traits = patient("P03")
    life = IdentityLifecycle(db)
    with pytest.raises(IdentityUnknownHere):
        q.check_document(life, ins, DocumentType.CNI, "Dr Test")
    view = q.check_document(life, ins, DocumentType.LIVRET_FAMILLE, "Dr Test", traits=traits, at=NOW)
    assert view.status is IdentityStatus.VALIDEE and view.strict is not None and not view.strict.from_insi
    assert [e.status for e in view.events] == [IdentityStatus.VALIDEE]
    unknown = q.identity_view(life, patient("P04")[0])
    assert not unknown.known and unknown.status is IdentityStatus.PROVISOIRE


# -- the modes, the faults ----------------------------------------------------------------------


def test_card_mode_with_a_card_shaped_certificate(
    db: Database, settings, pki_dir: Path, card_keys, insi_host: InsiHost
) -> None:
    cert, key, _ = card_keys["generaliste"]
    tls = client_context(Endpoint("insi", settings.trust_files), cert, key)
    client = q.open_insi(settings, access=q.InsiAccess(tls, GP, AuthMode.DIRECT))
    try:
        outcome = flows(db, client).from_vitale(family_card("P03"))
    finally:
        client.close()
    assert outcome.ins == patient("P03")[0]
    assert insi_host.journal[-1].caller == f"CPS:{GP}"


class _SoftwareCard:
    """What the factory uses of a logged-in CardSession (``call``, ``token``'s certificates,
    ``authenticate``), the card's RSA done by a software key of the card-shaped PKI."""

    def __init__(self, cert_path: Path, key_path: Path, signatures: list[int]) -> None:
        from cryptography import x509

        from tests.dmp_client.rogue import software_card_signer

        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        self.token = type(
            "Token", (), {"signature_certificate": lambda self: certificate,
                          "authentication_certificate": lambda self: certificate},
        )()  # fmt: skip
        self.authenticate = software_card_signer(key_path, signatures)

    @staticmethod
    def call(function, *args):  # type: ignore[no-untyped-def]
        return function(*args)


class _Session:
    """What insi_access reads of a DmpSession: its connection and its card."""

    def __init__(self, mode: AuthMode, card: object = None) -> None:
        self.connection = Connection(mode, None, GP, "DR TEST", "cabinet", "n° 1")  # type: ignore[arg-type]
        self.card = card


def test_a_card_session_goes_over_the_card_tls_transport(
    db: Database, settings, card_keys, insi_host: InsiHost
) -> None:
    cert_path, key_path, _ = card_keys["generaliste"]
    signatures: list[int] = []
    session = _Session(AuthMode.DIRECT, _SoftwareCard(cert_path, key_path, signatures))
    access = q.insi_access(settings, session)  # type: ignore[arg-type]
    assert access.mode is AuthMode.DIRECT and access.emitter == GP
    assert isinstance(access.tls, CardTlsTransport)  # factory.insi_card_transport
    client = q.open_insi(settings, access=access)
    try:
        outcome = flows(db, client).from_traits(patient("P02")[1])
    finally:
        client.close()
    assert outcome.ins == patient("P02")[0] and signatures  # the card signed the handshake
    assert insi_host.journal[-1].caller == f"CPS:{GP}"
    for other in (
        _Session(AuthMode.INDIRECT),
        _Session(AuthMode.DIRECT),
    ):  # structure; a card session without card
        structure = q.insi_access(settings, other)  # type: ignore[arg-type]
        assert structure.mode is AuthMode.INDIRECT and structure.emitter == "1990000017"


def test_structure_mode_refused_by_insi_is_a_refusal(db: Database, pki_dir: Path, tmp_path: Path) -> None:
    with running_insi(InsiConfig(pki_dir / "pki", allow_structure=False)) as host:
        client = q.open_insi(insi_settings(host, pki_dir, tmp_path / "store"))
        try:
            with pytest.raises(InsiFault) as refused:
                flows(db, client).from_traits(patient("P01")[1])
        finally:
            client.close()
    assert refused.value.code == "INSI-REFUS"


def test_insi_not_configured_is_said_before_anything_else(pki_dir: Path, tmp_path: Path) -> None:
    from app.config.layers import Config
    from app.config.settings import Settings

    env = {"DMP_SANDBOX_DIR": str(pki_dir), "DMP_STORE_DIR": str(tmp_path)}
    settings = Settings.load(Config.load(environ=env, user_file=tmp_path / "absent.toml"))
    with pytest.raises(InsiNotConfigured):
        q.open_insi(settings)


def test_insi_faults_and_time_outs_are_project_errors_and_record_nothing(
    db: Database, pki_dir: Path, tmp_path: Path
) -> None:
    ins, traits = patient("P01")
    life = IdentityLifecycle(db)
    failing = InsiConfig(pki_dir / "pki", faults=InsiFaults(error_rate=1.0))
    with running_insi(failing) as host:
        client = q.open_insi(insi_settings(host, pki_dir, tmp_path / "a"))
        try:
            with pytest.raises(InsiFault) as refused:
                flows(db, client).from_handoff(ins, traits, IdentityStatus.QUALIFIEE)
        finally:
            client.close()
    assert refused.value.code == "INSI-REFUS"
    slow = InsiConfig(pki_dir / "pki", faults=InsiFaults(latency=3.0))
    with running_insi(slow) as host:
        client = q.open_insi(insi_settings(host, pki_dir, tmp_path / "b", timeout=0.5))
        try:
            with pytest.raises(InsiTimeout):
                flows(db, client).from_traits(traits)
        finally:
            client.close()
    assert life.get(ins) is None  # nothing recorded from a failed exchange
