"""``dmp-sandbox``: the embedded sandbox's own commands (the card rig today)."""

from __future__ import annotations

import argparse
import contextlib
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
    rig_parser.add_argument(
        "--port-hote", type=int, default=None, help="up : port de l'hôte DMP (défaut 8443)"
    )
    serve = commands.add_parser("serve", help="lancer l'hôte DMP du bac à sable (TLS mutuel)")
    serve.add_argument("--adresse", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=rig.HOST_PORT)
    serve.add_argument("--donnees", type=Path, help="dossier des données (défaut : <banc>/host)")
    serve.add_argument("--profil", choices=["current", "legacy"], default="current")
    serve.add_argument("--record", type=Path, help="écrire chaque requête et réponse dans ce dossier")
    serve.add_argument("--latence", type=float, default=0.0, help="latence injectée par requête (s)")
    serve.add_argument("--taux-erreur", type=float, default=0.0, help="proportion de fautes injectées (0-1)")
    serve.add_argument(
        "--taux-coupure", type=float, default=0.0, help="proportion de connexions coupées (0-1)"
    )
    serve.add_argument(
        "--taux-perte-reponse",
        type=float,
        default=0.0,
        help="proportion de requêtes traitées dont la réponse est perdue (connexion coupée, 0-1)",
    )
    serve.add_argument(
        "--mensonge",
        choices=(
            "autre-patient",
            "patient-double",
            "autres-octets",
            "document-vide",
            "succes-avec-erreur",
            "succes-avec-avertissement",
            "faute-soap11",
        ),  # sandbox/host/lies.py MODES (not imported here: the host loads lazily)
        default=None,
        help="registre menteur (docs/sandbox-documents.md) : chaque réponse ment de cette façon",
    )
    serve.add_argument("--graine", type=int, help="graine des fautes injectées (défaut : 0)")
    serve.add_argument(
        "--sans-regles-air",
        action="store_true",
        help="ne pas appliquer les règles AIR ni les limites du mode indirect (docs/sandbox-psc.md)",
    )
    serve.add_argument("--validite-vihf-air", type=float, default=30.0, help="durée de vie d'un VIHF AIR (s)")
    insi = commands.add_parser("insi", help="l'hôte INSi du bac à sable (téléservice INS, TLS mutuel)")
    insi.add_argument("action", choices=["serve"])
    insi.add_argument("--adresse", default="127.0.0.1")
    insi.add_argument("--port", type=int, default=rig.INSI_PORT)
    insi.add_argument("--latence", type=float, default=0.0, help="latence injectée par requête (s)")
    insi.add_argument("--taux-erreur", type=float, default=0.0, help="proportion de fautes siram_40 (0-1)")
    insi.add_argument(
        "--taux-coupure", type=float, default=0.0, help="proportion de connexions coupées (0-1)"
    )
    insi.add_argument("--graine", type=int, help="graine des fautes injectées (défaut : 0)")
    insi.add_argument(
        "--sans-structure", action="store_true", help="refuser le certificat de structure (carte CPS seule)"
    )
    # [UNSURE] points of docs/sandbox-insi.md, configurable
    insi.add_argument(
        "--prenoms",
        choices=("first_then_any", "exact_list", "any"),
        default="first_then_any",
        help="règle de comparaison des prénoms",
    )
    insi.add_argument("--noms-stricts", action="store_true", help="comparer les noms sans normalisation")
    insi.add_argument("--entete-reponse", action="store_true", help="réponses avec en-tête WS-Addressing")
    insi.add_argument("--exiger-securite", action="store_true", help="exiger l'en-tête wsse:Security")
    psc = commands.add_parser("psc", help="le fournisseur Pro Santé Connect du bac à sable (CIBA, TLS)")
    psc.add_argument("action", choices=["serve"])
    psc.add_argument("--adresse", default="127.0.0.1")
    psc.add_argument("--port", type=int, default=rig.PSC_PORT)
    psc.add_argument("--latence", type=float, default=0.0, help="latence injectée par requête (s)")
    psc.add_argument(
        "--telephone",
        choices=("manuel", "approuver", "refuser"),
        default="manuel",
        help="téléphone e-CPS virtuel : manuel (dmp-sandbox ecps) ou réponse automatique",
    )
    psc.add_argument("--delai-telephone", type=float, default=2.0, help="délai de la réponse automatique (s)")
    psc.add_argument("--expiration", type=int, default=120, help="durée de vie d'une demande CIBA (s)")
    psc.add_argument("--intervalle", type=int, default=5, help="intervalle d'interrogation annoncé (s)")
    psc.add_argument(
        "--duree-jeton", type=int, default=120, help="durée de vie des jetons d'accès et d'identité (s)"
    )
    ecps = commands.add_parser(
        "ecps", help="le téléphone e-CPS virtuel (répondre aux demandes Pro Santé Connect)"
    )
    ecps.add_argument("action", choices=["approuver", "refuser", "attente", "auto", "manuel"])
    ecps.add_argument(
        "--id", dest="auth_req_id", help="auth_req_id de la demande (défaut : la seule en attente)"
    )
    ecps.add_argument("--refus", action="store_true", help="auto : refuser au lieu d'approuver")
    ecps.add_argument("--delai", type=float, default=None, help="auto : délai avant la réponse (s)")
    commands.add_parser("seed", help="recréer les patients et DMP du bac à sable")
    journal = commands.add_parser("journal", help="qui a fait quoi sur l'hôte DMP")
    journal.add_argument("--nombre", type=int, default=50)
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
        if args.command in ("serve", "seed", "journal"):
            return _host(args, folder)
        if args.command == "insi":
            return _insi(args, folder)
        if args.command == "psc":
            return _psc(args, folder)
        if args.command == "ecps":
            return _ecps(args, folder)
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


def _host(args: argparse.Namespace, folder: Path) -> int:
    from sandbox.host.air import AirRules
    from sandbox.host.server import DmpHost, Faults, HostConfig
    from sandbox.host.store import Store

    data = getattr(args, "donnees", None) or folder / "host"
    if args.command == "seed":
        data.mkdir(parents=True, exist_ok=True)
        print(f"{Store(data / 'dmp.sqlite').seed()} patients créés.")
        return 0
    if args.command == "journal":
        for row in Store(data / "dmp.sqlite").journal_rows(args.nombre):
            columns = ("at", "actor", "mode", "purpose", "transaction_name", "result")
            print(" ".join(str(row[c]) for c in columns))
        return 0
    faults = Faults(
        latency=args.latence,
        error_rate=args.taux_erreur,
        drop_rate=args.taux_coupure,
        lost_answer_rate=args.taux_perte_reponse,
        lie=args.mensonge,
    )
    if args.graine is not None:
        faults.rng.seed(args.graine)
    config = HostConfig(folder / "pki", data, args.profil, args.record, faults)
    config.air = AirRules(enforce=not args.sans_regles_air, validity=args.validite_vihf_air)
    host = DmpHost((args.adresse, args.port), config)
    print(
        f"Hôte DMP du bac à sable : https://localhost:{host.server_address[1]}/si-dmp-server/v2/services",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        host.serve_forever()
    return 0


def _insi(args: argparse.Namespace, folder: Path) -> int:
    from sandbox.insi.referential import MatchRules
    from sandbox.insi.server import InsiConfig, InsiFaults, InsiHost

    faults = InsiFaults(latency=args.latence, error_rate=args.taux_erreur, drop_rate=args.taux_coupure)
    if args.graine is not None:
        faults.rng.seed(args.graine)
    config = InsiConfig(
        folder / "pki",
        faults,
        MatchRules(normalise=not args.noms_stricts, first_names=args.prenoms),
        allow_structure=not args.sans_structure,
        require_security_header=args.exiger_securite,
        answer_addressing=args.entete_reponse,
    )
    host = InsiHost((args.adresse, args.port), config)
    print(f"Hôte INSi du bac à sable : https://localhost:{host.server_address[1]}/lps", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        host.serve_forever()
    return 0


PHONE_MODES = {"manuel": "manual", "approuver": "approve", "refuser": "refuse"}


def _psc(args: argparse.Namespace, folder: Path) -> int:
    from sandbox.psc.server import PscConfig, PscFaults, PscProvider

    faults = PscFaults(
        latency=args.latence,
        phone=PHONE_MODES[args.telephone],
        phone_delay=args.delai_telephone,
        expires_in=args.expiration,
        interval=args.intervalle,
        access_token_lifetime=args.duree_jeton,
    )
    provider = PscProvider((args.adresse, args.port), PscConfig(folder / "pki", folder / "psc", faults))
    print(f"Fournisseur Pro Santé Connect du bac à sable : {provider.issuer}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        provider.serve_forever()
    return 0


def _ecps(args: argparse.Namespace, folder: Path) -> int:
    from sandbox.psc import phone

    state, pki = folder / "psc", folder / "pki"
    try:
        if args.action == "attente":
            waiting = phone.pending(state, pki)
            for item in waiting:
                print(
                    f"{item['auth_req_id']}  {item['national_id']}  code {item['binding_message']}  "
                    f"{item['channel']}  expire dans {item['expires_in']} s"
                )
            if not waiting:
                print("Aucune demande en attente.")
        elif args.action in ("approuver", "refuser"):
            done = phone.decide(state, pki, args.action == "approuver", args.auth_req_id)
            print(f"Demande {done} : {'approuvée' if args.action == 'approuver' else 'refusée'}.")
        else:
            changes: dict[str, object] = {"phone": "manual"}
            if args.action == "auto":
                changes["phone"] = "refuse" if args.refus else "approve"
                if args.delai is not None:
                    changes["phone_delay"] = args.delai
            phone.set_faults(state, pki, changes)
            print(f"Téléphone e-CPS virtuel : {args.action}.")
    except phone.PhoneError as error:
        print(f"ERREUR: {error}", file=sys.stderr)
        return 2
    return 0


def _rig(args: argparse.Namespace, folder: Path) -> int:
    if args.action == "up":
        seconds = rig.up(folder, default_cards=not args.sans_cartes, host_port=args.port_hote)
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
