"""The cache: encrypted with the rest of the base, age limit, size cap (least recently used out),
damaged entries dropped, purge on demand and at the end of a card session."""

from __future__ import annotations

import io

from app.store.cache import Cache, CachePolicy
from app.store.database import Database
from tests.store.helpers import request_for

INS = request_for().ins
OTHER = request_for("P01").ins


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def cache_of(db: Database, **policy: object) -> tuple[Cache, Clock]:
    clock = Clock()
    return Cache(db, CachePolicy(**policy), clock), clock  # type: ignore[arg-type]


def test_lists_come_back_with_their_age_until_too_old(db: Database) -> None:
    cache, clock = cache_of(db, max_age=3600.0)
    cache.put_list(INS, [{"text": "Compte rendu"}])
    clock.now += 600
    cached = cache.get_list(INS)
    assert cached is not None and cached.documents == [{"text": "Compte rendu"}]
    assert cached.age(clock.now) == 600
    assert cache.get_list(OTHER) is None
    clock.now += 3601
    assert cache.get_list(INS) is None


def test_documents_by_unique_id(db: Database) -> None:
    cache, _ = cache_of(db)
    assert cache.put_document(INS, "2.25.1", io.BytesIO(b"<ClinicalDocument/>" * 50_000)) == 950_000
    out = io.BytesIO()
    assert cache.get_document("2.25.1", out) == 950_000 and out.getvalue() == b"<ClinicalDocument/>" * 50_000
    assert cache.get_document("2.25.2", io.BytesIO()) is None
    assert cache.usage() == (0, 1, 950_000)


def test_size_cap_drops_the_least_recently_used(db: Database) -> None:
    cache, clock = cache_of(db, max_bytes=2500)
    for n in (1, 2):
        cache.put_document(INS, f"2.25.{n}", io.BytesIO(b"x" * 1000))
        clock.now += 1
    cache.get_document("2.25.1", io.BytesIO())  # 1 is now more recent than 2
    clock.now += 1
    cache.put_document(INS, "2.25.3", io.BytesIO(b"y" * 1000))
    assert cache.get_document("2.25.2", io.BytesIO()) is None
    assert cache.get_document("2.25.1", io.BytesIO()) == 1000
    assert cache.get_document("2.25.3", io.BytesIO()) == 1000


def test_age_limit_applies_to_documents_too(db: Database) -> None:
    cache, clock = cache_of(db, max_age=60.0)
    cache.put_document(INS, "2.25.1", io.BytesIO(b"x"))
    clock.now += 61
    assert cache.get_document("2.25.1", io.BytesIO()) is None
    assert cache.enforce_limits() == 1 and cache.usage() == (0, 0, 0)


def test_a_damaged_document_is_dropped_not_served(db: Database) -> None:
    cache, _ = cache_of(db)
    cache.put_document(INS, "2.25.1", io.BytesIO(b"original"))
    with db.write() as cx:
        cx.execute("UPDATE cache_chunk SET data = ? WHERE unique_id = '2.25.1'", (b"altered!",))
    out = io.BytesIO()
    assert cache.get_document("2.25.1", out) is None and out.getvalue() == b""
    assert cache.usage()[1] == 0


def test_purge_on_demand_and_at_the_end_of_a_card_session(db: Database) -> None:
    keep, _ = cache_of(db)
    keep.put_list(INS, [{"text": "a"}])
    keep.put_document(INS, "2.25.1", io.BytesIO(b"x"))
    keep.end_of_session()  # the configuration does not ask for it
    assert keep.usage() == (1, 1, 1)
    purging, _ = cache_of(db, purge_at_session_end=True)
    purging.end_of_session()
    assert purging.usage() == (0, 0, 0)
    assert db.execute("SELECT count(*) FROM cache_chunk")[0][0] == 0
    keep.put_list(INS, [{"text": "b"}])
    assert keep.purge() == 1 and keep.get_list(INS) is None


def test_fetch_takes_the_cache_then_the_host_and_never_fails_on_the_cache(db: Database) -> None:
    from app.store.errors import StoreLocked

    cache, _ = cache_of(db)
    fetched: list[int] = []

    def fetch(out: io.BytesIO) -> int:  # type: ignore[type-arg]
        fetched.append(1)
        return out.write(b"<ClinicalDocument/>")

    warnings: list[str] = []
    out = io.BytesIO()
    assert cache.fetch_document(INS, "2.25.9", out, fetch, lambda e, w: warnings.append(w)) == (19, False)
    again = io.BytesIO()
    assert cache.fetch_document(INS, "2.25.9", again, fetch, lambda e, w: warnings.append(w)) == (19, True)
    assert again.getvalue() == b"<ClinicalDocument/>" and len(fetched) == 1 and warnings == []

    def broken(*args: object) -> None:
        raise StoreLocked()

    cache.get_document = broken  # type: ignore[method-assign, assignment]
    cache.put_document = broken  # type: ignore[method-assign, assignment]
    third = io.BytesIO()
    assert cache.fetch_document(INS, "2.25.9", third, fetch, lambda e, w: warnings.append(w)) == (19, False)
    assert third.getvalue() == b"<ClinicalDocument/>" and warnings == ["illisible", "non mis à jour"]
