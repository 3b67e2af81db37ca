"""``dmp ecps connexion|statut|deconnexion|secret``: log in with e-CPS through Pro Santé Connect
(OpenID Connect CIBA; docs/authentication.md). ``connexion`` shows the two-digit code to check on
the phone (large) with the channel, waits with the time left (Ctrl-C cancels), then keeps the
session for the next commands (``--mode ecps``: consultation in AIR)."""

from __future__ import annotations

import argparse
import getpass
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from app.config.layers import InvalidValue
from app.config.settings import Settings
from app.dmp_client.core.psc_params import Channel
from app.dmp_client.errors import PscCancelled, PscSessionExpired
from app.errors import DmpClientError, UsageError
from app.services import ecps

if TYPE_CHECKING:
    from app.dmp_client.core.psc import PscIdentity, PscSession
    from app.dmp_client.psc_client import PendingLogin

Ask = Callable[[str], str]
new_event: Callable[[], threading.Event] = threading.Event  # the wait's cancel event (tests: a fast one)

# Large digits for the binding code (5 lines; "#" blocks), so it is read at a glance.
_DIGITS = {
    "0": ("#####", "#   #", "#   #", "#   #", "#####"),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", " ### "),
    "2": ("#####", "    #", "#####", "#    ", "#####"),
    "3": ("#####", "    #", " ####", "    #", "#####"),
    "4": ("#   #", "#   #", "#####", "    #", "    #"),
    "5": ("#####", "#    ", "#####", "    #", "#####"),
    "6": ("#####", "#    ", "#####", "#   #", "#####"),
    "7": ("#####", "    #", "   # ", "  #  ", "  #  "),
    "8": ("#####", "#   #", "#####", "#   #", "#####"),
    "9": ("#####", "#   #", "#####", "    #", "#####"),
}
_CHANNELS = {
    Channel.MOBILE: "application e-CPS du téléphone",
    Channel.CARD: "carte CPS (lecteur sans contact)",
}


def big_code(code: str) -> str:
    return "\n".join("   ".join(_DIGITS[d][row] for d in code) for row in range(5))


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("ecps", help="connexion e-CPS (Pro Santé Connect) pour consulter en AIR")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    login = actions.add_parser("connexion", help="se connecter avec e-CPS (validation sur le téléphone)")
    login.add_argument(
        "--rpps", help="identifiant national du professionnel (8 + RPPS ; défaut DMP_PSC_RPPS)"
    )
    login.add_argument(
        "--canal", choices=[c.value for c in Channel], help="défaut : le réglage DMP_PSC_CANAL"
    )
    login.add_argument(
        "--situation", type=int, help="situation d'exercice à utiliser (obligatoire s'il y en a plusieurs)"
    )
    login.set_defaults(handler=run_login)
    status = actions.add_parser("statut", help="la session e-CPS ouverte : professionnel, exercice, validité")
    status.set_defaults(handler=run_status)
    logout = actions.add_parser(
        "deconnexion", help="fermer la session e-CPS (auprès de Pro Santé Connect aussi)"
    )
    logout.set_defaults(handler=run_logout)
    secret = actions.add_parser(
        "secret", help="enregistrer dans le trousseau le secret client Pro Santé Connect du logiciel"
    )
    secret.add_argument("--effacer", action="store_true", help="retirer le secret du trousseau")
    secret.set_defaults(handler=run_secret)


def _situations(identity: PscIdentity) -> str:
    return "\n".join(
        f"    {n}. {s.structure_name or s.structure_id} : structure {s.structure_id}, secteur {s.sector}, "
        f"profession {s.profession_code}{f'/{s.specialty_code}' if s.specialty_code else ''}"
        for n, s in enumerate(identity.situations, start=1)
    )


def _describe(session: PscSession, situation: int | None, now: float, out: TextIO) -> None:
    who = session.identity
    print(f"Connecté avec e-CPS : {who.display_name} ({who.national_id})", file=out)
    chosen = who.situation(situation)
    print(
        f"Situation d'exercice : {chosen.structure_name or chosen.structure_id} ({chosen.sector})", file=out
    )
    left = max(0, int(session.expires_in(now)))
    renew = " (renouvelable)" if session.can_refresh(now) else ""
    print(f"Jeton valide encore {left // 60} min {left % 60:02d} s{renew}.", file=out)


def run_login(
    args: argparse.Namespace, out: TextIO, err: TextIO, cancel: threading.Event | None = None
) -> int:
    settings = Settings.load()
    rpps = args.rpps or settings.psc_rpps
    if not rpps:
        raise UsageError("Indiquez l'identifiant national du professionnel (--rpps 8XXXXXXXXXXX).")
    cancel = cancel or new_event()
    with ecps.open_psc(settings) as psc:

        def show(pending: PendingLogin) -> None:
            print("Code à vérifier sur le téléphone :\n", file=out)
            print(big_code(pending.binding_message), file=out)
            print(f"\n({pending.binding_message}) — validez sur : {_CHANNELS[pending.channel]}", file=out)
            out.flush()

        shown = [-1]

        def tick(left: float) -> None:
            seconds = int(left)
            if seconds != shown[0] and (seconds % 5 == 0 or seconds <= 10):
                shown[0] = seconds
                print(
                    f"\rEn attente de la validation… {seconds // 60}:{seconds % 60:02d} restantes ",
                    end="",
                    file=err,
                )
                err.flush()

        channel = Channel(args.canal) if args.canal else None
        try:
            session = psc.login(rpps, on_pending=show, cancel=cancel, on_wait=tick, channel=channel)
        except KeyboardInterrupt:  # Ctrl-C: the wait stops, nothing is kept
            cancel.set()
            print(file=err)
            raise PscCancelled() from None
        finally:
            print(file=err)
        if args.situation is None and len(session.identity.situations) > 1:
            print("Plusieurs situations d'exercice : choisissez-en une avec --situation N.", file=err)
            print(_situations(session.identity), file=err)
            psc.logout(session)
            raise InvalidValue("Situation d'exercice non choisie : connexion non conservée.")
        session.identity.situation(args.situation)  # PSC-EXERCICE-ABSENT now, not at the first use
        ecps.SessionFile(settings.store.folder).save(session, args.situation)
        _remember(settings, session.identity.national_id, err)
        _describe(session, args.situation, psc.clock(), out)
    print("Consultez avec « --mode ecps » (authentification indirecte renforcée, AIR).", file=out)
    return 0


def _remember(settings: Settings, rpps: str, err: TextIO) -> None:
    """The RPPS id kept as the workstation user's DMP_PSC_RPPS (offered next time)."""
    if rpps == settings.psc_rpps:
        return
    try:
        settings.config.save_user({"DMP_PSC_RPPS": rpps})
    except (DmpClientError, OSError) as error:  # locked by the machine policy, unwritable file
        print(f"(identifiant RPPS non mémorisé : {getattr(error, 'code', type(error).__name__)})", file=err)


def run_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    store = ecps.SessionFile(settings.store.folder)
    try:
        stored = store.load()
    except PscSessionExpired:
        print("Aucune session e-CPS ouverte.", file=out)
        return 1
    with ecps.open_psc(settings) as psc:
        try:
            session = psc.check(stored.session)
        except PscSessionExpired:
            store.delete()
            print("La session e-CPS a expiré : reconnectez-vous (« dmp ecps connexion »).", file=out)
            return 1
        if session is not stored.session:
            store.save(session, stored.situation)
        _describe(session, stored.situation, psc.clock(), out)
    return 0


def run_logout(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    store = ecps.SessionFile(settings.store.folder)
    try:
        stored = store.load()
    except PscSessionExpired:
        store.delete()
        print("Aucune session e-CPS ouverte.", file=out)
        return 0
    ended = False
    try:
        with ecps.open_psc(settings) as psc:
            ended = psc.logout(stored.session)
    finally:
        store.delete()  # forgotten locally whatever the provider said
    where = "" if ended else " (Pro Santé Connect n'a pas confirmé la fin de sa session)"
    print(f"Session e-CPS fermée{where}.", file=out)
    return 0


def run_secret(args: argparse.Namespace, out: TextIO, err: TextIO, ask: Ask | None = None) -> int:
    store = ecps.secret_store()
    if args.effacer:
        store.delete(ecps.SECRET_NAME)
        print("Secret client Pro Santé Connect retiré du trousseau.", file=out)
        return 0
    ask = ask or getpass.getpass
    try:
        value = ask("Secret client Pro Santé Connect : ")
    except (EOFError, KeyboardInterrupt):
        value = ""
    if not value:
        raise InvalidValue("Secret vide : rien n'est enregistré.")
    store.set(value, ecps.SECRET_NAME)
    print("Secret client Pro Santé Connect enregistré dans le trousseau du système.", file=out)
    return 0
