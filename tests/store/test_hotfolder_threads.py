"""The hot folder watched from its own thread while another thread uses the same queue (the GUI's
reads and its own deposits), the explanations of erreurs/ read back, a corrected pair put back,
and the import cycle hotfolder <-> watching gone. Fictitious sandbox patients only."""

from __future__ import annotations

import ast
import json
import threading
import time
from pathlib import Path

import pytest

from app.store import watching as watching_module
from app.store.hotfolder import ERRORS, IN_PROGRESS, NOTE, SIDECAR, HotFolder
from app.store.queue import UploadQueue
from tests.store.test_hotfolder import PDF, drop, hot, names, sidecar, wait_for


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "depot"
    folder.mkdir()
    return folder


def test_watching_does_not_import_the_hot_folder() -> None:
    tree = ast.parse(Path(watching_module.__file__).read_text("utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name and name.startswith("app.") for name in imported), imported


def test_the_watcher_thread_and_another_thread_share_the_queue(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    stop = threading.Event()
    watcher = threading.Thread(target=folder.run, args=(stop, 0.2), daemon=True)
    errors: list[BaseException] = []
    own: list[int] = []
    reads = 0

    def gui_like() -> None:  # reads the queue all the time and queues documents of its own
        nonlocal reads
        try:
            for i in range(10):
                request, problems = folder.request_for(f"manuel-{i}.pdf", json.dumps(sidecar()).encode())
                assert request is not None and not problems
                own.append(queue.enqueue(request, _Bytes(PDF + bytes([i])), source_name=f"manuel-{i}.pdf").id)
                for _ in range(5):
                    queue.entries()
                    queue.counts()
                    reads += 1
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    other = threading.Thread(target=gui_like, daemon=True)
    watcher.start()
    try:
        other.start()
        for i in range(10):
            drop(inbox, f"cr-{i}.pdf", PDF + b"%" + bytes([i]))
        other.join(timeout=30)
        assert not other.is_alive() and not errors, errors
        assert wait_for(lambda: len(queue.entries()) == 20, timeout=20)
        assert wait_for(lambda: len(names(inbox / IN_PROGRESS)) == 20, timeout=10)
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert not watcher.is_alive()
    assert names(inbox) == set() and reads == 50 and len(own) == 10
    sources = {e.source_name for e in queue.entries()}
    assert sources == {f"cr-{i}.pdf" for i in range(10)} | {f"manuel-{i}.pdf" for i in range(10)}


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.at + n
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk


def test_explanations_are_read_back_and_a_corrected_pair_is_examined_again(
    inbox: Path, queue: UploadQueue
) -> None:
    folder: HotFolder = hot(inbox, queue)
    drop(inbox, "mauvais.pdf", meta=sidecar(ins="207058575627096"))  # wrong NIR key
    report = folder.scan()
    assert report.rejected == ["mauvais.pdf"]
    (note,) = folder.error_notes()
    assert note.document == "mauvais.pdf" and abs(note.modified - time.time()) < 60
    assert note.text == (inbox / ERRORS / ("mauvais.pdf" + NOTE)).read_text("utf-8")
    assert "INS-NIR-CLE-FAUSSE" in note.text and "Que faire" in note.text
    # The secretary corrects the sidecar in erreurs/, then asks for it to be examined again.
    (inbox / ERRORS / ("mauvais.pdf" + SIDECAR)).write_text(json.dumps(sidecar()), "utf-8")
    folder.retry("mauvais.pdf")
    assert names(inbox / ERRORS) == set() and names(inbox) == {"mauvais.pdf", "mauvais.pdf" + SIDECAR}
    report = folder.scan()
    assert len(report.queued) == 1 and not folder.error_notes()
    assert folder.in_progress_names() == sorted(
        f"{report.queued[0]}-{n}" for n in ("mauvais.pdf", "mauvais.pdf" + SIDECAR)
    )


def test_retry_never_overwrites_nor_leaves_the_folder(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox, "mauvais.pdf", meta=sidecar(ins="207058575627096"))
    folder.scan()
    (inbox / "mauvais.pdf").write_bytes(b"another document with that name")
    try:
        folder.retry("mauvais.pdf")
    except FileExistsError:
        pass
    else:
        raise AssertionError("a file in the folder would have been replaced")
    assert (inbox / "mauvais.pdf").read_bytes() == b"another document with that name"
    assert "mauvais.pdf" + NOTE in names(inbox / ERRORS)
    for bad in ("../x.pdf", "", "..", "a/b.pdf"):
        try:
            folder.retry(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
