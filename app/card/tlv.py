"""BER-TLV decoding for card data objects (ISO 7816-4 / X.690 definite lengths)."""

from __future__ import annotations

from collections.abc import Iterator

from app.card.errors import CardDataError


def _tag(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    pos += 1
    tag = first
    if first & 0x1F == 0x1F:  # multi-byte tag
        while True:
            if pos >= len(data):
                raise CardDataError("Donnée de carte tronquée (étiquette).")
            byte = data[pos]
            pos += 1
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
    return tag, pos


def _length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise CardDataError("Donnée de carte tronquée (longueur).")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 3 or pos + count > len(data):
        raise CardDataError("Donnée de carte mal formée (longueur).")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (tag, value) for each TLV at this level; padding bytes 00 and FF are skipped."""
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF):
            pos += 1
            continue
        tag, pos = _tag(data, pos)
        length, pos = _length(data, pos)
        if pos + length > len(data):
            raise CardDataError("Donnée de carte tronquée (valeur).")
        yield tag, data[pos : pos + length]
        pos += length


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """The TLVs of one level as a dict (the first occurrence of a tag wins)."""
    found: dict[int, bytes] = {}
    for tag, value in iter_tlv(data):
        found.setdefault(tag, value)
    return found
