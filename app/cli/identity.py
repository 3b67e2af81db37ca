"""``dmp identite statut|valider``: the patient identity's status on this workstation (RNIV) and the
identity document check; and the French display of the strict traits shared with ``dmp insi``.

The traits and the INS are printed to the command's output only (the user asked for them); nothing
is logged. The flows themselves are in app/services/qualification.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from app.cli.dmp import ins_of
from app.config.settings import Settings
from app.errors import UsageError
from app.ins import IdentityTraits, Ins, InsError
from app.services.identity import DocumentType, IdentityLifecycle
from app.services.training import sandbox_patient
from app.store.identities import IdentityEvent
from app.store.local_store import LocalStore

# --document: short names for the RNIV's documents of high trust (app.services.identity.DocumentType)
DOCUMENTS = {
    "CNI": DocumentType.CNI,
    "passeport": DocumentType.PASSEPORT,
    "titre-sejour": DocumentType.TITRE_SEJOUR,
    "livret-famille": DocumentType.LIVRET_FAMILLE,
    "acte-naissance": DocumentType.ACTE_NAISSANCE,
}

_STEPS = {
    "INSI": "réponse INSi",
    "INSI-DISCORDANCE": "réponse INSi discordante",
    "PIECE": "pièce d'identité vérifiée",
    "TRAITS": "traits modifiés",
}


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    identity = subparsers.add_parser("identite", help="statut de l'identité du patient (RNIV) sur ce poste")
    commands = identity.add_subparsers(dest="identite_command", required=True, metavar="COMMANDE")

    status = commands.add_parser(
        "statut",
        help="statut de l'identité (provisoire, récupérée, validée, qualifiée), traits stricts, historique",
    )
    _patient_options(status)
    status.set_defaults(handler=run_status)

    check = commands.add_parser(
        "valider",
        help="enregistrer la pièce d'identité vérifiée (validée, ou qualifiée après INSi)",
        description=(
            "Enregistre qu'une pièce d'identité de haut niveau de confiance a été vérifiée face au "
            "patient : l'identité devient validée, ou qualifiée si INSi l'a déjà confirmée. Les traits "
            "sont ceux enregistrés sur ce poste (réponse INSi) ; pour une identité inconnue ici, "
            "donnez-les (--nom, --prenoms, --sexe, --naissance, --lieu)."
        ),
    )
    _patient_options(check)
    check.add_argument(
        "--document", required=True, choices=sorted(DOCUMENTS), help="la pièce d'identité vérifiée"
    )
    check.add_argument(
        "--par", required=True, help="qui a vérifié la pièce (nom du professionnel ou de l'agent)"
    )
    traits_options(check, required=False)
    check.set_defaults(handler=run_validate)


def _patient_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ins", help="matricule INS du patient (15 caractères)")
    parser.add_argument("--oid", help="OID de l'INS (défaut dans le bac à sable : INS de test .10)")
    parser.add_argument("--patient", help="patient du bac à sable (P01…P07)")


def traits_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The INS traits as typed: birth name, birth first names, sex, birth date, birthplace."""
    parser.add_argument("--nom", required=required, help="nom de naissance")
    parser.add_argument(
        "--prenom",
        "--prenoms",
        dest="prenoms",
        required=required,
        help="prénoms de naissance, le premier d'abord, séparés par des espaces",
    )
    parser.add_argument("--sexe", required=required, choices=("M", "F"), help="sexe (M ou F)")
    parser.add_argument("--naissance", required=required, help="date de naissance JJ/MM/AAAA (00 si inconnu)")
    parser.add_argument("--lieu", help="code INSEE du lieu de naissance (5 caractères ; 99xxx à l'étranger)")


def traits_of(args: argparse.Namespace) -> IdentityTraits | None:
    given = (args.nom, args.prenoms, args.sexe, args.naissance)
    if not any(given) and not args.lieu:
        return None
    if not all(given):
        raise UsageError(
            "Indiquez tous les traits : --nom, --prenoms, --sexe, --naissance (et --lieu si connu)."
        )
    return IdentityTraits.parse(args.nom, args.prenoms, args.sexe, args.naissance, args.lieu)


def patient_ins(args: argparse.Namespace, settings: Settings) -> Ins:
    if args.patient:
        if args.ins:
            raise UsageError("--patient ne se combine pas avec --ins.")
        if not settings.is_sandbox:
            raise UsageError("--patient n'existe que dans le bac à sable.")
        found = sandbox_patient(args.patient)
        if found is None:
            raise UsageError(f"Patient du bac à sable inconnu : {args.patient}.")
        return found.ins
    if not args.ins:
        raise UsageError("Indiquez l'INS du patient (--ins) ou, dans le bac à sable, --patient.")
    return ins_of(args, settings)


@contextmanager
def lifecycle(settings: Settings) -> Iterator[IdentityLifecycle]:
    """The identity lifecycle over the local encrypted base (opened for the command)."""
    with LocalStore.open(settings.store) as store:
        yield IdentityLifecycle(store.db)


# -- display -------------------------------------------------------------------------------------


def french_date(lunar: str) -> str:
    """AAAA-MM-JJ (00 kept) → JJ/MM/AAAA."""
    year, month, day = [*lunar.split("-"), "00", "00"][:3]
    return f"{day}/{month}/{year}"


def _ins_label(matricule: str, oid: str) -> str:
    try:
        ins = Ins.parse(matricule, oid)
    except InsError:  # shown as received when it does not parse (never the case for a stored one)
        return f"{matricule} (OID {oid})"
    return f"{ins.matricule.grouped()} — OID {oid} ({ins.oid.label})"


def print_strict(strict: object, out: TextIO) -> None:
    """The strict traits (INSi's when INSi answered), the INS and its history, the used names."""
    from app.services.qualification import StrictTraits

    assert isinstance(strict, StrictTraits)
    source = "téléservice INSi" if strict.from_insi else "saisis ou reçus, non confirmés par INSi"
    print(f"Traits stricts ({source}) :", file=out)
    rows = (
        ("Nom de naissance", strict.birth_name),
        ("Premier prénom de naissance", strict.first_name),
        ("Prénoms de naissance", strict.first_names),
        ("Date de naissance", french_date(strict.birth_date)),
        ("Sexe", strict.sex),
        ("Lieu de naissance (code INSEE)", strict.birth_place or "non renseigné"),
        ("Matricule INS", _ins_label(strict.matricule, strict.oid)),
    )
    for label, value in rows:
        print(f"  {label:<31}: {value}", file=out)
    used = (strict.used_name or "non renseigné", strict.used_first_name or "non renseigné")
    print(f"  {'Nom / prénom utilisés':<31}: {used[0]} / {used[1]} (à côté des traits stricts)", file=out)
    if strict.history:
        print("Historique INS (INSHISTO) :", file=out)
        for entry in strict.history:
            dates = f" (du {entry.start or '?'} au {entry.end or '?'})" if entry.start or entry.end else ""
            print(
                f"  ancien INS {_ins_label(entry.ins.matricule.value, entry.ins.oid.value)}{dates}", file=out
            )
    else:
        print("Historique INS (INSHISTO) : aucun ancien INS", file=out)


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).astimezone().strftime("%d/%m/%Y %H:%M")


def print_events(events: tuple[IdentityEvent, ...], out: TextIO) -> None:
    if not events:
        return
    print("Historique du statut sur ce poste :", file=out)
    for event in events:
        step = _STEPS.get(str(event.how.get("etape")), str(event.how.get("etape", "?")))
        extra = f" — {event.reason}" if event.reason else ""
        print(f"  {_when(event.at)}  {event.status.value:<11} {step}, par {event.set_by}{extra}", file=out)


# -- commands ------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.services.qualification import identity_view

    settings = Settings.load()
    ins = patient_ins(args, settings)
    with lifecycle(settings) as life:
        view = identity_view(life, ins)
    if not view.known:
        print(
            f"Identité INS {ins.matricule.grouped()} ({ins.oid.label}) inconnue sur ce poste : provisoire.",
            file=out,
        )
    else:
        assert view.strict is not None
        print_strict(view.strict, out)
        if view.document:
            print(f"Pièce d'identité : {view.document}", file=out)
        print_events(view.events, out)
    print_status(view.status.value, view.missing, view.reason, out)
    return 0


def print_status(status: str, missing: str | None, reason: str | None, out: TextIO) -> None:
    print(f"Statut de l'identité : {status}", file=out)
    if reason:
        print(f"  dernier retour en arrière : {reason}", file=out)
    if missing:
        print(f"  Pour la qualifier : {missing}. Seule une identité qualifiée alimente le DMP.", file=out)
    else:
        print("  Identité qualifiée : elle peut alimenter le DMP.", file=out)


def run_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.services.qualification import check_document

    settings = Settings.load()
    ins = patient_ins(args, settings)
    traits = traits_of(args)
    if not args.par.strip():
        raise UsageError("Indiquez qui a vérifié la pièce d'identité (--par).")
    with lifecycle(settings) as life:
        view = check_document(life, ins, DOCUMENTS[args.document], args.par.strip(), traits)
    print(
        f"Pièce d'identité enregistrée : {DOCUMENTS[args.document].value}, vérifiée par {args.par.strip()}.",
        file=out,
    )
    if view.strict is not None:
        print_strict(view.strict, out)
    print_status(view.status.value, view.missing, view.reason, out)
    return 0
