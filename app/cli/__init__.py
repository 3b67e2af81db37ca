"""The ``dmp`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from app import __version__
from app.cli import card as cli_card
from app.cli import diagnostic
from app.cli import dmp as cli_dmp
from app.cli import documents as cli_documents
from app.cli import ecps as cli_ecps
from app.cli import identity as cli_identity
from app.cli import ins as cli_ins
from app.cli import insi as cli_insi
from app.cli import store as cli_store
from app.cli import structure as cli_structure
from app.errors import USER_FACING_ERRORS
from app.services import training

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmp",
        description="Client DMP-compatible : identité patient, carte CPS, échanges avec le DMP.",
    )
    parser.add_argument("--version", action="version", version=f"dmp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    cli_ins.add_parsers(commands)
    cli_insi.add_parsers(commands)
    cli_identity.add_parsers(commands)
    cli_card.add_parsers(commands)
    cli_dmp.add_parsers(commands)
    cli_dmp.add_admin_parsers(commands)
    cli_documents.add_parsers(commands)
    cli_store.add_parsers(commands)
    cli_structure.add_parsers(commands)
    cli_ecps.add_parsers(commands)
    training.add_demo_parser(commands)
    diagnostic.add_parser(commands)
    updates = commands.add_parser("mise-a-jour", help="dire si l'éditeur annonce une version plus récente")
    updates.set_defaults(handler=_update_check)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; return its exit status (0 success, 1 invalid data, 2 error)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args, out, err)
    except USER_FACING_ERRORS as error:
        print(f"ERREUR: {error}", file=err)
        hint = getattr(error, "cli_hint", None)  # e.g. DMP-ISSUE-INCERTAINE: check with `dmp find`
        if hint:
            print(hint, file=err)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `dmp ins insc --csv big.csv | head`
        return EXIT_ERROR
    return status


def _update_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``dmp mise-a-jour``: notify only (app/services/updates.py)."""
    from app.config.settings import Settings
    from app.services.updates import check

    settings = Settings.load()
    url = settings.config.get("DMP_MAJ_URL")
    if not url:
        print("Aucune adresse de mise à jour configurée (DMP_MAJ_URL, fixée par l'éditeur).", file=out)
        return 0
    update = check(url, proxy=settings.proxy)
    print(update.describe() if update else f"dmp {__version__} est à jour.", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
