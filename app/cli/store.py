"""The local store's commands: ``dmp queue list|show|retry|cancel|drain|watch``, ``dmp cache
status|purge``, ``dmp journal export``, ``dmp store check|quarantine``."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from app.card.errors import PinCancelled, PinFormat, PinIncorrect, PinLocked
from app.cli.card import pin_prompt
from app.cli.dmp import journal_warning
from app.config.settings import Settings
from app.errors import InputFileError, OutputFileError, UsageError
from app.services.session import CardLogin, Login, QueueCredentials, StructureLogin
from app.store.database import quarantine
from app.store.errors import StoreError, StoreHealthy
from app.store.local_store import LOCK_NAME, LocalStore
from app.store.lock import ProcessLock
from app.store.queue import STATE_LABELS, Entry, State
from app.store.request import SendMode

MODES = {"carte": SendMode.CARD, "structure": SendMode.STRUCTURE}
MODE_LABELS = {SendMode.CARD: "carte", SendMode.STRUCTURE: "structure"}
PIN_REFUSALS = (PinIncorrect, PinLocked, PinCancelled, PinFormat)


def open_store(settings: Settings) -> LocalStore:
    return LocalStore.open(settings.store)


def cli_credentials(
    settings: Settings, args: argparse.Namespace, err: TextIO, store: LocalStore
) -> QueueCredentials:
    """The sender's credentials for the command line (``app.services.session``): the structure's
    certificate, or the card (PIN asked once; a refused PIN is never asked again in the same run)."""

    def login(mode: SendMode) -> Login:
        if mode is SendMode.STRUCTURE:
            return StructureLogin()
        return CardLogin(pin_prompt(args, err), args.situation)

    return QueueCredentials(
        settings, store, login, on_journal_failure=journal_warning(err), refusals=PIN_REFUSALS
    )


# -- parsers -------------------------------------------------------------------------------------


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queue = subparsers.add_parser("queue", help="file d'envoi durable des documents")
    actions = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="les entrées de la file et leur état")
    listing.add_argument("--tous", action="store_true", help="y compris envoyées et annulées")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="le détail et l'historique d'une entrée")
    show.add_argument("entree", type=int)
    show.set_defaults(handler=run_show)
    for name, help_text, handler in (
        ("retry", "relancer une entrée en attente ou en échec", run_retry),
        ("cancel", "annuler une entrée (son contenu est effacé de la base)", run_cancel),
    ):
        command = actions.add_parser(name, help=help_text)
        command.add_argument("entrees", type=int, nargs="+", metavar="ENTREE")
        if name == "cancel":
            command.add_argument(
                "--forcer",
                action="store_true",
                help="annuler même si le dernier envoi a peut-être abouti (le DMP peut l'avoir reçu)",
            )
        command.set_defaults(handler=handler)
    drain = actions.add_parser("drain", help="envoyer les entrées dues")
    _drain_options(drain)
    drain.set_defaults(handler=run_drain)
    watch = actions.add_parser("watch", help="surveiller un dossier de dépôt et envoyer ce qui y arrive")
    watch.add_argument("dossier", type=Path)
    watch.add_argument("--stable", type=float, default=2.0, help="secondes sans changement avant dépôt")
    watch.add_argument("--intervalle", type=float, default=10.0, help="secondes entre deux examens complets")
    watch.add_argument("--une-fois", action="store_true", help="un seul examen du dossier, puis un envoi")
    _drain_options(watch)
    watch.set_defaults(handler=run_watch)

    cache = subparsers.add_parser("cache", help="cache local chiffré des documents")
    cache_actions = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    cache_actions.add_parser("status", help="ce que le cache contient").set_defaults(handler=run_cache_status)
    cache_actions.add_parser("purge", help="vider le cache maintenant").set_defaults(handler=run_cache_purge)

    journal = subparsers.add_parser("journal", help="journal local des actions DMP")
    journal_actions = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    export = journal_actions.add_parser("export", help="exporter le journal pour un audit")
    export.add_argument("--sortie", type=Path, help="fichier (défaut : sortie standard)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--depuis", help="AAAA-MM-JJ")
    export.add_argument("--jusqu-a", dest="until", help="AAAA-MM-JJ (exclu)")
    export.add_argument("--ins", help="seulement ce patient (son pseudonyme est calculé)")
    export.add_argument("--oid", help="OID de l'INS")
    export.set_defaults(handler=run_journal_export)

    store = subparsers.add_parser("store", help="la base locale chiffrée")
    store_actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    store_actions.add_parser("check", help="ouvrir la base et dire ce qu'elle contient").set_defaults(
        handler=run_store_check
    )
    quarantine_parser = store_actions.add_parser(
        "quarantine", help="mettre de côté une base illisible (conservée) et repartir d'une base vide"
    )
    quarantine_parser.add_argument(
        "--forcer",
        action="store_true",
        help="même si la base s'ouvre (ses entrées en attente ne partiront pas)",
    )
    quarantine_parser.set_defaults(handler=run_store_quarantine)


def _drain_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=["carte", "structure", "tous"], default="tous")
    parser.add_argument("--suivre", action="store_true", help="continuer et envoyer ce qui devient dû")
    parser.add_argument("--pin-stdin", action="store_true", help="lire le code porteur sur l'entrée standard")
    parser.add_argument("--situation", type=int, default=1, help="situation d'exercice de la carte")


# -- queue -----------------------------------------------------------------------------------------


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%d/%m/%Y %H:%M:%S")


def describe(entry: Entry, now: float) -> str:
    state = STATE_LABELS[entry.state]
    line = (
        f"#{entry.id:<5} {state:15} {MODE_LABELS[entry.mode]:9} {entry.request.type_code:8} "
        f"{entry.size:>10} o  {entry.title}"
    )
    details = []
    if entry.state is State.QUEUED and entry.next_attempt_at > now + 1:
        details.append(f"prochaine tentative {_when(entry.next_attempt_at)}")
    if entry.state in (State.QUEUED, State.FAILED) and entry.reason:
        details.append(f"{entry.reason} [{entry.reason_code}]")
    if entry.uncertain:
        details.append("le DMP sera interrogé avant tout nouvel envoi")
    if entry.state is State.SENT:
        details.append(f"envoyé le {_when(entry.sent_at)}")
    if entry.attempts:
        details.append(f"{entry.attempts} tentative(s)")
    return line + "".join(f"\n        {d}" for d in details)


def run_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(Settings.load()) as store:
        states = None if args.tous else (State.QUEUED, State.SENDING, State.FAILED)
        entries = store.queue.entries(states)
        counts = store.queue.counts()
        now = store.queue.clock()
    print(", ".join(f"{STATE_LABELS[s]} : {n}" for s, n in counts.items()), file=out)
    for entry in entries:
        print(describe(entry, now), file=out)
    return 0


def run_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(Settings.load()) as store:
        entry = store.queue.get(args.entree)
        history = store.queue.history(entry.id)
        print(describe(entry, store.queue.clock()), file=out)
    print(
        f"        uniqueId {entry.unique_id}  patient {entry.patient}  source {entry.source_name or '-'}",
        file=out,
    )
    for at, state, code in history:
        print(f"  {_when(at)}  {STATE_LABELS[state]}{' [' + code + ']' if code else ''}", file=out)
    return 0


def run_retry(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _each_entry(args, out, err, lambda store, entry_id: store.queue.retry(entry_id), "relancée")


def run_cancel(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    force = bool(args.forcer)
    return _each_entry(
        args, out, err, lambda store, entry_id: store.queue.cancel(entry_id, force=force), "annulée"
    )


def _each_entry(
    args: argparse.Namespace, out: TextIO, err: TextIO, action: Callable[[LocalStore, int], object], done: str
) -> int:
    status = 0
    with open_store(Settings.load()) as store:
        for entry_id in args.entrees:  # each entry on its own: one refusal does not stop the others
            try:
                action(store, entry_id)
            except StoreError as error:
                print(f"ERREUR: entrée #{entry_id} : {error}", file=err)
                status = 2
                continue
            print(f"Entrée #{entry_id} {done}.", file=out)
    return status


def _modes(args: argparse.Namespace) -> tuple[SendMode, ...]:
    return tuple(MODES.values()) if args.mode == "tous" else (MODES[args.mode],)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
    return stop


def run_drain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    with open_store(settings) as store:
        credentials = cli_credentials(settings, args, err, store)
        sender = store.sender(credentials)
        sender.on_error = lambda error: print(f"ATTENTION : {error} (nouvel essai dans un instant)", file=err)
        try:
            report = sender.drain(_modes(args), follow=args.suivre, stop=_stop_on_signals())
        finally:
            credentials.close()
        remaining = [e for e in store.queue.entries((State.QUEUED, State.FAILED)) if e.mode in _modes(args)]
        now = store.queue.clock()
    print(f"File d'envoi : {report.summary()}.", file=out)
    for entry in remaining:
        print(describe(entry, now), file=out)
    return 0 if not remaining else 1


def run_watch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.store.hotfolder import HotFolder

    settings = Settings.load()
    mode = _modes(args)[0] if args.mode != "tous" else SendMode.STRUCTURE
    if not args.dossier.is_dir():  # before the base is opened (HotFolder.open checks it too)
        raise InputFileError(f"Dossier de dépôt introuvable : {args.dossier}")
    with open_store(settings) as store:
        folder = HotFolder.open(
            args.dossier, store.queue, settings.structure, mode=mode, stable_seconds=args.stable
        )
        credentials = cli_credentials(settings, args, err, store)
        try:
            if args.une_fois:
                report = folder.scan()
                for _ in range(3):  # a file is claimed once seen unchanged across two passes
                    if not report.waiting:
                        break
                    time.sleep(max(args.stable, 0.05))
                    report = folder.scan()
                print(report.summary(), file=out)
                store.sender(credentials).drain((mode,))
                report = folder.scan()  # deletes what the host acknowledged
                print(report.summary(), file=out)
                return 0
            stop = _stop_on_signals()

            def reported(report: Any) -> None:
                if (
                    report.queued
                    or report.rejected
                    or report.deleted
                    or report.store_errors
                    or report.failures
                ):
                    print(report.summary(), file=out, flush=True)
                for code, message in report.store_errors:
                    print(f"ATTENTION : {message} [{code}]", file=err, flush=True)

            watcher = threading.Thread(
                target=folder.run,
                args=(stop, args.intervalle),
                kwargs={"on_report": reported},
                name="dmp-dossier",
                daemon=True,
            )
            watcher.start()
            sender = store.sender(credentials)
            sender.on_error = lambda error: print(f"ATTENTION : {error} (nouvel essai)", file=err, flush=True)
            try:
                sender.drain((mode,), follow=True, stop=stop)
            finally:
                stop.set()  # the folder's thread ends before the base is closed
                watcher.join(timeout=30)
        finally:
            credentials.close()
    return 0


# -- cache, journal, base ----------------------------------------------------------------------------


def run_cache_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(Settings.load()) as store:
        lists, documents, size = store.cache.usage()
        policy = store.cache.policy
    print(
        f"Cache : {lists} liste(s), {documents} document(s), {size} octets "
        f"(limites : {policy.max_age / 3600:g} h, {policy.max_bytes >> 20} Mo"
        f"{', vidé en fin de session carte' if policy.purge_at_session_end else ''}).",
        file=out,
    )
    return 0


def run_cache_purge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_store(Settings.load()) as store:
        removed = store.cache.purge()
    print(f"Cache vidé ({removed} élément(s)).", file=out)
    return 0


def _day(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").astimezone().timestamp()
    except ValueError:
        raise UsageError(f"Date invalide : {text} (AAAA-MM-JJ attendu).") from None


def run_journal_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.cli.dmp import ins_of

    settings = Settings.load()
    patient = ins_of(args, settings) if args.ins else None
    with open_store(settings) as store:
        filters = {"since": _day(args.depuis), "until": _day(args.until), "patient": patient}
        if args.sortie:
            partial = args.sortie.with_name(args.sortie.name + ".partiel")
            try:
                with partial.open("w", encoding="utf-8", newline="") as handle:
                    count = store.journal.export(handle, args.format, **filters)
                partial.replace(args.sortie)
            except OSError as error:
                partial.unlink(missing_ok=True)
                raise OutputFileError(
                    f"Le fichier d'export ne peut pas être écrit : {args.sortie} ({error.strerror})."
                ) from None
            print(f"{count} action(s) exportée(s) dans {args.sortie}.", file=err)
        else:
            store.journal.export(out, args.format, **filters)
    return 0


def run_store_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    with open_store(settings) as store:
        counts = store.queue.counts()
        version = store.db.schema_version
        lists, documents, size = store.cache.usage()
    print(f"Base locale : {store.db.path} (chiffrée, schéma v{version})", file=out)
    print("File d'envoi : " + ", ".join(f"{STATE_LABELS[s]} {n}" for s, n in counts.items()), file=out)
    print(f"Cache : {lists} liste(s), {documents} document(s), {size} octets", file=out)
    return 0


def run_store_quarantine(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    lock = ProcessLock(settings.store.folder / LOCK_NAME)
    lock.acquire()  # FILE-OCCUPEE while a drainer has the base open
    try:
        if not args.forcer:
            try:
                LocalStore.open(settings.store).close()
            except StoreError:
                pass  # unreadable: this is what quarantine is for
            else:
                raise StoreHealthy(
                    "La base locale s'ouvre normalement : rien à mettre de côté. Utilisez --forcer pour "
                    "l'écarter quand même (ses entrées en attente ne partiront pas)."
                )
        target = quarantine(settings.store.folder)
    finally:
        lock.release()
    if target is None:
        print("Aucune base locale à mettre de côté.", file=out)
    else:
        print(
            f"Base mise de côté (conservée) : {target}. Une base vide sera créée au prochain usage.", file=out
        )
    return 0
