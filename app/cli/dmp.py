"""``dmp status`` (TD0.2) and ``dmp authorize`` (TD0.3) against the configured host (sandbox by default)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from app.cli.card import pin_prompt
from app.config.settings import Settings
from app.dmp_client.client import DmpClient
from app.dmp_client.core.admin import DateType
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.hl7v3 import DmpState
from app.errors import UsageError
from app.ins import Ins, InsOid
from app.services.session import CardLogin, DmpSession, Login, StructureLogin
from app.store.errors import StoreError
from app.store.local_store import LocalStore

_PURPOSES = {"normal": Purpose.NORMAL, "bris_de_glace": Purpose.BREAK_GLASS, "centre_15": Purpose.CENTRE_15}


AUTH_MODES = ("carte", "structure", "ecps")  # ecps: AIR with the session of `dmp ecps connexion`


def auth_mode(args: argparse.Namespace, settings: Settings) -> str:
    """``--mode`` when given, else the configured default (DMP_MODE_AUTH)."""
    return args.mode or settings.auth_mode


def common_options(parser: argparse.ArgumentParser, *, ins_required: bool = True) -> None:
    parser.add_argument("--ins", required=ins_required, help="matricule INS du patient (15 caractères)")
    parser.add_argument("--oid", help="OID de l'INS (défaut dans le bac à sable : INS de test .10)")
    parser.add_argument(
        "--mode",
        choices=AUTH_MODES,
        default=None,
        help="authentification (défaut : le réglage DMP_MODE_AUTH, carte s'il n'est pas réglé)",
    )
    parser.add_argument("--acces", choices=sorted(_PURPOSES), default="normal", help="mode d'accès")
    parser.add_argument(
        "--situation", type=int, default=1, help="situation d'exercice de la carte (défaut : 1)"
    )
    parser.add_argument("--pin-stdin", action="store_true", help="lire le code porteur sur l'entrée standard")
    add_trace_option(parser)


TRACE_HELP = (
    "écrire chaque échange (requête, réponse) tel qu'envoyé/reçu dans DOSSIER (créé en 0700, "
    "fichiers 0600, jamais écrasés). ATTENTION : les traces contiennent des données de santé du "
    "patient et le VIHF signé (jeton d'accès au DMP) : à protéger, à ne pas transmettre, à "
    "supprimer après usage"
)


def add_trace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trace", type=Path, metavar="DOSSIER", help=TRACE_HELP)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = subparsers.add_parser(
        "status", help="TD0.2 : le DMP existe-t-il, suis-je autorisé, médecin traitant"
    )
    common_options(status)
    status.set_defaults(handler=run_status)
    authorize = subparsers.add_parser(
        "authorize", help="TD0.3 : m'autoriser (ou me retirer) sur le DMP du patient"
    )
    common_options(authorize)
    authorize.add_argument("--retirer", action="store_true", help="supprimer mon autorisation")
    authorize.add_argument(
        "--medecin-traitant",
        action="store_true",
        help="me déclarer médecin traitant DMP (avec --retirer : cesser de l'être)",
    )
    authorize.set_defaults(handler=run_authorize)


def ins_of(args: argparse.Namespace, settings: Settings) -> Ins:
    if not args.ins:
        raise UsageError("Indiquez l'INS du patient (--ins).")
    oid = args.oid or (InsOid.NIR_TEST.value if settings.is_sandbox else None)
    if oid is None:
        raise UsageError("Indiquez l'OID de l'INS (--oid), tel que qualifié par le téléservice INSi.")
    return Ins.parse(args.ins, oid)


@contextmanager
def open_client(args: argparse.Namespace, settings: Settings, err: TextIO) -> Iterator[DmpClient]:
    """The client of the command's mode, its exchanges recorded in the local journal; at the end
    of a card session the cache is purged when the configuration says so."""
    with open_session(args, settings, err) as (client, _):
        yield client


@contextmanager
def open_session(
    args: argparse.Namespace, settings: Settings, err: TextIO
) -> Iterator[tuple[DmpClient, LocalStore | None]]:
    """:func:`open_client` and the local store it journals into (None when it cannot be opened),
    for the commands that also use the cache: one base opened per command."""
    store = _journal_store(settings, err)
    try:
        with DmpSession(
            settings, store, on_journal_failure=journal_warning(err), trace_dir=getattr(args, "trace", None)
        ) as session:
            session.connect(login_of(args, settings, err), _PURPOSES[args.acces])
            yield session.client, store
    finally:
        if store is not None:
            store.close()


def login_of(args: argparse.Namespace, settings: Settings, err: TextIO) -> Login:
    """The command's way of connecting: ``--mode`` (or DMP_MODE_AUTH), ``--situation``, ``--pin-stdin``."""
    if auth_mode(args, settings) == "structure":
        return StructureLogin()
    if auth_mode(args, settings) == "ecps":
        from app.services.ecps import stored_login  # deferred: the JOSE and HTTP stacks

        return stored_login(settings)
    return CardLogin(pin_prompt(args, err), args.situation)


def journal_warning(err: TextIO) -> Callable[[Exception], None]:
    def warn(error: Exception) -> None:
        code = getattr(error, "code", "erreur")
        print(f"ATTENTION : action non journalisée localement ({code}).", file=err)

    return warn


def _journal_store(settings: Settings, err: TextIO) -> LocalStore | None:
    """The local store for the journal; when it cannot be opened the action still goes ahead (a
    consultation must not depend on the workstation's keyring) and the user is told."""
    try:
        return LocalStore.open(settings.store)
    except StoreError as error:
        print(
            f"ATTENTION : base locale indisponible (action non journalisée, cache non utilisé) : {error}",
            file=err,
        )
        return None


def run_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        status = client.status(ins)
    print(f"Patient : {ins.oid.label} {ins.matricule.grouped()}", file=out)
    if status.state is DmpState.NONE:
        print("DMP : aucun DMP pour ce patient", file=out)
        return 0
    if status.state is DmpState.CLOSED:
        closed = status.closed_on or "?"
        print(
            f"DMP : fermé (le {closed[6:8]}/{closed[4:6]}/{closed[:4]}, "
            f"motif {status.closing_reason or '?'})",
            file=out,
        )
    else:
        print("DMP : actif", file=out)
    print(f"Autorisation : {'oui' if status.authorized else 'non'} ({status.authorization})", file=out)
    print(f"Médecin traitant DMP : {'oui' if status.treating_doctor else 'non'}", file=out)
    return 0


def run_authorize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        if args.medecin_traitant:
            result = client.set_treating_doctor(ins, declare=not args.retirer)
        else:
            result = client.set_authorization(ins, add=not args.retirer)
    done = "supprimée" if args.retirer else "enregistrée"
    what = "Déclaration de médecin traitant" if args.medecin_traitant else "Autorisation"
    print(f"{what} {done} ({result.status}{' : ' + result.context if result.context else ''})", file=out)
    return 0


def add_admin_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "list-dmps", help="TD0.4 : DMP sur lesquels je suis autorisé, ou avec de nouveaux documents"
    )
    common_options(listing, ins_required=False)
    listing.add_argument("--depuis", default=None, help="depuis (AAAA-MM-JJ ; défaut : 30 jours)")
    listing.add_argument(
        "--nouveaux-documents",
        action="store_true",
        help="DMP ayant reçu un document depuis la date (LASTDOC)",
    )
    listing.set_defaults(handler=run_list_dmps)
    admin = subparsers.add_parser("admin", help="TD1.3a : données administratives du DMP (oppositions…)")
    common_options(admin)
    admin.set_defaults(handler=run_admin)
    authorizations = subparsers.add_parser(
        "authorizations", help="TD1.6 : professionnels autorisés ou bloqués sur le DMP"
    )
    common_options(authorizations)
    authorizations.set_defaults(handler=run_authorizations)


def run_list_dmps(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    since = (
        dt.datetime.strptime(args.depuis, "%Y-%m-%d").astimezone()
        if args.depuis
        else dt.datetime.now().astimezone() - dt.timedelta(days=30)
    )
    kind = DateType.LAST_DOCUMENT if args.nouveaux_documents else DateType.LAST_AUTHORIZATION
    with open_client(args, settings, err) as client:
        entries = client.list_patients(since, kind)
    print(f"{len(entries)} DMP", file=out)
    for entry in entries:
        # RG_0320: the DMP's identity traits are not shown; the INS lets the user open the local record.
        ins = f"{entry.ins.oid.label} {entry.ins.matricule.grouped()}" if entry.ins else "INS inconnu"
        flags = " (médecin traitant)" if entry.treating_doctor else ""
        added = f", dernier ajout {entry.last_add[:8]}" if entry.last_add else ""
        print(f"  {ins}{flags}{added}", file=out)
    return 0


def run_admin(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        status = client.admin_data(ins)
    labels = {
        "OPPOSITION_BRIS_DE_GLACE": "opposition au bris de glace",
        "OPPOSITION_ACCES_URGENCE": "opposition à l'accès en urgence (centre 15)",
        "RATTACHEMENT_ENS": "rattaché à Mon espace santé",
        "COMPTE_INTERNET_OUVERT": "compte internet ouvert",
    }
    print(f"DMP : {status.state.value}", file=out)
    for code, flag in sorted(status.observations.items()):
        print(f"  {labels.get(code, code)} : {'oui' if flag else 'non'}", file=out)
    return 0


def run_authorizations(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        rows = client.list_authorizations(ins)
    print(f"{len(rows)} professionnel(s)", file=out)
    for row in rows:
        since = f" depuis le {row.start[6:8]}/{row.start[4:6]}/{row.start[:4]}" if row.start else ""
        specialty = f", {', '.join(row.specialty_labels or row.specialties)}" if row.specialties else ""
        print(
            f"  {row.first_name} {row.last_name} ({row.national_id}{specialty}) : {row.mode}{since}", file=out
        )
    return 0
