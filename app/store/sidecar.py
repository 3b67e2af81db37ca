"""The hot folder's sidecar ``<document>.dmp.json``: its keys, its check, and the French texts of
every ``DEPOT-*`` code the hot folder writes into ``erreurs/<name>.erreur.txt``.

``check_sidecar`` turns a sidecar into the upload request it describes, or into every problem found
in it (not only the first one), each a stable code with a French message free of patient data.
Format: docs/hot-folder.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from app.dmp_client.core.cda import Author
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.valuesets import Concept, value_sets
from app.errors import USER_FACING_ERRORS, DmpClientError
from app.ins import BirthDate, IdentityTraits, Ins, parse_birth_place
from app.ins.traits import parse_sex
from app.store.request import SendMode, UploadRequest

MEDIA = {".pdf": "application/pdf", ".txt": "text/plain", ".rtf": "text/rtf", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}  # fmt: skip
MAX_SIDECAR = 64 * 1024
# The birth place is an INS trait the CDA must carry: required.
REQUIRED = ("ins", "oid", "nom", "prenoms", "sexe", "naissance", "lieu", "type", "titre")
OPTIONAL = ("auteur", "date_acte", "remplace")
FLAGS = {
    "masque_ps": Visibility.MASKED_FROM_PS,
    "invisible_patient": Visibility.INVISIBLE_TO_PATIENT,
    "invisible_representants": Visibility.INVISIBLE_TO_REPRESENTATIVES,
}
KEYS = (*REQUIRED, *OPTIONAL, *FLAGS)
_AUTHOR = re.compile(r"(\s*[^|\s][^|]*\|){3}G15_\w+(/\w+)?")

Problem = tuple[str, str]  # (stable code, French message)

MESSAGES = {
    "DEPOT-FORMAT": "Format de document non pris en charge : PDF, texte, RTF, JPEG ou TIFF attendu.",
    "DEPOT-JSON": "Le fichier d'accompagnement n'est pas un objet JSON lisible en UTF-8 (ou trop gros).",
    "DEPOT-CLE-INCONNUE": "Clé inconnue « {key} » (faute de frappe ?). Clés possibles : {keys}.",
    "DEPOT-CLE-MANQUANTE": "La clé « {key} » est obligatoire.",
    "DEPOT-VALEUR": "« {key} » doit être {what}.",
    "DEPOT-TITRE": "Le titre du document (« titre ») est vide.",
    "DEPOT-AUTEUR": "« auteur » doit avoir la forme IdNat|Prénom|NOM|G15_xx/SMyy{detail}.",
    "DEPOT-DATE": "« date_acte » doit être une date AAAA-MM-JJ qui existe et n'est pas dans le futur.",
    "DEPOT-VIDE": "Le document est vide (0 octet).",
    "DEPOT-ORPHELIN": "Le {what} correspondant est absent : la paire est incomplète.",
    "DEPOT-ANNULE": "L'envoi de ce document a été annulé dans la file d'envoi : rien n'a été envoyé au DMP.",
    "DEPOT-ENTREE-INCONNUE": "Ce document ne correspond à aucune entrée de la file d'envoi (base locale "
    "remplacée ?) : il n'a peut-être pas été envoyé.",
}
ADVICE = {
    "DEPOT-ACCOMPAGNEMENT": "Corrigez le fichier d'accompagnement « {name}.dmp.json » (ou le document), "
    "puis déposez à nouveau les deux fichiers ensemble dans le dossier de dépôt.",
    "DEPOT-ORPHELIN": "Déposez ensemble le document et son fichier d'accompagnement, nommé comme le "
    "document suivi de « .dmp.json » (par exemple « cr-123.pdf » et « cr-123.pdf.dmp.json »).",
    "DEPOT-ANNULE": "Pour l'envoyer quand même, redéposez-le avec un fichier d'accompagnement modifié : "
    "une paire redéposée à l'identique est reconnue comme déjà traitée.",
    "DEPOT-ENTREE-INCONNUE": "Vérifiez dans le DMP du patient si ce document y figure ; sinon, redéposez "
    "la paire dans le dossier de dépôt.",
}


def problem(code: str, **values: str) -> Problem:
    """The problem ``code`` with its French message (``values`` fill its blanks)."""
    return code, MESSAGES[code].format(keys=", ".join(KEYS), **values)


def check_sidecar(
    name: str,
    sidecar: bytes,
    *,
    mode: SendMode,
    professional: str | None,
    structure_id: str,
    structure_name: str,
) -> tuple[UploadRequest | None, list[Problem]]:
    """The upload request that the sidecar of document ``name`` describes, or every problem found in
    it (in French). An author given in the sidecar works for the structure named here."""
    media = MEDIA.get(Path(name).suffix.lower())
    problems = [] if media else [problem("DEPOT-FORMAT")]
    try:
        data = json.loads(sidecar.decode("utf-8-sig")) if len(sidecar) <= MAX_SIDECAR else None
    except ValueError:  # UnicodeDecodeError included
        data = None
    if not isinstance(data, dict):
        return None, [*problems, problem("DEPOT-JSON")]
    problems += [problem("DEPOT-CLE-INCONNUE", key=k[:40]) for k in sorted(set(data) - set(KEYS))]
    problems += [problem("DEPOT-CLE-MANQUANTE", key=k) for k in REQUIRED if data.get(k) is None]
    for key, value in data.items():
        kind, what = (bool, "true ou false") if key in FLAGS else (str, "une chaîne de caractères")
        if key in KEYS and value is not None and not isinstance(value, kind):
            problems.append(problem("DEPOT-VALEUR", key=key, what=what))
    text = {k: v for k, v in data.items() if k in KEYS and isinstance(v, str)}
    parsers: dict[str, Callable[[str], Any]] = {
        "nom": lambda v: IdentityTraits.parse(v, "A", "F", "2000"),  # each trait on its own, so
        "prenoms": lambda v: IdentityTraits.parse("A", v, "F", "2000"),  # that all are reported
        "sexe": parse_sex,
        "naissance": BirthDate.parse,
        "lieu": parse_birth_place,
        "type": _document_type,
        "titre": lambda v: v.strip() or _refuse("DEPOT-TITRE"),
        "auteur": lambda v: _author(v, structure_id, structure_name),
        "date_acte": _act_date,
        "remplace": lambda v: v.strip() or _refuse("DEPOT-VALEUR", key="remplace", what="un uniqueId"),
    }
    value = {
        key: _check(problems, parse, text[key], code="DEPOT-TYPE" if key == "type" else None)
        for key, parse in parsers.items()
        if key in text
    }
    ins = _check(problems, Ins.parse, text["ins"], text["oid"]) if {"ins", "oid"} <= set(text) else None
    if problems or media is None or ins is None:
        return None, problems
    traits = _check(problems, IdentityTraits.parse, text["nom"], text["prenoms"], text["sexe"],
                    text["naissance"], text.get("lieu") or None)  # fmt: skip
    if traits is None:
        return None, problems
    visibility = frozenset(flag for key, flag in FLAGS.items() if data.get(key) is True)
    return UploadRequest(
        ins, traits, media, text["type"], value["titre"], mode, professional,
        service_start=value.get("date_acte"), visibility=visibility, author=value.get("auteur"),
        replaces=value.get("remplace"),
    ), problems  # fmt: skip


def _refuse(code: str, **values: str) -> NoReturn:
    raise DmpClientError(problem(code, **values)[1], code=code)


def _check(problems: list[Problem], parse: Callable[..., Any], *args: Any, code: str | None = None) -> Any:
    """``parse(*args)``, or None with its user-facing error (under ``code`` if given) in the problems."""
    try:
        return parse(*args)
    except USER_FACING_ERRORS as error:
        problems.append((code or str(getattr(error, "code", "")), str(getattr(error, "user_message", ""))))
        return None


def _document_type(code: str) -> Concept:
    return value_sets().class_code(value_sets().type_code(code))  # the class is needed to send it


def _act_date(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        day = None
    if day is None or day > dt.date.today():
        _refuse("DEPOT-DATE")
    return dt.datetime.combine(day, dt.time()).astimezone()


def _author(text: str, structure_id: str, structure_name: str) -> Author:
    if not _AUTHOR.fullmatch(text):
        _refuse("DEPOT-AUTEUR", detail=" (ex. 899900012342|PAUL|CARDIOLOGUE|G15_10/SM04)")
    from app.dmp_client.factory import parse_author  # deferred: the factory pulls the card and TLS stacks

    try:
        author = parse_author(text, structure_id, structure_name)
    except DmpClientError as error:  # e.g. a profession unknown to JDV_J01
        _refuse("DEPOT-AUTEUR", detail=f" : {error.user_message}")
    return author or _refuse("DEPOT-AUTEUR", detail="")
