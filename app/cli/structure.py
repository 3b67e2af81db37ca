"""``dmp structure mot-de-passe``: the password of the structure's encrypted keys (encrypted PEM or
PKCS#12), typed without echo, checked against the configured key files, and stored in the system
keyring, the only place the client reads it from (docs/configuration.md)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import TextIO

from app.config.layers import InvalidValue
from app.config.settings import Settings
from app.dmp_client.structure_keys import is_encrypted, load_key_and_certificate
from app.store.keys import SecretStore

Ask = Callable[[str], str]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    structure = commands.add_parser("structure", help="certificats et clés de la structure")
    actions = structure.add_subparsers(dest="action", required=True, metavar="ACTION")
    password = actions.add_parser(
        "mot-de-passe",
        help="enregistrer dans le trousseau du système le mot de passe des clés chiffrées de la structure",
    )
    password.add_argument("--effacer", action="store_true", help="retirer le mot de passe du trousseau")
    password.set_defaults(handler=run_password)


def run_password(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    ask: Ask | None = None,
    store: SecretStore | None = None,
) -> int:
    store = store or SecretStore()
    ask = ask or getpass.getpass  # no echo
    if args.effacer:
        store.delete()
        print("Mot de passe de la clé de la structure retiré du trousseau.", file=out)
        return 0
    try:
        first = ask("Mot de passe de la clé de la structure : ")
        confirmed = bool(first) and ask("Confirmez le mot de passe : ") == first
    except (EOFError, KeyboardInterrupt):
        first, confirmed = "", False
    if not confirmed:
        raise InvalidValue("Mot de passe vide ou confirmation différente : rien n'est enregistré.")
    creds = Settings.load().structure
    keys = (creds.auth_key, creds.sign_key) if creds is not None else ()
    for key in keys:
        if is_encrypted(key):
            load_key_and_certificate(key, first)  # a wrong password is refused, never stored
    store.set(first)
    checked = "vérifié sur les clés configurées, " if any(is_encrypted(k) for k in keys) else ""
    print(f"Mot de passe {checked}enregistré dans le trousseau du système.", file=out)
    return 0
