"""The in-process read index (read_index.py) answers exactly what a brute-force scan and the SQL path answer,
on SQLite and PostgreSQL: fresh after other replicas' writes, purges honoured, off above its memory bound."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from aiact_transparency.fingerprints import FingerprintStore, open_store, read_index, segments
from aiact_transparency.fingerprints.read_index import ReadIndex
from aiact_transparency.fingerprints.segments import BYTES_PER_RECORD

from .pg_server import PostgresServer
from .test_store import flip_bits, random_hash, record

STORED = 3000


def brute_force(stored: list[bytes], digests: list[bytes], max_distance: int = 31) -> set[tuple[bytes, int, int]]:
    """(hash, distance, closest variant) by comparing every stored hash with every variant."""
    table = np.frombuffer(b"".join(stored), dtype=np.uint8).reshape(-1, 32)
    queries = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
    distances = np.unpackbits(table[:, None, :] ^ queries[None, :, :], axis=2).sum(axis=2)  # stored x variants
    found = set()
    for row in np.flatnonzero(distances.min(axis=1) <= max_distance):
        variant = int(np.argmin(distances[row]))
        found.add((stored[row], int(distances[row, variant]), variant))
    return found


def answers(store: FingerprintStore, digests: list[bytes]) -> set[tuple[bytes, int, int]]:
    return {(m.record.perceptual or b"", m.distance or 0, m.variant or 0)
            for m in store.nearest(digests, limit=10_000)}


def planted(rng: np.random.Generator) -> tuple[list[bytes], list[list[bytes]]]:
    """Random hashes, near-duplicates of some at every distance 0-40 (32-40: must not be found), and 8-variant
    queries whose variants sit near different stored hashes."""
    def bits(count: int) -> list[int]:
        return [int(b) for b in rng.choice(256, count, replace=False)]

    bases = [random_hash(rng) for _ in range(STORED // 2)]
    near = [flip_bits(bases[n % 200], bits(n % 41)) for n in range(STORED // 2)]
    def worst_case(digest: bytes, q: int) -> bytes:
        # Distance 31 spread as the pigeonhole allows least: one chunk (bits 16c to 16c+15) 1 bit off, that
        # bit at every position in turn over the queries, every other chunk 2 bits off.
        lone = q % 16
        flips = [16 * c + int(b) for c in range(16) if c != lone for b in rng.choice(16, 2, replace=False)]
        return flip_bits(digest, [*flips, 16 * lone + q * 5 % 16])

    queries = [[worst_case(bases[q], q) if v == 0 else
                flip_bits(bases[int(rng.integers(200))], bits(int(rng.integers(0, 32)))) if v == 3 else
                random_hash(rng) for v in range(8)] for q in range(32)]
    return bases + near, queries


@pytest.mark.parametrize("min_delta", [4096, 256])  # 256: several batches merge into the main segment
def test_the_index_answers_what_a_brute_force_scan_and_sql_answer(store_url: str, min_delta: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_index, "_MIN_DELTA", min_delta)
    rng = np.random.default_rng(17)
    hashes, queries = planted(rng)
    order = rng.permutation(len(hashes))
    stored: list[bytes] = []
    with open_store(store_url) as indexed, open_store(store_url, memory_index_mb=0) as sql:
        for first in range(0, len(hashes), 500):  # lookups between batches: the index refreshes incrementally
            batch = [hashes[i] for i in order[first:first + 500]]
            indexed.add_many([record(first + n, h) for n, h in enumerate(batch)])
            stored.extend(batch)
            for digests in queries[first // 100:first // 100 + 5]:
                expected = brute_force(stored, digests)
                assert answers(indexed, digests) == expected
                assert answers(sql, digests) == expected
                for limit in (3, 10_000):  # the same records in the same order (duplicates of a hash newest first)
                    assert ([(m.record, m.distance, m.variant) for m in indexed.nearest(digests, limit=limit)]
                            == [(m.record, m.distance, m.variant) for m in sql.nearest(digests, limit=limit)])
        assert sql.read_index.disabled  # memory_index_mb=0: the SQL path
        assert indexed.read_index.records == len(hashes)
        found = sum(len(brute_force(stored, digests)) for digests in queries)
        assert found > 100  # the planted neighbours are there to be found


def test_a_lookup_sees_another_replicas_new_outputs_and_purges(store_url: str) -> None:
    rng = np.random.default_rng(3)
    with open_store(store_url) as reader, open_store(store_url) as writer:
        old = record(1, random_hash(rng), created_at=1000.0)
        writer.add_many([old])
        assert [m.record for m in reader.nearest([old.perceptual or b""])] == [old]  # index loaded
        new = record(2, random_hash(rng), created_at=5000.0)
        writer.add_many([new])
        assert [m.record for m in reader.nearest([new.perceptual or b""])] == [new]  # the next lookup sees it
        assert writer.purge(2000.0) == 1  # purged by the other replica: the reader's index still holds it
        assert reader.nearest([old.perceptual or b""]) == []  # but the match is read back from the store
        assert reader.read_index.records == 2


def test_own_purge_marks_the_rows_dead(store_url: str) -> None:
    rng = np.random.default_rng(4)
    with open_store(store_url) as store:
        records = [record(n, random_hash(rng), created_at=1000.0 + n) for n in range(20)]
        store.add_many(records)
        assert store.nearest([records[0].perceptual or b""])
        assert store.purge(1010.0) == 10
        assert store.read_index.search([r.perceptual or b"" for r in records[:10]], 1, 31) == []
        assert [h[3] for h in store.read_index.search([records[15].perceptual or b""], 1, 0)] == [[16]]
        assert [m.record for m in store.nearest([records[15].perceptual or b""])] == [records[15]]


def test_above_its_memory_bound_the_store_answers_from_sql(store_url: str) -> None:
    rng = np.random.default_rng(5)
    hashes = [random_hash(rng) for _ in range(50)]
    with open_store(store_url, memory_index_mb=8) as store:  # 8 MiB: less than the segments' offsets alone
        assert ReadIndex.bytes_for(1) > 8 * 2**20
        store.add_many([record(n, h) for n, h in enumerate(hashes)])
        digests = [flip_bits(hashes[7], [1, 2, 3])] + [random_hash(rng) for _ in range(7)]
        assert answers(store, digests) == brute_force(hashes, digests)
        assert store.read_index.disabled and store.read_index.records == 0


def test_memory_per_million_is_stated() -> None:
    assert ReadIndex.bytes_for(1_000_000) / 2**20 < 134  # the docstring's ~133 MiB per 1,000,000
    assert BYTES_PER_RECORD == 114


def test_the_memory_bound_counts_what_a_segment_holds() -> None:
    # The bound is only as good as its per-row and per-segment figures: measure a real segment's arrays (its
    # offsets were int64, 8 MiB, while the bound counted 4 MiB per segment).
    n = 1000
    rng = np.random.default_rng(3)
    rows = segments.IndexRows(
        ids=np.arange(1, n + 1, dtype=np.int64), hashes=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        kinds=np.zeros(n, np.uint8), created=np.zeros(n, np.float64), through=n,
    )
    segment = segments.Segment(rows)
    held = sum(a.nbytes for a in (rows.ids, rows.hashes, rows.kinds, rows.created, segment.alive, segment.order,
                                  segment.offsets))
    assert held == n * BYTES_PER_RECORD + segments.SEGMENT_BYTES


def test_postgres_ids_are_taken_in_commit_order(postgres_server: PostgresServer) -> None:
    # A batch that took its ids holds the id lock until it commits, so a later batch's higher ids can never
    # be visible while the earlier ones are not (the index reads "ids above the last seen").
    import psycopg

    from aiact_transparency.fingerprints._postgres import _ID_LOCK

    rng = np.random.default_rng(6)
    with open_store(postgres_server.url) as store, psycopg.connect(postgres_server.url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (_ID_LOCK,))  # another replica mid-insert
        done = threading.Event()

        def insert() -> None:
            store.add_many([record(1, random_hash(rng))])
            done.set()

        worker = threading.Thread(target=insert)
        worker.start()
        assert not done.wait(1.0)  # waits for the other replica's transaction
        other.commit()
        worker.join(30)
        assert done.is_set()


def test_a_large_store_loads_its_index_in_the_background_while_sql_answers(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above the threshold the first lookup must not wait for the load (seconds at 1M rows): it is answered from
    # SQL while a thread loads; the load is held at a gate here (fault injection) to see both phases.
    monkeypatch.setattr(read_index, "BACKGROUND_LOAD_ABOVE", 10)
    rng = np.random.default_rng(6)
    hashes = [random_hash(rng) for _ in range(40)]
    digests = [flip_bits(hashes[3], [5, 6])] + [random_hash(rng) for _ in range(7)]
    with open_store(store_url) as store:
        store.add_many([record(n, h) for n, h in enumerate(hashes)])
        gate, real_fetch = threading.Event(), store.read_index._fetch

        def held_fetch(after_id: int) -> segments.IndexRows:
            assert gate.wait(30)
            return real_fetch(after_id)

        monkeypatch.setattr(store.read_index, "_fetch", held_fetch)
        assert answers(store, digests) == brute_force(hashes, digests)  # from SQL: the load is still held
        # A later lookup while it loads must not queue behind the loading thread's lock: it answers from SQL.
        later: list[set[tuple[bytes, int, int]]] = []
        lookup = threading.Thread(target=lambda: later.append(answers(store, digests)), daemon=True)
        lookup.start()
        lookup.join(10)  # a deadlock detector, not a timing claim: the load is held for up to 30 s
        assert not lookup.is_alive() and later == [brute_force(hashes, digests)]
        assert store.read_index.records == 0 and not store.read_index.disabled
        gate.set()
        assert store.read_index.wait_loaded(30)
        assert store.read_index.records == len(hashes)
        assert answers(store, digests) == brute_force(hashes, digests)  # now from the index, the same answer


def test_a_small_store_loads_its_index_in_the_first_lookup(store_url: str) -> None:
    rng = np.random.default_rng(7)
    hashes = [random_hash(rng) for _ in range(20)]
    with open_store(store_url) as store:
        store.add_many([record(n, h) for n, h in enumerate(hashes)])
        assert answers(store, hashes[:1]) == brute_force(hashes, hashes[:1])
        assert store.read_index.records == len(hashes)  # no thread: loaded before that first answer


def counted(store: FingerprintStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the store sends from now on (a spy on its one query primitive)."""
    sent: list[str] = []
    real = store._query

    def query(sql: str, params: object) -> list[tuple[object, ...]]:
        sent.append(sql)
        return real(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_query", query)
    return sent


def test_a_lookup_is_one_round_trip_that_sees_new_rows_and_reads_matches_back(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freshness (another replica's rows) and the read-back of the matched records (purges elsewhere honoured)
    # share one statement: two round trips made the p99 on PostgreSQL.
    rng = np.random.default_rng(8)
    hashes = [random_hash(rng) for _ in range(30)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        writer.add_many([record(n, h) for n, h in enumerate(hashes[:20])])
        assert reader.nearest([hashes[0]])  # loads the index
        sent = counted(reader, monkeypatch)
        assert [m.record.perceptual for m in reader.nearest([flip_bits(hashes[5], [1, 2])])] == [hashes[5]]
        assert len(sent) == 1
        # Added by the other replica, among them a copy of a hash the index already holds: both found, newest first.
        writer.add_many([record(20 + n, h) for n, h in enumerate([*hashes[20:], hashes[5]])])
        sent.clear()
        found = reader.nearest([flip_bits(hashes[5], [1, 2]), hashes[25]], limit=10)
        assert len(sent) == 1
        assert [(m.record.perceptual, m.distance, m.variant) for m in found] == [
            (hashes[25], 0, 1), (hashes[5], 2, 0), (hashes[5], 2, 0)]
        assert found[1].record.size > found[2].record.size  # the copy stored last comes first
        assert reader.read_index.records == 31
        sent.clear()
        assert reader.nearest([random_hash(rng)]) == [] and len(sent) == 1  # nothing new, nothing found


def test_rows_the_index_does_not_keep_are_read_once(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A text or unhashed output after the last image used to be read again by every lookup (the index only
    # remembered the last id it kept).
    rng = np.random.default_rng(9)
    with open_store(store_url) as store:
        store.add_many([record(0, random_hash(rng))])
        assert store.nearest([random_hash(rng)]) == []
        store.add_many([record(n, None) for n in range(1, 50)])
        assert store.nearest([random_hash(rng)]) == []
        (top,), = store._query("SELECT MAX(id) FROM fp_fingerprints", ())
        assert store.read_index.last_id == top


def test_a_lookup_that_brings_a_few_rows_sorts_no_segment(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A lookup used to rebuild the delta segment (16 sorts of all of it) whenever it brought new rows: at 1M
    # stored, up to ~100 ms paid by lookups while the writer adds. A few new rows are compared one by one.
    rng = np.random.default_rng(10)
    hashes = [random_hash(rng) for _ in range(40)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        writer.add_many([record(n, h) for n, h in enumerate(hashes[:30])])
        assert reader.nearest([hashes[0]])
        built: list[int] = []
        real_init = segments.Segment.__init__

        def init(segment: object, rows: segments.IndexRows) -> None:
            built.append(len(rows))
            real_init(segment, rows)  # type: ignore[arg-type]

        monkeypatch.setattr(segments.Segment, "__init__", init)
        for n, digest in enumerate(hashes[30:]):
            writer.add_many([record(30 + n, digest)])
            assert [m.record.perceptual for m in reader.nearest([flip_bits(digest, [4])])] == [digest]
        assert built == []
        monkeypatch.setattr(read_index, "_TAIL_ROWS", 4)  # past the tail's size: sorted into the delta once
        writer.add_many([record(50, random_hash(rng))])
        assert [m.record.perceptual for m in reader.nearest([hashes[35]])] == [hashes[35]]
        assert built == [41] and reader.read_index.records == 41  # the delta: the first 30 and the 11 since


class _SignallingLock:
    """The index's lock, saying when a thread starts waiting for it (the fold holds it)."""

    def __init__(self, lock: threading.Lock, waiting: threading.Event) -> None:
        self._lock, self._waiting = lock, waiting

    def __enter__(self) -> bool:
        if not self._lock.acquire(blocking=False):
            self._waiting.set()
            self._lock.acquire()
        return True

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@pytest.mark.parametrize("stored_before", [0, 50])  # 0: the first load; 50: a burst past the tail into a segment
def test_a_lookup_beside_a_segment_build_misses_no_stored_row(
    store_url: str, monkeypatch: pytest.MonkeyPatch, stored_before: int
) -> None:
    # A lookup reads `last_id` without the lock and asks SQL only for rows above it. `last_id` used to move at
    # the start of a fold, so a lookup while the segment was built (seconds at 1M) missed the burst's rows.
    rng = np.random.default_rng(11)
    hashes = [random_hash(rng) for _ in range(stored_before + read_index._TAIL_ROWS + 100)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        writer.add_many([record(n, h) for n, h in enumerate(hashes[:stored_before])])
        if stored_before:
            assert reader.nearest([hashes[0]])  # loaded
        writer.add_many([record(n, h) for n, h in enumerate(hashes[stored_before:], stored_before)])
        probe = hashes[-7]
        index = reader.read_index
        waiting = threading.Event()
        monkeypatch.setattr(index, "_lock", _SignallingLock(index._lock, waiting))
        beside: list[list[bytes]] = []
        other = threading.Thread(target=lambda: beside.append([m.record.perceptual or b""
                                                               for m in reader.nearest([probe])]))
        real_init = segments.Segment.__init__

        def init(segment: object, rows: segments.IndexRows) -> None:
            real_init(segment, rows)  # type: ignore[arg-type]
            if len(rows) and not other.is_alive() and not beside:  # a second lookup while this fold is under way
                other.start()
                while other.is_alive() and not waiting.wait(0.01):
                    pass  # until it answers (from what it can see) or waits for the fold

        monkeypatch.setattr(segments.Segment, "__init__", init)
        assert [m.record.perceptual for m in reader.nearest([probe])] == [probe]
        other.join(30)
        assert beside == [[probe]]
