"""The patients a document can be matched to at the secretariat, without Qt: every identity this
workstation knows with its provenance and its INS status, searchable by name, birth date or INS.

Known patients, in this order of precedence (one identity per INS matricule, the first source wins):

1. the patients opened in this session (Vitale card, INSi, manual entry: as the patient panel gave
   them, with their INS status);
2. the EHR's hand-off context (``dmp-gui --contexte``, or a forwarded one);
3. the patients of the durable queue's entries (the identity the document was queued with; the queue
   keeps no INS status, so it is shown as not kept, never guessed);
4. in the sandbox only, its fictitious patients.

The local cache (``app.store.cache``) keeps document lists and documents keyed by INS, without identity
traits or INS status: it names no identity, so none is taken from it (an INS alone cannot be shown or
matched as a patient). Nothing here logs a name, an INS or a birth date.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from app.ins import Ins
from app.services.workspace import Patient
from app.store.queue import Entry

OPENED, CONTEXT = "ouvert dans la session", "contexte du logiciel métier"
QUEUE, SANDBOX = "file d'envoi", "bac à sable"
STATUS_NOT_KEPT = "statut INS non conservé"


@dataclass(frozen=True)
class KnownPatient:
    """A known identity, where it comes from (``OPENED`` …) and its INS status."""

    patient: Patient
    provenance: str

    @property
    def ins(self) -> Ins:
        return self.patient.ins

    @property
    def ins_status(self) -> str:
        return self.patient.ins_status or STATUS_NOT_KEPT

    def __repr__(self) -> str:  # never an identity in a log line or a test failure
        return f"KnownPatient(provenance={self.provenance!r})"


def fold(text: str) -> str:
    """Lower case without accents, for searching (« Hélène » matches « helene », « HÉLÈNE »)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _haystack(patient: Patient) -> str:
    traits, ins = patient.traits, patient.ins.matricule.value
    words = [ins]
    if traits is not None:
        date = traits.birth_date
        iso = f"{date.year:04d}-{date.month or 0:02d}-{date.day or 0:02d}"
        words += [traits.birth_name, *traits.first_names, date.to_french(), iso]
    return fold(" ".join(words))


def matches(patient: Patient, query: str) -> bool:
    """Every word of ``query`` is in the patient's names, birth date (JJ/MM/AAAA or AAAA-MM-JJ) or
    INS (spaces in an INS ignored); an empty query matches everyone."""
    haystack = _haystack(patient)
    digits = "".join(query.split())
    if digits.isdigit() and len(digits) >= 4 and digits in patient.ins.matricule.value:
        return True
    return all(word in haystack for word in fold(query).split())


def queue_patients(entries: Iterable[Entry]) -> list[Patient]:
    """The identities the queue's entries were confided with (newest first)."""
    return [
        Patient(e.request.ins, e.request.traits, "", QUEUE)
        for e in sorted(entries, key=lambda e: e.created_at, reverse=True)
    ]


class PatientDirectory:
    """This session's known patients (thread-safe: the GUI records, background jobs read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened: list[Patient] = []
        self._context: list[Patient] = []

    def opened(self, patient: Patient) -> None:
        """A patient opened in this session (the latest first)."""
        with self._lock:
            self._opened = [patient, *(p for p in self._opened if p.ins != patient.ins)]

    def context(self, patients: Iterable[Patient]) -> None:
        """The EHR's hand-off patients (the latest hand-off replaces the previous one)."""
        with self._lock:
            self._context = list(patients)

    def known(
        self, queue: Iterable[Entry] = (), sandbox: Iterable[Patient] = (), extra: Iterable[Patient] = ()
    ) -> list[KnownPatient]:
        """Every known identity, one per INS matricule, by precedence (see the module's docstring);
        ``extra``: patients the caller has on screen, counted as opened."""
        with self._lock:
            opened, context = [*self._opened], [*self._context]
        sources = [
            (OPENED, [*opened, *extra]),
            (CONTEXT, context),
            (QUEUE, queue_patients(queue)),
            (SANDBOX, list(sandbox)),
        ]
        seen: dict[str, KnownPatient] = {}
        for provenance, patients in sources:
            for patient in patients:
                if patient.traits is None:  # an INS without traits is not an identity to match
                    continue
                seen.setdefault(patient.ins.matricule.value, KnownPatient(patient, provenance))
        return list(seen.values())


def search(known: Iterable[KnownPatient], query: str) -> list[KnownPatient]:
    return [k for k in known if matches(k.patient, query)]


def find_ins(known: Iterable[KnownPatient], matricule: str) -> KnownPatient | None:
    return next((k for k in known if k.ins.matricule.value == matricule), None)
