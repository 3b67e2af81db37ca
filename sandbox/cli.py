"""``dmp-sandbox``: the embedded sandbox's own commands (the card rig today)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox import rig
from sandbox.softhsm import RigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmp-sandbox", description="Bac à sable DMP : banc de cartes virtuelles."
    )
    parser.add_argument("--dir", type=Path, default=None, help="dossier du banc (défaut : $DMP_SANDBOX_DIR)")
    commands = parser.add_subparsers(dest="command", required=True)
    rig_parser = commands.add_parser("rig", help="monter ou démonter le banc de cartes")
    rig_parser.add_argument("action", choices=["up", "down", "status", "env"])
    rig_parser.add_argument(
        "--sans-cartes", action="store_true", help="up : ne pas insérer les cartes par défaut"
    )
    rig_parser.add_argument("--purger", action="store_true", help="down : effacer aussi PKI et jetons")
    card = commands.add_parser("card", help="insérer ou retirer une carte virtuelle")
    card.add_argument("action", choices=["insert", "remove"])
    card.add_argument("reader", type=int, choices=[0, 1], help="numéro du lecteur virtuel")
    card.add_argument(
        "card",
        nargs="?",
        help="cps:<generaliste|specialiste|infirmier|pharmacien|secretaire> ou vitale:<P01…>",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folder = (args.dir or rig.default_dir()).resolve()
    try:
        if args.command == "rig":
            return _rig(args, folder)
        if args.action == "insert":
            if not args.card:
                print("Indiquez la carte à insérer.", file=sys.stderr)
                return 2
            rig.insert_card(folder, args.reader, args.card)
        else:
            rig.remove_card(folder, args.reader)
    except RigError as error:
        print(f"ERREUR: {error}", file=sys.stderr)
        return 2
    return 0


def _rig(args: argparse.Namespace, folder: Path) -> int:
    if args.action == "up":
        seconds = rig.up(folder, default_cards=not args.sans_cartes)
        print(f"Banc de cartes prêt en {seconds:.1f} s ({folder}).", file=sys.stderr)
        print("\n".join(rig.env_lines(folder)))
    elif args.action == "down":
        rig.down(folder, purge=args.purger)
    elif args.action == "env":
        print("\n".join(rig.env_lines(folder)))
    else:
        state = rig.load_state(folder)
        for reader, entry in sorted(state.get("readers", {}).items()):
            print(f"lecteur {reader} : {entry['card']} (pid {entry['pid']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
