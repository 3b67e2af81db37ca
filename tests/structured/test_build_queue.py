"""A structured document queued (dmp send --vsm/--vaccination --en-file) keeps what it is: the queue's
stored request says which volet and which vaccination, and old requests still read back."""

from __future__ import annotations

import json
from pathlib import Path

from app.dmp_client.documents import NewDocument
from app.store.request import SendMode, UploadRequest
from tests.structured.build_helpers import NOW, P03


def test_the_queued_request_keeps_the_volet_and_the_item() -> None:
    ins, traits = P03
    document = NewDocument(
        Path("notes.json"),
        "text/xml",
        "87273-9",
        "Note de vaccination",
        traits,
        structured="VAC-NOTE",
        item=2,
    )
    request = UploadRequest.from_document(document, ins, SendMode.STRUCTURE)
    request.check()  # text/xml is not a level-1 media type, but a structured document's
    back = UploadRequest.from_json(request.pinned(NOW).to_json())
    assert (back.structured, back.item) == ("VAC-NOTE", 2)
    rebuilt = back.new_document(content=None)  # type: ignore[arg-type]
    assert (rebuilt.structured, rebuilt.item, rebuilt.type_code) == ("VAC-NOTE", 2, "87273-9")


def test_a_request_queued_before_structured_documents_reads_back_as_level_1() -> None:
    ins, traits = P03
    document = NewDocument(Path("cr.pdf"), "application/pdf", "11488-4", "CR", traits)
    data = json.loads(UploadRequest.from_document(document, ins, SendMode.STRUCTURE).to_json())
    del data["structured"], data["item"]
    back = UploadRequest.from_json(json.dumps(data))
    assert (back.structured, back.item) == (None, 0)
