"""``dmp ins …``: check a NIR, compute INS-C one at a time or for a whole CSV file."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import BinaryIO, TextIO

from app.cli.insc_batch import BatchTally, process
from app.errors import InputFileError, OutputFileError, UsageError
from app.ins import InsError, Nir, card_birth_date, compute_insc

EXIT_OK = 0
EXIT_INVALID = 1

# Issue 17 item 5: the INS-C stays computable, shown as the legacy identifier it is.
INSC_LABEL = "INS-C (identifiant historique, jamais utilisé pour alimenter)"

_SEX_LABELS = {"1": "masculin", "2": "féminin"}


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ins = subparsers.add_parser("ins", help="identité patient : NIR, INS, INS-C")
    commands = ins.add_subparsers(dest="ins_command", required=True, metavar="COMMANDE")

    nir = commands.add_parser("nir", help="vérifier un NIR ou un NIA et expliquer ce qui ne va pas")
    nir.add_argument("nir", nargs="+", help="le NIR, avec ou sans clé, espaces permis")
    nir.set_defaults(handler=run_nir)

    insc = commands.add_parser(
        "insc",
        help="calculer l'INS-C (22 chiffres), identifiant historique jamais utilisé pour alimenter",
        description=(
            "Calcule l'INS-C d'un bénéficiaire à partir de son propre NIR, ou d'un fichier CSV. L'INS-C "
            "est l'identifiant historique des dossiers qui le portent encore : il n'est jamais utilisé "
            "pour alimenter le DMP (seul l'INS qualifié par le téléservice INSi l'est)."
        ),
    )
    insc.add_argument("--prenom", help="prénom tel que lu sur la carte Vitale")
    insc.add_argument(
        "--naissance", help="date de naissance telle que lue sur la carte : AAMMJJ ou JJ/MM/AAAA"
    )
    insc.add_argument("--nir", help="NIR du bénéficiaire (13 caractères, ou 15 avec la clé)")
    insc.add_argument(
        "--csv", metavar="FICHIER", help="lignes « prenom;naissance;nir » (UTF-8 ou ISO-8859-1), - = entrée"
    )
    insc.add_argument(
        "--sortie", metavar="FICHIER", help="écrire les résultats dans ce fichier (défaut : sortie standard)"
    )
    insc.add_argument(
        "--valeur-seule", action="store_true", help="n'écrire que les 22 chiffres (scripts), sans le libellé"
    )
    insc.set_defaults(handler=run_insc)


def run_nir(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text = " ".join(args.nir)
    try:
        nir = Nir.parse(text)
    except InsError as error:
        print(f"NIR invalide : {error.user_message}", file=err)
        print(f"(code {error.code})", file=err)
        return EXIT_INVALID
    given_key = len("".join(text.split())) == 15
    print(f"NIR valide : {nir.grouped()}", file=out)
    sex = _SEX_LABELS.get(nir.sex_digit, f"numéro provisoire (premier chiffre {nir.sex_digit})")
    print(f"  sexe : {sex}", file=out)
    month = nir.birth_month if nir.birth_month_known else f"inconnu (pseudo-mois {nir.birth_month})"
    print(f"  naissance : année ..{nir.birth_year}, mois {month}", file=out)
    if nir.born_abroad:
        print(f"  lieu : né(e) à l'étranger, code pays INSEE 99{nir.birth_place[2:]}", file=out)
    else:
        print(f"  lieu : département {nir.birth_place[:2]}, commune {nir.birth_place[2:]}", file=out)
    print(f"  numéro d'ordre : {nir.order_number}", file=out)
    print(f"  clé : {nir.key}" + ("" if given_key else " (calculée)"), file=out)
    return EXIT_OK


def run_insc(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    single = (args.prenom, args.naissance, args.nir)
    if args.csv is not None:
        if any(v is not None for v in single) or args.valeur_seule:
            raise UsageError("--csv ne se combine pas avec --prenom, --naissance, --nir ou --valeur-seule.")
        return _run_csv(args.csv, args.sortie, out, err)
    if any(v is None for v in single):
        raise UsageError("Indiquez --prenom, --naissance et --nir (ou --csv FICHIER).")
    try:
        insc = compute_insc(args.prenom, card_birth_date(args.naissance), args.nir)
    except InsError as error:
        print(f"ERREUR: {error}", file=err)
        return EXIT_INVALID
    print(insc.value if args.valeur_seule else f"{INSC_LABEL} : {insc.value}", file=out)
    return EXIT_OK


def _run_csv(source: str, destination: str | None, out: TextIO, err: TextIO) -> int:
    tally = BatchTally()
    with ExitStack() as stack:
        reader = _open_input(source, stack)
        writer = _open_output(destination, stack) if destination else out
        write = writer.write
        for line in process(reader, tally):
            write(line + "\n")
    print(
        f"{tally.lines} ligne(s) : {tally.computed} INS-C calculé(s), {tally.errors} erreur(s). "
        "(INS-C : identifiant historique, jamais utilisé pour alimenter.)",
        file=err,
    )
    return EXIT_OK if tally.errors == 0 else EXIT_INVALID


def _open_input(source: str, stack: ExitStack) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(source, "rb"))
    except OSError as error:
        raise InputFileError(f"Le fichier CSV ne peut pas être ouvert : {error.strerror}.") from error


def _open_output(destination: str, stack: ExitStack) -> TextIO:
    try:
        return stack.enter_context(open(destination, "w", encoding="utf-8", newline="\n"))
    except OSError as error:
        raise OutputFileError(f"Le fichier de sortie ne peut pas être créé : {error.strerror}.") from error
