"""``dmp card …`` and ``dmp vitale …``: readers, the professional's card, the patient's Vitale data."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from app.card import pkcs11_module
from app.card.cps import PinPrompt, PinStatus
from app.card.patient_sources import EhrContextSource, IdentitySource
from app.card.pcsc import list_readers
from app.card.session import CardSession
from app.cli.ins import INSC_LABEL
from app.config.settings import Settings
from app.services import training


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    card = subparsers.add_parser("card", help="lecteurs et carte CPS du professionnel")
    commands = card.add_subparsers(dest="card_command", required=True, metavar="COMMANDE")
    readers = commands.add_parser("readers", help="lister les lecteurs PC/SC et les cartes insérées")
    readers.set_defaults(handler=run_readers)
    info = commands.add_parser("info", help="identité et situations d'exercice lues sur la carte CPS")
    info.add_argument("--pin-stdin", action="store_true", help="lire le code porteur sur l'entrée standard")
    info.add_argument(
        "--module", help="chemin du module PKCS#11 (défaut : Cryptolib CPS, ou $DMP_PKCS11_MODULE)"
    )
    info.add_argument("--jeton", help="libellé du jeton PKCS#11 à utiliser")
    info.add_argument("--lecteur", help="lecteur PC/SC de la carte (défaut : celui qui contient une CPS)")
    info.set_defaults(handler=run_info)

    vitale = subparsers.add_parser(
        "vitale", help="identité du patient (carte Vitale ou contexte du logiciel)"
    )
    vitale_commands = vitale.add_subparsers(dest="vitale_command", required=True, metavar="COMMANDE")
    read = vitale_commands.add_parser("read", help="lire les bénéficiaires et calculer leur INS-C")
    read.add_argument("--lecteur", help="lecteur PC/SC de la carte Vitale")
    read.add_argument(
        "--contexte", type=Path, help="fichier JSON de contexte transmis par le logiciel métier"
    )
    read.set_defaults(handler=run_vitale)


def run_readers(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for state in list_readers():
        print(f"{state.name} : {state.label}", file=out)
    return 0


def pin_prompt(args: argparse.Namespace, err: TextIO) -> PinPrompt:
    """Ask the PIN once, after showing the tries left: from a hidden prompt, or stdin (--pin-stdin)."""

    def prompt(status: PinStatus) -> str | None:
        print(f"Code porteur ({status.describe()}).", file=err)
        if args.pin_stdin:
            return sys.stdin.readline().strip() or None
        try:
            return getpass.getpass("Code porteur : ")
        except (EOFError, KeyboardInterrupt):
            return None

    return prompt


def run_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    module = pkcs11_module.discover(args.module)
    sandbox = Settings.load().is_sandbox  # the sandbox's card serial probe in training mode only
    session = CardSession(module, token_label=args.jeton, reader=args.lecteur, sandbox=sandbox)
    try:
        who = session.professional()
        print(
            f"Carte {who.card_type or 'CPS'} n° {who.card_serial or '?'} (lecteur : {session.reader})",
            file=out,
        )
        print(f"  titulaire : {who.display_name}", file=out)
        print(f"  identifiant national : {who.national_id}", file=out)
        profession = f"{who.profession_label or '?'}" + (
            f" ({who.profession_code})" if who.profession_code else ""
        )
        print(f"  profession : {profession}", file=out)
        if who.specialty_code:
            print(f"  spécialité : {who.specialty_code}", file=out)
        if who.role:
            print(f"  rôle : {who.role}", file=out)
        session.login(pin_prompt(args, err))
        situations = session.situations()
        print(f"  situations d'exercice ({len(situations)}) :", file=out)
        for s in situations:
            mode = f", mode {s.mode}" if s.mode else ""
            print(
                f"    {s.number}. {s.structure_name} : structure {s.structure_id}, secteur {s.sector}{mode}",
                file=out,
            )
    finally:
        session.close()
    return 0


def run_vitale(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    source: IdentitySource = (
        EhrContextSource.from_file(args.contexte)
        if args.contexte
        else training.vitale_card(Settings.load().is_sandbox, args.lecteur)  # sandbox mode only
    )
    beneficiaries = source.beneficiaries()
    print(f"Source : {source.label} ; {len(beneficiaries)} bénéficiaire(s)", file=out)
    for b in beneficiaries:
        nir = b.own_nir.grouped() if b.own_nir else "absent de la carte"
        print(
            f"  rang {b.rank} : {b.surname} {b.first_name}, né(e) (carte) {b.birth_date}, NIR {nir}", file=out
        )
        insc = b.insc()
        print(f"    {INSC_LABEL} : {insc.value if insc else b.insc_unavailable}", file=out)
        if b.ins:
            print(f"    INS : {b.ins.oid.label} {b.ins.matricule.grouped()}", file=out)
    return 0
