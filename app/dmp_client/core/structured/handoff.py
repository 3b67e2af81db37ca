"""The hand-off JSON (docs/structured-documents.md) parsed into the typed model.

Parsed strictly and bounded: at most :data:`MAX_BYTES` of UTF-8 JSON, :data:`MAX_ITEMS` items per
list, :data:`MAX_TEXT` characters per text; unknown keys refused (a typo must not silently drop a
pathology); codes checked for shape (CIM-10, ATC, CIS, UCD, EDQM) and against the CI-SIS value sets
the content-model schematrons check (vaccination route, site and act code; allergy status; author
specialty JDV_J01). Every refusal is a :class:`StructuredHandoffInvalid` naming the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from app.dmp_client.core.cda import Author, Organization, Person
from app.dmp_client.core.errors import StructuredHandoffInvalid
from app.dmp_client.core.structured import model as m
from app.dmp_client.core.valuesets import read_svs, resources_dir, value_sets
from app.ins import IdentityTraits, Ins, InsError

MAX_BYTES = 1_000_000
MAX_ITEMS = 500
MAX_TEXT = 2_000

_CIM10 = re.compile(r"[A-Z][0-9]{2}(\.?[0-9A-Z+]{1,4})?")
_ATC = re.compile(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")
_CIS = re.compile(r"[0-9]{8}")
_UCD = re.compile(r"[0-9]{7}|[0-9]{13}")
_EDQM = re.compile(r"[0-9]{8}")
_ID = re.compile(r"[0-9A-Za-z/.\-]{1,64}")
# Characters XML 1.0 cannot carry (C0 controls but tab, LF and CR; surrogates; U+FFFE, U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHAPES = {"CIS": _CIS, "ATC": _ATC, "UCD": _UCD}

T = TypeVar("T")


@functools.cache
def value_set(name: str) -> dict[str, m.Code]:
    """A CI-SIS value set the content-model schematrons read (resources/spec/valuesets/jdv-ansforge/)."""
    path = resources_dir() / "spec" / "valuesets" / "jdv-ansforge" / name
    return {c.code: m.Code(c.code, c.code_system, c.display_name) for c in read_svs(path)}


def _fail(where: str, problem: str) -> StructuredHandoffInvalid:
    return StructuredHandoffInvalid(f"Données du logiciel métier refusées : « {where} » {problem}.")


class _Reader:
    """One JSON object, read key by key; what is left unread at the end is refused."""

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, dict):
            raise _fail(where, "doit être un objet JSON")
        self._raw: dict[str, Any] = raw
        self._where = where
        self._seen: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def _get(self, key: str) -> Any:
        self._seen.add(key)
        return self._raw.get(key)

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self._get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise _fail(self.at(key), "est obligatoire")
            return None
        if not isinstance(value, str):
            raise _fail(self.at(key), "doit être un texte")
        if len(value) > MAX_TEXT or _NOT_XML.search(value):
            raise _fail(
                self.at(key),
                f"est trop long (plus de {MAX_TEXT} caractères) ou contient des caractères de contrôle",
            )
        return " ".join(value.split())

    def required(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def shaped(self, key: str, shape: re.Pattern[str], what: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not shape.fullmatch(value):
            raise _fail(self.at(key), f"n'est pas un code {what} valide ({value})")
        return value

    def day(self, key: str, *, required: bool = False) -> dt.date | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            raise _fail(self.at(key), "doit être une date AAAA-MM-JJ") from None

    def moment(self, key: str) -> dt.datetime | None:
        value = self.text(key, required=False)
        if value is None:
            return None
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _fail(
                self.at(key), "doit être une date et heure ISO 8601 (AAAA-MM-JJTHH:MM:SS+01:00)"
            ) from None
        if moment.tzinfo is None:
            raise _fail(self.at(key), "doit indiquer son fuseau horaire (+01:00)")
        return moment

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(self.at(key), f"doit être un entier de {low} à {high}")
        return value

    def child(self, key: str, *, required: bool = True) -> _Reader | None:
        value = self._get(key)
        if value is None:
            if required:
                raise _fail(self.at(key), "est obligatoire")
            return None
        return _Reader(value, self.at(key))

    def items(self, key: str, read: Callable[[_Reader], T]) -> tuple[T, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise _fail(self.at(key), "doit être une liste")
        if len(value) > MAX_ITEMS:
            raise _fail(self.at(key), f"a plus de {MAX_ITEMS} éléments")
        return tuple(read(_Reader(item, f"{self.at(key)}[{index}]")) for index, item in enumerate(value, 1))

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise _fail(self.at(key), f"doit être une liste d'au plus {MAX_ITEMS} textes")
        found = []
        for index, item in enumerate(value, 1):
            found.append(_Reader({"texte": item}, f"{self.at(key)}[{index}]").required("texte"))
        return tuple(found)

    def done(self) -> None:
        unknown = sorted(set(self._raw) - self._seen)
        if unknown:
            raise _fail(self.at(unknown[0]), "n'est pas une rubrique connue (faute de frappe ?)")


def _load(data: bytes) -> _Reader:
    if len(data) > MAX_BYTES:
        raise StructuredHandoffInvalid(
            f"Données du logiciel métier refusées : plus de {MAX_BYTES // 1000} ko."
        )
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StructuredHandoffInvalid(
            "Données du logiciel métier refusées : ce n'est pas un fichier JSON lisible (UTF-8)."
        ) from None
    return _Reader(raw, "")


def _patient(r: _Reader) -> m.HandoffPatient:
    ins = r.child("ins")
    traits = r.child("traits")
    assert ins is not None and traits is not None
    try:
        found = m.HandoffPatient(
            Ins.parse(ins.required("matricule"), ins.required("oid")),
            IdentityTraits.parse(
                traits.required("nom_naissance"),
                traits.required("prenoms"),
                traits.required("sexe"),
                traits.required("naissance"),
                traits.text("lieu", required=False),
            ),
        )
    except InsError as error:
        raise _fail(r.at("ins/traits"), f"est invalide : {error.user_message}") from None
    ins.done()
    traits.done()
    r.done()
    return found


def _organization(r: _Reader) -> Organization:
    found = Organization(r.shaped("identifiant", _ID, "d'identifiant de structure") or "", r.required("nom"))
    r.done()
    return found


def _author(r: _Reader) -> Author:
    specialty = r.required("specialite")
    concept = value_sets().author_specialties.get(specialty)
    if concept is None:
        raise _fail(r.at("specialite"), f"n'est pas dans le jeu de valeurs JDV_J01 ({specialty})")
    person = Person(
        r.shaped("identifiant", _ID, "d'identifiant national") or "", r.required("prenom"), r.required("nom")
    )
    structure = r.child("structure")
    assert structure is not None
    found = Author(person, concept, _organization(structure))
    r.done()
    return found


def _common(r: _Reader) -> tuple[Author, Organization, m.HandoffPatient | None, dt.datetime | None]:
    author_reader = r.child("auteur")
    assert author_reader is not None
    author = _author(author_reader)
    custodian_reader = r.child("structure_responsable", required=False)
    custodian = _organization(custodian_reader) if custodian_reader else author.organization
    patient_reader = r.child("patient", required=False)
    patient = _patient(patient_reader) if patient_reader else None
    return author, custodian, patient, r.moment("date")


def _medicine(r: _Reader, key: str) -> m.Code | None:
    coded = r.child(key, required=False)
    if coded is None:
        return None
    system = coded.required("systeme").upper()
    if system not in m.MEDICINE_SYSTEMS:
        raise _fail(coded.at("systeme"), "doit être CIS, ATC ou UCD")
    code = coded.shaped("code", _SHAPES[system], system) or ""
    found = m.Code(code, m.MEDICINE_SYSTEMS[system], coded.text("libelle", required=False) or "")
    coded.done()
    return found


def _condition(r: _Reader) -> m.Condition:
    label = r.required("libelle")
    code = r.shaped("cim10", _CIM10, "CIM-10", required=False)
    official = r.text("cim10_libelle", required=False)  # the code's CIM-10 label (displayName)
    start, end = r.day("debut"), r.day("fin")
    if start and end and end < start:
        raise _fail(r.at("fin"), "précède la date de début")
    r.done()
    return m.Condition(label, m.Code(code, m.CIM10, official or label) if code else None, start, end)


def _allergy(r: _Reader) -> m.Allergy:
    status = r.text("statut", required=False) or "active"
    if status not in value_set("JDV_HL7_allergyintolerance_clinical_CISIS.xml"):
        raise _fail(
            r.at("statut"), "doit être active, inactive ou resolved (JDV_HL7_allergyintolerance_clinical)"
        )
    found = m.Allergy(
        r.required("agent"), _medicine(r, "code"), r.text("reaction", required=False), status, r.day("debut")
    )
    r.done()
    return found


def _result(r: _Reader) -> m.Result:
    found = m.Result(r.required("examen"), r.required("resultat"), r.day("date"))
    r.done()
    return found


def _route(r: _Reader) -> m.Code | None:
    route = r.child("voie", required=False)
    if route is None:
        return None
    found = m.Code(route.shaped("code", _EDQM, "EDQM") or "", m.EDQM, route.required("libelle"))
    route.done()
    return found


def _treatment(r: _Reader) -> m.Treatment:
    start, end = r.day("debut"), r.day("fin")
    if start and end and end < start:
        raise _fail(r.at("fin"), "précède la date de début")
    found = m.Treatment(
        r.required("medicament"),
        _medicine(r, "code"),
        r.text("posologie", required=False),
        _route(r),
        start,
        end,
    )
    r.done()
    return found


def parse_summary(data: bytes) -> m.SummaryHandoff:
    """The VSM hand-off (``dmp send --vsm synthese.json``)."""
    r = _load(data)
    author, custodian, patient, created = _common(r)
    summary = m.SummaryHandoff(
        author=author,
        custodian=custodian,
        patient=patient,
        created=created,
        pathologies=r.items("pathologies", _condition),
        antecedents=r.items("antecedents", _condition),
        allergies=r.items("allergies", _allergy),
        risk_factors=r.texts("facteurs_de_risque"),
        results=r.items("resultats", _result),
        treatments=r.items("traitements", _treatment),
    )
    r.done()
    return summary


def _in_set(r: _Reader, key: str, name: str, what: str, default: str | None = None) -> m.Code | None:
    code = r.text(key, required=False) or default
    if code is None:
        return None
    table = value_set(name)
    if code not in table:
        raise _fail(r.at(key), f"n'est pas dans le jeu de valeurs {what} ({', '.join(sorted(table))})")
    return table[code]


def _vaccination(r: _Reader) -> m.Vaccination:
    vaccine = r.child("vaccin")
    assert vaccine is not None
    cis = vaccine.shaped("cis", _CIS, "CIS") or ""
    label = vaccine.required("libelle")
    atc = vaccine.shaped("atc", _ATC, "ATC") or ""
    atc_label = vaccine.required("atc_libelle")  # the volet requires the ATC displayName
    vaccine.done()
    date = r.day("date", required=True)
    assert date is not None
    kind = _in_set(
        r,
        "type",
        "JDV_HL7_ActSubstanceAdministrationImmunizationCode_CISIS.xml",
        "JDV_HL7_ActSubstanceAdministrationImmunizationCode",
        "IMMUNIZ",
    )
    assert kind is not None
    found = m.Vaccination(
        date=date,
        vaccine_cis=m.Code(cis, m.CIS, label),
        vaccine_atc=m.Code(atc, m.ATC, atc_label),
        lot=r.required("lot"),
        kind=kind,
        rank=r.integer("rang", 1, 99),
        route=_in_set(r, "voie", "JDV_ImmunizationRouteCodes_CISIS.xml", "JDV_ImmunizationRouteCodes"),
        site=_in_set(
            r, "site", "JDV_ImmunizationApproachSiteCode_CISIS.xml", "JDV_ImmunizationApproachSiteCode"
        ),
        comment=r.text("commentaire", required=False),
    )
    r.done()
    return found


def parse_vaccinations(data: bytes) -> m.VaccinationHandoff:
    """The vaccination hand-off (``dmp send --vaccination notes.json``): one note per vaccination."""
    r = _load(data)
    author, custodian, patient, created = _common(r)
    vaccinations = r.items("vaccinations", _vaccination)
    if not vaccinations:
        raise _fail("vaccinations", "doit contenir au moins une vaccination")
    r.done()
    return m.VaccinationHandoff(author, custodian, vaccinations, patient, created)
