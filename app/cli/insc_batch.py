"""Batch INS-C computation over ``prenom;naissance;nir`` lines (``dmp ins insc --csv``).

Streams: one output line per input line, whatever the file's size. Each line is decoded on its own
(UTF-8 first, then ISO-8859-1, as files exported by older practice software mix both). A bad line
yields ``ERREUR: <message>`` and the batch carries on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.ins import InsError, card_birth_date, compute_insc

HEADER_FIELDS = ("prenom", "naissance", "nir")
HEADER_OUTPUT = "insc"
ERROR_PREFIX = "ERREUR: "


class LineFormatError(ValueError):
    """A line that is not three ``;``-separated fields."""


@dataclass
class BatchTally:
    """Counts kept while a batch runs, for the summary and the exit status."""

    lines: int = 0
    computed: int = 0
    errors: int = 0


def decode_line(raw: bytes) -> str:
    """Decode one line as UTF-8, falling back to ISO-8859-1 (which decodes any byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def insc_for_line(line: str) -> str:
    """The INS-C for one ``prenom;naissance;nir`` line; raises InsError or LineFormatError."""
    fields = line.split(";")
    if len(fields) != 3:
        raise LineFormatError(
            f"3 champs séparés par « ; » attendus (prenom;naissance;nir), {len(fields)} lus."
        )
    first_name, birth_date, nir = (f.strip() for f in fields)
    return compute_insc(first_name, card_birth_date(birth_date), nir).value


def process(raw_lines: Iterable[bytes], tally: BatchTally) -> Iterator[str]:
    """Yield one output line (without newline) per input line, updating ``tally``."""
    for number, raw in enumerate(raw_lines, start=1):
        line = decode_line(raw).rstrip("\r\n")
        if number == 1:
            line = line.removeprefix("\ufeff")
            if tuple(f.strip().lower() for f in line.split(";")) == HEADER_FIELDS:
                yield HEADER_OUTPUT
                continue
        tally.lines += 1
        if not line.strip():
            tally.errors += 1
            yield ERROR_PREFIX + "ligne vide."
            continue
        try:
            result = insc_for_line(line)
        except (InsError, LineFormatError) as error:
            tally.errors += 1
            yield ERROR_PREFIX + str(error)
        else:
            tally.computed += 1
            yield result
