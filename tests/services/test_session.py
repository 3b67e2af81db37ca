"""The one session service (app/services/session.py): connect, purpose change keeping the
situation, the journal and its failure handler, the queue's credentials, disconnect with the
purge the settings ask for, from worker threads; and DmpClient.with_purpose, which can no longer
drop what is set on the client."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.card.errors import PinIncorrect
from app.dmp_client.client import DmpClient
from app.dmp_client.core.context import Purpose
from app.dmp_client.errors import DmpClientError
from app.errors import InputFileError
from app.services.session import (
    CardLogin,
    DmpSession,
    NotConnected,
    QueueCredentials,
    StructureLogin,
)
from app.store.cache import CachePolicy
from app.store.hotfolder import HotFolder
from app.store.local_store import LocalStore, StoreSettings
from app.store.request import SendMode
from app.store.sender import CredentialsUnavailable
from sandbox import cards
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient
from tests.host_fixture import DirectClient, settings_for
from tests.keyring_fixture import SystemKeyring


class SoftwareCard:
    """The CardSession the factory would return, for the software keys of a sandbox card holder:
    who, the card's situations, and whether it was closed."""

    reader = "Lecteur virtuel (clés logicielles de test)"

    def __init__(self, key: str) -> None:
        self.profile = cards.card(key)
        self.closed = False

    def professional(self) -> SimpleNamespace:
        p = self.profile
        return SimpleNamespace(
            national_id=p.national_id, display_name=f"{p.given_name} {p.surname}", profession_code="10"
        )

    def situations(self) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(number=n, structure_id=s.structure_id, sector=s.sector, structure_name=s.name)
            for n, s in enumerate(self.profile.situations, start=1)
        ]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def store(system_keyring: SystemKeyring, tmp_path: Path) -> Any:
    store = LocalStore.open(StoreSettings(tmp_path / "store", cache=CachePolicy(purge_at_session_end=True)))
    yield store
    store.close()


@pytest.fixture
def card_factory(
    host: DmpHost, direct_client: DirectClient, monkeypatch: pytest.MonkeyPatch
) -> list[SoftwareCard]:
    """factory.card_client with the sandbox GP's software keys (no card rig): the cards it opened."""
    opened: list[SoftwareCard] = []

    def card_client(settings: Any, prompt: Any, situation: int = 1, purpose: Purpose = Purpose.NORMAL) -> Any:
        if prompt is None:
            raise PinIncorrect(2)
        card = SoftwareCard("generaliste")
        opened.append(card)
        return direct_client(host, "generaliste", purpose), card

    monkeypatch.setattr("app.dmp_client.factory.card_client", card_client)
    return opened


def _journal(store: LocalStore) -> list[tuple[str, str]]:
    return [(row.transaction, row.purpose) for row in store.journal.rows()]


def test_a_break_glass_call_after_a_purpose_change_is_journaled_and_the_situation_survives(
    host: DmpHost,
    pki_dir: Path,
    store: LocalStore,
    card_factory: list[SoftwareCard],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures: list[Exception] = []
    session = DmpSession(settings_for(host, pki_dir), store, on_journal_failure=failures.append)
    first = session.connect(CardLogin(lambda status: "1234", situation=1))
    structure_before = session.client.session.actor.structure_id
    ins = patient("P01")[0]
    session.client.status(ins)

    changed = session.with_purpose(Purpose.BREAK_GLASS)
    assert changed.purpose is Purpose.BREAK_GLASS
    assert changed.situation == first.situation and changed.structure == first.structure
    assert session.client.session.actor.structure_id == structure_before
    assert session.client.session.purpose is Purpose.BREAK_GLASS
    session.client.status(ins)

    rows = _journal(store)
    assert [purpose for _, purpose in rows] == [str(Purpose.NORMAL), str(Purpose.BREAK_GLASS)]
    assert rows[0][0] == rows[1][0]  # the same transaction (TD0.2), journaled twice
    # the journal-failure handler survives the change too
    assert session.client.on_journal_failure == failures.append

    def broken(event: object) -> None:
        raise OSError("disque plein")

    monkeypatch.setattr(store.journal, "record", broken)
    session.client.status(ins)  # the journal cannot be written now: the user is told
    assert failures
    session.disconnect()


def test_disconnect_closes_the_card_and_purges_the_cache_when_asked(
    host: DmpHost, pki_dir: Path, store: LocalStore, card_factory: list[SoftwareCard]
) -> None:
    ins = patient("P01")[0]
    session = DmpSession(settings_for(host, pki_dir), store)
    session.connect(CardLogin(lambda status: "1234"))
    store.cache.put_list(ins, [])
    assert store.cache.usage()[0] == 1
    session.disconnect()
    assert card_factory[0].closed
    assert store.cache.usage()[0] == 0
    assert session.connection is None
    with pytest.raises(NotConnected):
        session.client  # noqa: B018


def test_a_structure_session_end_is_not_a_card_session_end(
    host: DmpHost, pki_dir: Path, store: LocalStore
) -> None:
    ins = patient("P01")[0]
    session = DmpSession(settings_for(host, pki_dir), store)
    connection = session.connect(StructureLogin())
    assert connection.situation == "certificat de la structure"
    assert session.send_mode is SendMode.STRUCTURE
    store.cache.put_list(ins, [])
    session.disconnect()
    assert store.cache.usage()[0] == 1  # no card session ended: nothing purged


def test_connect_purpose_and_disconnect_from_worker_threads(
    host: DmpHost, pki_dir: Path, store: LocalStore, card_factory: list[SoftwareCard]
) -> None:
    session = DmpSession(settings_for(host, pki_dir), store)
    errors: list[BaseException] = []

    def work(purpose: Purpose) -> None:
        try:
            session.connect(CardLogin(lambda status: "1234"))
            session.with_purpose(purpose)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(p,))
        for p in (Purpose.BREAK_GLASS, Purpose.CENTRE_15, Purpose.NORMAL, Purpose.BREAK_GLASS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert session.connection is not None
    assert session.connection.purpose is session.client.session.purpose
    session.disconnect()
    assert all(card.closed for card in card_factory)  # every replaced session was closed


def test_the_queue_credentials_never_ask_a_refused_pin_again(
    host: DmpHost, pki_dir: Path, store: LocalStore, card_factory: list[SoftwareCard]
) -> None:
    asked: list[SendMode] = []

    def login(mode: SendMode) -> Any:
        asked.append(mode)
        return CardLogin(None) if mode is SendMode.CARD else StructureLogin()  # type: ignore[arg-type]

    credentials = QueueCredentials(settings_for(host, pki_dir), store, login, refusals=(PinIncorrect,))
    for _ in range(2):
        with pytest.raises(PinIncorrect):
            credentials.client(SendMode.CARD, None)
    assert asked == [SendMode.CARD]
    client = credentials.client(SendMode.STRUCTURE, None)
    assert client.journal is store.journal
    assert credentials.client(SendMode.STRUCTURE, None) is client  # one session per mode
    credentials.close()


def test_the_queue_credentials_refuse_another_professionals_card(
    host: DmpHost, pki_dir: Path, store: LocalStore, card_factory: list[SoftwareCard]
) -> None:
    credentials = QueueCredentials(
        settings_for(host, pki_dir), store, lambda mode: CardLogin(lambda status: "1234")
    )
    gp = cards.card("generaliste").national_id
    assert credentials.client(SendMode.CARD, gp).session.actor.national_id == gp
    with pytest.raises(CredentialsUnavailable):
        credentials.client(SendMode.CARD, "899999999999")
    credentials.invalidate(SendMode.CARD)
    assert card_factory[0].closed
    session = DmpSession(settings_for(host, pki_dir), store)
    session.connect(StructureLogin())
    with pytest.raises(CredentialsUnavailable):  # a card entry, a structure session
        session.credentials().client(SendMode.CARD, gp)
    assert session.credentials().client(SendMode.STRUCTURE, None) is session.client
    session.disconnect()
    with pytest.raises(CredentialsUnavailable):
        session.credentials().client(SendMode.STRUCTURE, None)


# -- DmpClient.with_purpose ---------------------------------------------------------------------


def test_with_purpose_carries_everything_set_on_the_client(
    host: DmpHost, direct_client: DirectClient
) -> None:
    client = direct_client(host, "generaliste")
    journal = object()
    client.journal = journal  # type: ignore[assignment]
    client.on_journal_failure = print
    client.transport.trace_dir = Path("/nonexistent-trace")
    client.extra_state_a_future_change_adds = "kept"  # type: ignore[attr-defined]
    client._status_cache["x"] = (0.0, None)  # type: ignore[assignment]

    other = client.with_purpose(Purpose.CENTRE_15)
    assert isinstance(other, DmpClient) and other is not client
    assert other.session.purpose is Purpose.CENTRE_15 and client.session.purpose is Purpose.NORMAL
    assert other.session.actor == client.session.actor and other.session.author == client.session.author
    assert other.journal is journal and other.on_journal_failure is print
    assert other.transport is client.transport and other.signer is client.signer
    assert getattr(other, "extra_state_a_future_change_adds", None) == "kept"
    # answers obtained under another purpose are not reused
    assert other._status_cache == {} and "x" in client._status_cache
    carried = set(vars(client)) - {"session", *DmpClient.PER_PURPOSE_STATE}
    assert all(getattr(other, name) is getattr(client, name) for name in carried)


# -- the hot folder's one constructor -------------------------------------------------------------


def test_the_hot_folder_is_built_in_one_place(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        HotFolder.open(tmp_path / "absent", store.queue, None)
    folder = tmp_path / "depot"
    folder.mkdir()
    names = SimpleNamespace(structure_id="1.2.3", structure_name="Clinique")
    hot = HotFolder.open(folder, store.queue, names, mode=SendMode.CARD, professional="8", stable_seconds=1)
    assert (hot.structure_id, hot.structure_name, hot.mode, hot.professional, hot.stable_seconds) == (
        "1.2.3",
        "Clinique",
        SendMode.CARD,
        "8",
        1,
    )
    assert HotFolder.open(folder, store.queue, None).structure_id == ""


def test_the_gui_and_the_cli_use_the_one_constructor() -> None:
    import inspect

    from app.cli import store as cli_store
    from app.services import workspace

    for module in (cli_store, workspace):
        source = inspect.getsource(module)
        assert "HotFolder.open(" in source and "HotFolder(\n" not in source
        assert "card_client(" not in source and "structure_client(" not in source


def test_errors_are_project_errors() -> None:
    assert issubclass(NotConnected, DmpClientError)
