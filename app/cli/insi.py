"""``dmp insi rechercher|verifier``: the INSi teleservice from the command line (issue 17).

``rechercher`` searches by traits (a manual entry: provisoire until INSi answers; 01/02 with the
prescribed next step) or with the Vitale card for one beneficiary (the sandbox's virtual card,
training mode only); ``verifier`` checks an INS held (handed over by the EHR, with the status it
claims) before use. A found or confirmed identity is recorded récupérée in the local base (qualifiée
once an identity document is checked: ``dmp identite valider``). The flows are in
app/services/qualification.py; INSi is reached with the card (``--mode carte``) or the structure's
certificate (``--mode structure``). The traits and the INS are printed, never logged.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, TextIO

from app.cli.dmp import AUTH_MODES, auth_mode, ins_of
from app.cli.identity import lifecycle, print_status, print_strict, traits_of, traits_options
from app.config.settings import Settings
from app.errors import UsageError

if TYPE_CHECKING:
    from app.services.qualification import InsiOutcome, Qualification

EXIT_NOT_FOUND = 1  # 01/02 or a refusal: nothing to use


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    insi = subparsers.add_parser("insi", help="téléservice INSi : rechercher ou vérifier l'INS d'un patient")
    commands = insi.add_subparsers(dest="insi_command", required=True, metavar="COMMANDE")

    search = commands.add_parser(
        "rechercher",
        help="rechercher l'INS par les traits d'identité ou avec la carte Vitale",
        description=(
            "Recherche l'INS du patient auprès du téléservice INSi : par les traits (--nom, --prenoms, "
            "--sexe, --naissance, --lieu) ou avec la carte Vitale (--vitale, bac à sable seulement ; "
            "--beneficiaire N pour une carte familiale). Une identité trouvée est enregistrée "
            "« récupérée » sur ce poste."
        ),
    )
    traits_options(search, required=False)
    search.add_argument("--vitale", action="store_true", help="avec la carte Vitale (bac à sable)")
    search.add_argument(
        "--beneficiaire", type=int, metavar="N", help="rang du bénéficiaire sur la carte Vitale"
    )
    _used_names(search)
    _connection_options(search)
    search.set_defaults(handler=run_search)

    verify = commands.add_parser(
        "verifier",
        help="vérifier par INSi un INS reçu (logiciel métier) avant de l'utiliser",
        description=(
            "Vérifie auprès du téléservice INSi un INS et ses traits reçus du logiciel métier. Un statut "
            "annoncé « qualifiée » sans pièce d'identité vérifiée sur ce poste reste « récupérée » ici."
        ),
    )
    verify.add_argument("--ins", required=True, help="matricule INS reçu (15 caractères)")
    verify.add_argument("--oid", help="OID de l'INS (défaut dans le bac à sable : INS de test .10)")
    traits_options(verify, required=True)
    verify.add_argument(
        "--statut-annonce",
        choices=("provisoire", "recuperee", "validee", "qualifiee"),
        help="le statut que le logiciel métier annonce",
    )
    _used_names(verify)
    _connection_options(verify)
    verify.set_defaults(handler=run_verify)


def _used_names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nom-utilise", help="nom utilisé (affiché à côté des traits stricts)")
    parser.add_argument("--prenom-utilise", help="prénom utilisé (affiché à côté des traits stricts)")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=AUTH_MODES,
        default=None,
        help="authentification auprès d'INSi (défaut : le réglage DMP_MODE_AUTH)",
    )
    parser.add_argument(
        "--situation", type=int, default=1, help="situation d'exercice de la carte (défaut : 1)"
    )
    parser.add_argument("--pin-stdin", action="store_true", help="lire le code porteur sur l'entrée standard")


@contextmanager
def _flows(args: argparse.Namespace, settings: Settings, err: TextIO) -> Iterator[Qualification]:
    """The INSi client of the command's mode and the lifecycle over the local base."""
    from app.services.qualification import Qualification, card_access, open_insi

    settings.insi.check()  # INSI-NON-CONFIGURE before a PIN is asked
    with ExitStack() as stack:
        life = stack.enter_context(lifecycle(settings))
        access = None
        if auth_mode(args, settings) == "carte":  # the card alone: INSi needs no DMP connection
            from app.card import pkcs11_module
            from app.card.session import CardSession
            from app.cli.card import pin_prompt

            card = CardSession(pkcs11_module.discover(settings.pkcs11_module), sandbox=settings.is_sandbox)
            stack.callback(card.close)
            card.login(pin_prompt(args, err))
            who = card.professional()
            access = card_access(settings, card, who.national_id)
            by = who.display_name
        else:
            creds = settings.structure
            by = (creds.user_name if creds else None) or "structure"
        client = open_insi(settings, access=access)
        stack.callback(client.close)
        yield Qualification(life, client, by)


def _print(outcome: InsiOutcome, args: argparse.Namespace, out: TextIO) -> int:
    import dataclasses

    code = outcome.result.report.value if outcome.result is not None else "?"
    print(f"Résultat INSi : {outcome.outcome.value} (compte rendu {code})", file=out)
    print(outcome.message, file=out)
    for warning in outcome.warnings:
        print(f"ATTENTION : {warning}", file=out)
    if outcome.strict is not None:
        strict = dataclasses.replace(
            outcome.strict, used_name=args.nom_utilise, used_first_name=args.prenom_utilise
        )
        print_strict(strict, out)
    if outcome.ins is not None:
        missing = {
            "provisoire": "interroger le téléservice INSi et vérifier une pièce d'identité",
            "récupérée": "vérifier une pièce d'identité du patient (dmp identite valider)",
            "validée": "interroger le téléservice INSi",
        }.get(outcome.status.value)
        print_status(outcome.status.value, missing, None, out)
        return 0
    print(f"Statut de l'identité : {outcome.status.value}", file=out)
    return EXIT_NOT_FOUND


def run_search(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.services.qualification import read_vitale

    settings = Settings.load()
    traits = traits_of(args)
    if args.vitale == (traits is not None):
        raise UsageError("Indiquez soit les traits (--nom, --prenoms, --sexe, --naissance), soit --vitale.")
    if args.beneficiaire is not None and not args.vitale:
        raise UsageError("--beneficiaire ne s'emploie qu'avec --vitale.")
    card = read_vitale(settings) if args.vitale else None  # before INSi: the 20 minutes start here
    with _flows(args, settings, err) as flows:
        if card is not None:
            outcome = flows.from_vitale(card, args.beneficiaire)
        else:
            assert traits is not None
            outcome = flows.from_traits(traits)
    return _print(outcome, args, out)


def run_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.services.qualification import parse_claimed_status

    settings = Settings.load()
    ins = ins_of(args, settings)
    traits = traits_of(args)
    assert traits is not None  # required options
    claimed = parse_claimed_status(args.statut_annonce)
    with _flows(args, settings, err) as flows:
        outcome = flows.from_handoff(ins, traits, claimed)
    return _print(outcome, args, out)
