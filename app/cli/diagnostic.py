"""``dmp diagnostic``: a bundle for support, redacted: versions, the configuration and where each
value comes from, the state of the local base and of the queue (states and codes, no titles, no
patients), the pseudonymised journal. Never the base itself, never a document, never an INS."""

from __future__ import annotations

import argparse
import io
import platform
import re
import sys
import zipfile
from pathlib import Path
from typing import TextIO

from app import __version__
from app.config.layers import KEYS
from app.config.settings import Settings
from app.errors import OutputFileError
from app.store.errors import StoreError
from app.store.local_store import LocalStore

# Anything that looks like a NIR/NIA (13 or 15 characters, spaces allowed: digits, with 2A or 2B as
# the department of a birth in Corsica) or an INS-C (22 digits).
_IDENTIFIER = re.compile(
    r"(?<!\d)\d(?:[ ]?\d){4}[ ]?(?:\d[ ]?\d|2[ ]?[ABab])(?:[ ]?\d){6}(?:[ ]?\d[ ]?\d)?(?!\d)"
    r"|(?<!\d)\d{22}(?!\d)"
)


def redact(text: str) -> str:
    """A second safety net: identifiers are masked even where none should be."""
    return _IDENTIFIER.sub("[identifiant masqué]", text)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "diagnostic", help="paquet de diagnostic pour le support (sans données patient)"
    )
    command.add_argument(
        "--sortie", type=Path, default=Path("diagnostic-dmp.zip"), help="fichier .zip à écrire"
    )
    command.set_defaults(handler=run)


def versions() -> str:
    lines = [
        f"dmp-client {__version__}",
        f"Python {sys.version.split()[0]} ({platform.python_implementation()})",
        f"Système : {platform.system()} {platform.release()} ({platform.machine()})",
        f"Exécutable figé : {'oui' if getattr(sys, 'frozen', False) else 'non'}",
    ]
    for name, attribute in (
        ("PySide6", "__version__"),
        ("sqlcipher3", "sqlite_version"),
        ("lxml", "__version__"),
    ):
        try:
            module = __import__(name)
            lines.append(f"{name} {getattr(module, attribute, '?')}")
        except ImportError:
            lines.append(f"{name} absent")
    return "\n".join(lines) + "\n"


def configuration(settings: Settings) -> str:
    config = settings.config
    lines = []
    for name, key in KEYS.items():
        value = config.get(name)
        lines.append(
            f"{name} = {value if value is not None else '(non défini)'}  [{config.source(name).value}]"
        )
        _ = key
    return "\n".join(lines) + "\n"


def store_state(store: LocalStore) -> tuple[str, str]:
    counts = store.queue.counts()
    lists, documents, size = store.cache.usage()
    state = (
        f"Base : schéma v{store.db.schema_version}\n"
        + "".join(f"File, {state} : {n}\n" for state, n in counts.items())
        + f"Cache : {lists} liste(s), {documents} document(s), {size} octets\n"
    )
    queue = "n°;état;mode;code;tentatives;incertain;taille\n" + "".join(
        f"{e.id};{e.state};{e.mode};{e.reason_code or ''};{e.attempts};{int(e.uncertain)};{e.size}\n"
        for e in store.queue.entries()
    )
    return state, queue


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    parts = {"versions.txt": versions(), "configuration.txt": configuration(settings)}
    try:
        with LocalStore.open(settings.store) as store:
            parts["base.txt"], parts["file-d-envoi.csv"] = store_state(store)
            journal = io.StringIO()
            store.journal.export(journal, "csv")
            parts["journal.csv"] = journal.getvalue()
    except StoreError as error:
        parts["base.txt"] = f"Base locale non ouverte : {error.user_message} [{error.code}]\n"
    try:
        with zipfile.ZipFile(args.sortie, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in parts.items():
                bundle.writestr(name, redact(text))
    except OSError as error:
        raise OutputFileError(
            f"Le paquet de diagnostic ne peut pas être écrit : {args.sortie} ({error.strerror})."
        ) from None
    print(f"Paquet de diagnostic écrit : {args.sortie} ({', '.join(parts)}), sans données patient.", file=out)
    return 0
