"""The sandbox INSi referential: fictitious persons and the documented search rules.

Sources of the rules (docs/sandbox.md, section INSi, and ins-and-cards.md §2.4–2.5): a search by traits
uses the birth name, the birth first name(s), the sex, the birth date and, optionally, the birthplace
(INSEE COG code); CR 00 = one identity, 01 = none, 02 = several (retry adding the other first names,
then the birthplace). How the real teleservice compares names (accents, hyphens, which first names)
is not public: every such choice is a field of :class:`MatchRules` marked [UNSURE].
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from sandbox.patients import SandboxPatient, load_patients

TEST_INS_OID = "1.2.250.1.213.1.4.10"
FIRST_NAME_RULES = ("first_then_any", "exact_list", "any")


@dataclass(frozen=True)
class Ins:
    matricule: str  # 15 characters: NIR or NIA (13) + key (2)
    oid: str

    @property
    def number(self) -> str:
        return self.matricule[:13]

    @property
    def key(self) -> str:
        return self.matricule[13:]


@dataclass(frozen=True)
class Traits:
    birth_name: str
    first_names: str  # the whole list of birth first names, space-separated (as INSi returns it)
    sex: str
    birth_date: str  # AAAA-MM-JJ, lunar dates (00) kept
    birth_place: str | None  # INSEE COG code


@dataclass(frozen=True)
class Person:
    id: str
    ins: Ins
    traits: Traits
    history: tuple[Ins, ...] = ()
    previous_traits: Traits | None = None  # traits the referential no longer knows
    patient: SandboxPatient | None = None  # the sandbox patient (and its virtual Vitale record)


@dataclass
class MatchRules:
    """How the sandbox compares a query with the referential. [UNSURE] all of it: not public."""

    # Upper case, accents removed, hyphens and apostrophes as spaces, spaces collapsed.
    normalise: bool = True
    # first_then_any: the first first name given is the person's first birth first name and every
    # other one given is among the person's; exact_list: the lists are equal; any: one in common.
    first_names: str = "first_then_any"
    # The birthplace narrows the search only when given (documented); an unknown COG gives 01.
    birth_place_when_given: bool = True
    # Vitale search: RangNaissance, when given, is compared with the card record's rank.
    vitale_rank: bool = True


def normalise(value: str, rules: MatchRules) -> str:
    if not rules.normalise:
        return value.strip()
    decomposed = unicodedata.normalize("NFD", value.upper())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[-'’]", " ", stripped).split())


def _first_names_match(query: list[str], person: str, rules: MatchRules) -> bool:
    wanted = normalise(" ".join(query), rules).split()
    known = normalise(person, rules).split()
    if not wanted:
        return False
    if rules.first_names == "exact_list":
        return wanted == known
    if rules.first_names == "any":
        return any(name in known for name in wanted)
    return wanted[0] == known[0] and all(name in known for name in wanted)


@dataclass(frozen=True)
class TraitsQuery:
    birth_name: str
    first_names: list[str]
    sex: str
    birth_date: str
    birth_place: str | None = None


def traits_match(query: TraitsQuery, traits: Traits, rules: MatchRules) -> bool:
    if normalise(query.birth_name, rules) != normalise(traits.birth_name, rules):
        return False
    if query.sex != traits.sex or query.birth_date != traits.birth_date:
        return False
    if query.birth_place and rules.birth_place_when_given and query.birth_place != traits.birth_place:
        return False
    return _first_names_match(query.first_names, traits.first_names, rules)


@dataclass(frozen=True)
class VitaleQuery:
    """What the sandbox's virtual Vitale card gives (stands in for the SESAM-Vitale assertion)."""

    opening_nir: str | None  # MatriculeOD: the card holder's ("ouvrant droit") NIR, 15 characters
    own_nir: str | None  # MatriculeIndividu: the beneficiary's own NIR when on the card
    birth_name: str | None
    birth_date: str | None  # AAMMJJ as on the card, AAAAMMJJ or AAAA-MM-JJ
    rank: str | None


def _vitale_date_match(given: str, patient: SandboxPatient) -> bool:
    digits = given.replace("-", "")
    if len(digits) == 6:
        return digits == patient.vitale.birth_date
    if len(digits) == 8:
        return digits == patient.birth_date.replace("-", "")
    return False


@dataclass
class Referential:
    persons: list[Person]
    rules: MatchRules = field(default_factory=MatchRules)

    def search_traits(self, query: TraitsQuery) -> list[Person]:
        return [p for p in self.persons if traits_match(query, p.traits, self.rules)]

    def search_vitale(self, query: VitaleQuery) -> list[Person]:
        """The beneficiaries of the card that the query designates (matched against the card data)."""
        found = []
        for person in self.persons:
            patient = person.patient
            if patient is None:
                continue
            vitale = patient.vitale
            holder = vitale.opening_nir or vitale.nir_own or patient.matricule
            if query.opening_nir and query.opening_nir != holder:
                continue
            if query.own_nir and query.own_nir != (vitale.nir_own or ""):
                continue
            if not (query.opening_nir or query.own_nir):
                continue
            if query.birth_date and not _vitale_date_match(query.birth_date, patient):
                continue
            if query.birth_name and normalise(query.birth_name, self.rules) != normalise(
                patient.birth_name, self.rules
            ):
                continue
            if query.rank and self.rules.vitale_rank and query.rank.strip() != str(vitale.rank):
                continue
            found.append(person)
        return found


def _traits(raw: dict[str, Any], base: Traits | None = None) -> Traits:
    if base is not None:
        return replace(base, **{k: v for k, v in raw.items() if k in Traits.__dataclass_fields__})
    return Traits(
        raw["birth_name"], raw["first_names"], raw["sex"], raw["birth_date"], raw.get("birth_place")
    )


def load_referential(rules: MatchRules | None = None) -> Referential:
    """sandbox/data/insi.json, with the sandbox patients' traits and Vitale records."""
    text = resources.files("sandbox").joinpath("data/insi.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data["oid"] != TEST_INS_OID:
        raise ValueError("the INSi referential must use the test INS OID")
    patients = {p.id: p for p in load_patients()}
    persons = []
    for raw in data["persons"]:
        patient = patients[raw["patient"]] if "patient" in raw else None
        if patient is not None:
            base = Traits(
                patient.birth_name, patient.first_names, patient.sex, patient.birth_date, patient.birth_place
            )
            traits = _traits(raw.get("traits", {}), base)
            previous = _traits(raw["previous_traits"], base) if "previous_traits" in raw else None
            ins = Ins(patient.matricule, patient.oid)
        else:
            traits = _traits(raw["traits"])
            previous = None
            ins = Ins(raw["ins"]["matricule"], raw["ins"].get("oid", data["oid"]))
        history = tuple(Ins(h["matricule"], h.get("oid", data["oid"])) for h in raw.get("history", []))
        for entry in (ins, *history):
            if entry.oid != TEST_INS_OID:
                raise ValueError(f"INSi person {raw['id']} does not use the test INS OID")
        persons.append(Person(raw["id"], ins, traits, history, previous, patient))
    return Referential(persons, rules or MatchRules())
