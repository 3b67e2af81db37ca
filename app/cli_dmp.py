"""``dmp status`` (TD0.2) and ``dmp authorize`` (TD0.3) against the configured host (sandbox by default)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from app.cli_card import pin_prompt
from app.dmp_client.client import DmpClient
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.hl7v3 import DmpState
from app.dmp_client.factory import card_client, structure_client
from app.errors import DmpClientError
from app.ins import Ins, InsOid
from app.settings import Settings

_PURPOSES = {"normal": Purpose.NORMAL, "bris_de_glace": Purpose.BREAK_GLASS, "centre_15": Purpose.CENTRE_15}


def common_options(parser: argparse.ArgumentParser, *, ins_required: bool = True) -> None:
    parser.add_argument("--ins", required=ins_required, help="matricule INS du patient (15 caractères)")
    parser.add_argument("--oid", help="OID de l'INS (défaut dans le bac à sable : INS de test .10)")
    parser.add_argument(
        "--mode", choices=["carte", "structure"], default="carte", help="authentification (défaut : carte)"
    )
    parser.add_argument("--acces", choices=sorted(_PURPOSES), default="normal", help="mode d'accès")
    parser.add_argument(
        "--situation", type=int, default=1, help="situation d'exercice de la carte (défaut : 1)"
    )
    parser.add_argument("--pin-stdin", action="store_true", help="lire le code porteur sur l'entrée standard")
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="DOSSIER",
        help="écrire chaque échange (requête, réponse) tel qu'envoyé/reçu",
    )


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
    authorize.set_defaults(handler=run_authorize)


def ins_of(args: argparse.Namespace, settings: Settings) -> Ins:
    if not args.ins:
        raise DmpClientError("Indiquez l'INS du patient (--ins).", code="DMP-USAGE")
    oid = args.oid or (InsOid.NIR_TEST.value if settings.is_sandbox else None)
    if oid is None:
        raise DmpClientError(
            "Indiquez l'OID de l'INS (--oid), tel que qualifié par le téléservice INSi.", code="DMP-USAGE"
        )
    return Ins.parse(args.ins, oid)


@contextmanager
def open_client(args: argparse.Namespace, settings: Settings, err: TextIO) -> Iterator[DmpClient]:
    purpose = _PURPOSES[args.acces]
    if args.mode == "structure":
        client = structure_client(settings, purpose)
        client.transport.trace_dir = args.trace
        try:
            yield client
        finally:
            client.close()
        return
    client, card = card_client(settings, pin_prompt(args, err), args.situation, purpose)
    client.transport.trace_dir = args.trace
    try:
        yield client
    finally:
        client.close()
        card.close()


def run_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.from_env()
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
    settings = Settings.from_env()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        result = client.set_authorization(ins, add=not args.retirer)
    done = "supprimée" if args.retirer else "enregistrée"
    print(
        f"Autorisation {done} ({result.status}{' : ' + result.context if result.context else ''})", file=out
    )
    return 0
