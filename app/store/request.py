"""What a queued upload is, as stored: everything needed to build the same document at every
attempt (identity pinned at enqueue time), turned to and from JSON."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from app.dmp_client.core.cda import MEDIA_TYPES, Author, Organization, Person, new_oid
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.valuesets import Concept, value_sets
from app.errors import DmpClientError
from app.ins import IdentityTraits, Ins

if TYPE_CHECKING:  # the client's facade (httpx, the signature) loads with the first send
    from app.dmp_client.documents import NewDocument


class IncompleteRequest(DmpClientError):
    code = "FILE-DEMANDE-INCOMPLETE"
    user_message = "Document refusé par la file d'envoi : informations incomplètes."


class SendMode(StrEnum):
    """Which credentials an entry needs: the professional's card, or the structure's certificate."""

    CARD = "card"
    STRUCTURE = "structure"


@dataclass(frozen=True)
class UploadRequest:
    """A document to send through the queue (the bytes travel separately, as a stream)."""

    ins: Ins
    traits: IdentityTraits
    media_type: str
    type_code: str
    title: str
    mode: SendMode
    professional: str | None = None  # the card holder's national id (card mode)
    facility_type: str = "SA07"
    practice_setting: str = "AMBULATOIRE"
    service_start: dt.datetime | None = None
    service_stop: dt.datetime | None = None
    visibility: frozenset[Visibility] = field(default_factory=frozenset)
    author: Author | None = None
    replaces: str | None = None  # uniqueId of the document this one is a new version of
    # Pinned identity (filled by ``pinned()`` at enqueue time)
    document_id: str = ""
    set_id: str = ""
    created: dt.datetime | None = None
    structured: str | None = None  # "VSM" or "VAC-NOTE": the bytes are the EHR's hand-off JSON
    item: int = 0  # which vaccination of the hand-off (one note each)

    def check(self) -> None:
        """Refuse now, at the desk, what the document builder would refuse at sending time."""
        problems = []
        if self.structured is None and self.media_type not in MEDIA_TYPES:
            problems.append(
                f"format non admis ({self.media_type or 'inconnu'} : PDF, texte, RTF, JPEG, TIFF)"
            )
        if self.traits.birth_place is None:
            problems.append("lieu de naissance (code INSEE) absent : c'est un trait INS obligatoire")
        if not self.title.strip():
            problems.append("titre vide")
        if self.mode is SendMode.CARD and not self.professional:
            problems.append("professionnel dont la carte signera l'envoi non indiqué")
        try:
            value_sets().class_code(value_sets().type_code(self.type_code))
        except DmpClientError:
            problems.append(f"type de document inconnu : {self.type_code}")
        if problems:
            raise IncompleteRequest("Document refusé par la file d'envoi : " + " ; ".join(problems) + ".")

    def pinned(self, now: dt.datetime) -> UploadRequest:
        return replace(
            self,
            document_id=self.document_id or new_oid(),
            set_id=self.set_id or new_oid(),
            created=self.created or now,
        )

    def new_document(self, content: BinaryIO) -> NewDocument:
        """The facade's document, its bytes read from ``content`` (the queue's decrypted copy)."""
        from app.dmp_client.documents import NewDocument

        shared = {name: getattr(self, name) for name in _shared()}
        return NewDocument(Path("file-d-envoi"), content=content, **shared)

    @classmethod
    def from_document(
        cls,
        document: NewDocument,
        ins: Ins,
        mode: SendMode,
        professional: str | None = None,
        replaces: str | None = None,
    ) -> UploadRequest:
        shared = {name: getattr(document, name) for name in _shared()}
        return cls(ins=ins, mode=mode, professional=professional, replaces=replaces, **shared)

    def to_json(self) -> str:
        t = self.traits
        data: dict[str, Any] = {
            "ins": {"matricule": self.ins.matricule.value, "oid": str(self.ins.oid)},
            "traits": {
                "nom": t.birth_name,
                "prenoms": " ".join(t.first_names),
                "sexe": str(t.sex),
                "naissance": t.birth_date.to_french(),
                "lieu": t.birth_place,
            },
            "media_type": self.media_type,
            "type_code": self.type_code,
            "title": self.title,
            "mode": str(self.mode),
            "professional": self.professional,
            "facility_type": self.facility_type,
            "practice_setting": self.practice_setting,
            "service_start": _iso(self.service_start),
            "service_stop": _iso(self.service_stop),
            "visibility": sorted(str(v) for v in self.visibility),
            "author": _author_json(self.author),
            "replaces": self.replaces,
            "document_id": self.document_id,
            "set_id": self.set_id,
            "created": _iso(self.created),
            "structured": self.structured,
            "item": self.item,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UploadRequest:
        data = json.loads(text)
        t = data["traits"]
        return cls(
            Ins.parse(data["ins"]["matricule"], data["ins"]["oid"]),
            IdentityTraits.parse(t["nom"], t["prenoms"], t["sexe"], t["naissance"], t["lieu"]),
            data["media_type"],
            data["type_code"],
            data["title"],
            SendMode(data["mode"]),
            data["professional"],
            data["facility_type"],
            data["practice_setting"],
            _datetime(data["service_start"]),
            _datetime(data["service_stop"]),
            frozenset(Visibility(v) for v in data["visibility"]),
            _author(data["author"]),
            data["replaces"],
            data["document_id"],
            data["set_id"],
            _datetime(data["created"]),
            data.get("structured"),  # absent from requests queued before issue 19
            int(data.get("item", 0)),
        )


@functools.cache
def _shared() -> tuple[str, ...]:
    """What a queued request and the facade's document both describe, under the same names."""
    from app.dmp_client.documents import NewDocument

    return tuple(f.name for f in fields(NewDocument) if f.name not in ("path", "content"))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datetime(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _author_json(author: Author | None) -> dict[str, str] | None:
    if author is None:
        return None
    return {
        "id": author.person.national_id,
        "given": author.person.given,
        "family": author.person.family,
        "specialty": author.specialty.code,
        "specialty_system": author.specialty.code_system,
        "specialty_name": author.specialty.display_name,
        "structure": author.organization.id_nat_struct,
        "structure_name": author.organization.name,
    }


def _author(data: dict[str, str] | None) -> Author | None:
    if data is None:
        return None
    return Author(
        Person(data["id"], data["given"], data["family"]),
        Concept(data["specialty"], data["specialty_system"], data["specialty_name"]),
        Organization(data["structure"], data["structure_name"]),
    )
