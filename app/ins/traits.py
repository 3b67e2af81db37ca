"""INS identity traits and the normalisation used to compare them (ins-and-cards.md §2.4).

Traits: birth name, birth first names (the full list, space-separated; the first one is the
"premier prénom"), sex, birth date (possibly incomplete: unknown day or month written 00), and the
INSEE code of the birth place (commune, or 99 + country code). Comparison works on normalised text:
upper case, no accents, ligatures spelled out, typographic apostrophes and dashes unified, single
spaces, and only A–Z, space, hyphen and apostrophe allowed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from enum import StrEnum

from app.ins.errors import InsError, InsErrorCode
from app.ins.nir import Nir, Sex
from app.ins.text import squeeze_spaces, strip_diacritics

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u0060\u00b4\u2032", "'"))
_HYPHENS = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
_AROUND_PUNCT = re.compile(r" ?([-']) ?")
_ALLOWED_NAME = re.compile(r"[A-Z]+(?:[ '-]+[A-Z]+)*'?")
_BIRTH_PLACE = re.compile(r"(?:0[1-9]|[1-8]\d|9[0-9]|2A|2B)\d{3}")
MIN_BIRTH_YEAR = 1850
MAX_BIRTH_YEAR = 2200


class Trait(StrEnum):
    """The traits, named as the French user interface names them."""

    BIRTH_NAME = "nom de naissance"
    FIRST_NAMES = "prénoms de naissance"
    SEX = "sexe"
    BIRTH_DATE = "date de naissance"
    BIRTH_PLACE = "lieu de naissance"


def normalize_name(text: str) -> str:
    """The comparison form of a name: ``Lefèvre–d’Arc`` → ``LEFEVRE-D'ARC``."""
    text = strip_diacritics(text.translate(_APOSTROPHES).translate(_HYPHENS)).upper()
    return _AROUND_PUNCT.sub(r"\1", squeeze_spaces(text))


def _checked_name(text: str, what: str) -> str:
    normalized = normalize_name(text)
    if not _ALLOWED_NAME.fullmatch(normalized):
        raise InsError(
            InsErrorCode.TRAIT_NAME,
            f"{what} : seuls les lettres, l'espace, le tiret et l'apostrophe sont autorisés, "
            "et au moins une lettre est requise.",
        )
    return normalized


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A birth date whose day, or day and month, may be unknown (``None``; written 00)."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not MIN_BIRTH_YEAR <= self.year <= MAX_BIRTH_YEAR:
            raise _date_error("année hors limites")
        if self.month is None and self.day is not None:
            raise _date_error("un jour connu exige un mois connu")
        if self.month is not None and not 1 <= self.month <= 12:
            raise _date_error("mois invalide")
        if self.day is not None and self.month is not None and not 1 <= self.day <= _days_in(self):
            raise _date_error("ce jour n'existe pas dans ce mois")

    @classmethod
    def parse(cls, text: str) -> BirthDate:
        """Read ``AAAA-MM-JJ``, ``AAAAMMJJ``, ``JJ/MM/AAAA``, ``AAAA-MM`` or ``AAAA``; 00 = unknown."""
        text = text.strip()
        if re.fullmatch(r"\d{2}/\d{2}/\d{4}", text):
            day, month, year = text[0:2], text[3:5], text[6:10]
        elif m := re.fullmatch(r"(\d{4})-?(\d{2})?-?(\d{2})?", text):
            year, month, day = m.group(1), m.group(2) or "00", m.group(3) or "00"
            if m.group(3) and not m.group(2):
                raise _date_error("format attendu AAAA-MM-JJ, AAAAMMJJ ou JJ/MM/AAAA")
        else:
            raise _date_error("format attendu AAAA-MM-JJ, AAAAMMJJ ou JJ/MM/AAAA")
        return cls(int(year), _known(month), _known(day))

    @property
    def is_complete(self) -> bool:
        return self.day is not None

    def to_hl7(self) -> str:
        """HL7 TS with the precision that is known: ``AAAAMMJJ``, ``AAAAMM`` or ``AAAA``."""
        out = f"{self.year:04d}"
        if self.month is not None:
            out += f"{self.month:02d}"
            if self.day is not None:
                out += f"{self.day:02d}"
        return out

    def to_french(self) -> str:
        """``JJ/MM/AAAA`` with 00 for what is unknown."""
        return f"{self.day or 0:02d}/{self.month or 0:02d}/{self.year:04d}"


def _days_in(date: BirthDate) -> int:
    assert date.month is not None
    return calendar.monthrange(date.year, date.month)[1]


def _known(part: str) -> int | None:
    return None if part == "00" else int(part)


def _date_error(detail: str) -> InsError:
    return InsError(InsErrorCode.TRAIT_BIRTH_DATE, f"Date de naissance invalide : {detail}.")


def parse_birth_place(code: str) -> str:
    """Check an INSEE geographic code: département + commune (2A/2B for Corsica) or 99 + country."""
    code = code.strip().upper()
    if not _BIRTH_PLACE.fullmatch(code):
        raise InsError(
            InsErrorCode.TRAIT_BIRTH_PLACE,
            "Lieu de naissance invalide : code officiel géographique INSEE de 5 caractères attendu "
            "(commune, ou 99 suivi du code pays pour une naissance à l'étranger).",
        )
    return code


def parse_sex(text: str) -> Sex:
    try:
        return Sex(text.strip().upper())
    except ValueError:
        raise InsError(InsErrorCode.TRAIT_SEX, "Sexe invalide : M ou F attendu.") from None


@dataclass(frozen=True, slots=True)
class IdentityTraits:
    """The INS traits of one person, normalised on construction. Its repr shows no trait."""

    birth_name: str = field(repr=False)
    first_names: tuple[str, ...] = field(repr=False)
    sex: Sex = field(repr=False)
    birth_date: BirthDate = field(repr=False)
    birth_place: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        names = tuple(_checked_name(n, "Prénom") for n in self.first_names)
        if not names:
            raise InsError(InsErrorCode.TRAIT_NAME, "Au moins un prénom de naissance est requis.")
        object.__setattr__(self, "birth_name", _checked_name(self.birth_name, "Nom de naissance"))
        object.__setattr__(self, "first_names", names)
        if self.birth_place is not None:
            object.__setattr__(self, "birth_place", parse_birth_place(self.birth_place))

    @classmethod
    def parse(
        cls, birth_name: str, first_names: str, sex: str, birth_date: str, birth_place: str | None = None
    ) -> IdentityTraits:
        """Build traits from text as typed or received (first names space-separated)."""
        return cls(
            birth_name,
            tuple(squeeze_spaces(first_names).split(" ")) if first_names.strip() else (),
            parse_sex(sex),
            BirthDate.parse(birth_date),
            birth_place or None,
        )

    @property
    def first_name(self) -> str:
        """The first of the birth first names."""
        return self.first_names[0]

    def differences(self, other: IdentityTraits) -> tuple[Trait, ...]:
        """The traits that differ after normalisation (birth place only when both know it)."""
        found = []
        if self.birth_name != other.birth_name:
            found.append(Trait.BIRTH_NAME)
        if self.first_names != other.first_names:
            found.append(Trait.FIRST_NAMES)
        if self.sex != other.sex:
            found.append(Trait.SEX)
        if self.birth_date != other.birth_date:
            found.append(Trait.BIRTH_DATE)
        if self.birth_place and other.birth_place and self.birth_place != other.birth_place:
            found.append(Trait.BIRTH_PLACE)
        return tuple(found)

    def inconsistencies_with(self, matricule: Nir) -> tuple[Trait, ...]:
        """Traits that contradict what the matricule encodes (sex, year and month of birth)."""
        found = []
        if matricule.sex is not None and matricule.sex != self.sex:
            found.append(Trait.SEX)
        year_differs = matricule.birth_year != f"{self.birth_date.year % 100:02d}"
        month = self.birth_date.month
        month_differs = (
            matricule.birth_month_known and month is not None and int(matricule.birth_month) != month
        )
        if year_differs or month_differs:
            found.append(Trait.BIRTH_DATE)
        return tuple(found)
