"""The read index merges its delta into the main segment in a background thread (read_index.py, "Merges"): a
lookup never waits for the merge, finds every stored row before, during and after it, and a purge or a failure
meanwhile leaves the index right. On SQLite and PostgreSQL, through the store as the detection service uses it.

The merge is held at a gate (or made to fail) by fault injection in the segment build; the lookups run in a
thread joined with a timeout only to fail instead of hanging when one queues behind the merge."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest

from aiact_transparency.fingerprints import FingerprintStore, open_store, read_index
from aiact_transparency.fingerprints.read_index import ReadIndex
from aiact_transparency.fingerprints.segments import IndexRows, Segment

from .test_store import random_hash, record

T = TypeVar("T")
MAIN = 400  # rows in the first load: one segment (above _MIN_DELTA, patched to 64 here)


def within(action: Callable[[], T]) -> T:
    """action() run in a thread: a lookup that queued behind the held merge fails the test instead of hanging
    (a deadlock detector, not a timing claim: the merge is held for up to 60 s)."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(action())
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the call waited for the merge"
    if failed:
        raise failed[0]
    return done[0]


class HeldMerge:
    """Fault injection in the merge's segment build (the one holding main's first row and more rows than main):
    it raises `fault`, or, once built, waits at `gate` before marking the rows purged when it started dead."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, first_id: int, fault: BaseException | None = None) -> None:
        self.gate, self.started, self.builds, self.fault = threading.Event(), threading.Event(), 0, fault
        real_init, real_kill = Segment.__init__, Segment.kill_before

        def merged(rows: IndexRows) -> bool:
            return len(rows) > MAIN and int(rows.ids[0]) == first_id

        def init(segment: Segment, rows: IndexRows) -> None:
            if merged(rows):
                self.builds += 1
                if self.fault is not None:
                    raise self.fault
            real_init(segment, rows)

        def kill_before(segment: Segment, cutoff: float) -> None:
            if merged(segment.rows) and not self.gate.is_set():
                self.started.set()
                assert self.gate.wait(60)
            real_kill(segment, cutoff)

        monkeypatch.setattr(Segment, "__init__", init)
        monkeypatch.setattr(Segment, "kill_before", kill_before)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge after 64 new rows (an eighth of MAIN is less), a fold into the delta past 32 in the tail."""
    monkeypatch.setattr(read_index, "_MIN_DELTA", 64)
    monkeypatch.setattr(read_index, "_TAIL_ROWS", 32)


def found(store: FingerprintStore, hashes: list[bytes]) -> set[bytes]:
    """The stored hashes a lookup (asking for all of them at once) answers, reading new rows as it goes."""
    return {m.record.perceptual or b"" for m in store.nearest(hashes, max_distance=0, limit=100_000)}


def in_index(index: ReadIndex, hashes: list[bytes]) -> set[bytes]:
    """The hashes the index itself holds alive (no read-back from the store)."""
    return {hit[0] for hit in index.search(hashes, 1, 0)}


def segments(index: ReadIndex) -> tuple[int, int, int, int]:
    """Rows in main, in the delta being merged, in the delta, in the tail."""
    main, merging, delta = (len(s.rows) if s is not None else 0 for s in (index._main, index._merging, index._delta))
    return main, merging, delta, len(index._tail)


def loaded(reader: FingerprintStore, writer: FingerprintStore, hashes: list[bytes], created: float = 1000.0) -> int:
    """MAIN rows stored and loaded into the reader's index as one segment; the first row's id."""
    writer.add_many([record(n, h, created_at=created + n) for n, h in enumerate(hashes[:MAIN])])
    assert found(reader, hashes[:1]) == set(hashes[:1])
    main = reader.read_index._main
    assert main is not None and len(main.rows) == reader.read_index.records == MAIN
    return int(main.rows.ids[0])


def add(writer: FingerprintStore, hashes: list[bytes], first: int, last: int, created: float) -> None:
    writer.add_many([record(n, h, created_at=created + n) for n, h in enumerate(hashes[first:last], first)])


def test_lookups_add_and_find_every_row_while_a_merge_runs(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                                          small_segments: None) -> None:
    # The merge used to run inside the lookup whose rows made the delta due, under the lock every lookup bringing
    # rows takes: ~5 s at 1M rows on the loaded box, every such lookup waiting for it.
    rng = np.random.default_rng(21)
    hashes = [random_hash(rng) for _ in range(MAIN + 300)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        held = HeldMerge(monkeypatch, loaded(reader, writer, hashes))
        index = reader.read_index
        try:
            add(writer, hashes, MAIN, MAIN + 100, 2000.0)  # past the tail: a delta of 100, due for a merge
            assert within(lambda: found(reader, hashes[:MAIN + 100])) == set(hashes[:MAIN + 100])
            assert held.started.wait(30) and segments(index) == (MAIN, 100, 0, 0)
            add(writer, hashes, MAIN + 100, MAIN + 290, 3000.0)  # during the merge: a delta of its own, due too
            assert within(lambda: found(reader, hashes[:MAIN + 290])) == set(hashes[:MAIN + 290])
            add(writer, hashes, MAIN + 290, MAIN + 300, 3000.0)  # and a few in the tail
            assert within(lambda: found(reader, hashes)) == set(hashes)
            assert segments(index) == (MAIN, 100, 190, 10) and index.records == len(hashes)
            assert in_index(index, hashes) == set(hashes)
            assert held.builds == 1  # one merge at a time: the new delta waits for the next one
        finally:
            held.gate.set()
        assert index.wait_merged(30)
        assert segments(index) == (MAIN + 100, 0, 190, 10) and index.records == len(hashes)
        assert in_index(index, hashes) == set(hashes)
        assert found(reader, hashes) == set(hashes)
        assert index.last_id == int(max(index._tail.ids))


def test_a_purge_during_a_merge_applies_to_the_merged_segment(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                                              small_segments: None) -> None:
    rng = np.random.default_rng(22)
    hashes = [random_hash(rng) for _ in range(MAIN + 150)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        held = HeldMerge(monkeypatch, loaded(reader, writer, hashes))
        index = reader.read_index
        try:
            add(writer, hashes, MAIN, MAIN + 100, 2000.0)
            assert within(lambda: found(reader, hashes[:MAIN + 100])) == set(hashes[:MAIN + 100])
            assert held.started.wait(30)  # the merged segment is built, its rows marked by the cutoff before:
            # the purge comes after that, so only the swap can apply it
            assert within(lambda: reader.purge(1200.0)) == 200  # the oldest half of main
            add(writer, hashes, MAIN + 100, MAIN + 150, 3000.0)
            alive = hashes[200:]
            assert within(lambda: found(reader, hashes)) == set(alive)
            assert in_index(index, hashes) == set(alive)
        finally:
            held.gate.set()
        assert index.wait_merged(30)
        assert segments(index)[:2] == (MAIN + 100, 0)  # built before the purge: its rows marked dead at the swap
        assert in_index(index, hashes) == set(alive)
        assert found(reader, hashes) == set(alive)


def test_a_failed_merge_leaves_the_index_answering_and_is_retried_later(
    store_url: str, monkeypatch: pytest.MonkeyPatch, small_segments: None, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(23)
    hashes = [random_hash(rng) for _ in range(MAIN + 200)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        held = HeldMerge(monkeypatch, loaded(reader, writer, hashes), fault=MemoryError())
        index = reader.read_index
        now = [index._clock()]  # as a lookup last saw it: later lookups are due
        monkeypatch.setattr(index, "_clock", lambda: now[0])
        with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
            add(writer, hashes, MAIN, MAIN + 100, 2000.0)
            assert within(lambda: found(reader, hashes[:MAIN + 100])) == set(hashes[:MAIN + 100])
            assert index.wait_merged(30) and held.builds == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "MemoryError" in warnings[0] and "retried" in warnings[0]
        assert not any(h.hex()[:16] in warnings[0] for h in hashes)  # no data in the log
        assert segments(index) == (MAIN, 100, 0, 0) and not index.disabled  # the old segments still answer
        assert found(reader, hashes[:MAIN + 100]) == set(hashes[:MAIN + 100])
        add(writer, hashes, MAIN + 100, MAIN + 150, 3000.0)  # a fold, but not yet time to try again
        assert found(reader, hashes[:MAIN + 150]) == set(hashes[:MAIN + 150])
        assert held.builds == 1 and segments(index) == (MAIN, 100, 50, 0)
        held.fault = None
        held.gate.set()  # the retry runs through
        now[0] += read_index._MERGE_RETRY_S
        add(writer, hashes, MAIN + 150, MAIN + 200, 3000.0)  # the next fold past the retry time
        assert found(reader, hashes) == set(hashes)
        assert index.wait_merged(30) and held.builds == 2
        assert segments(index) == (MAIN + 100, 0, 100, 0) and index.records == len(hashes)
        assert in_index(index, hashes) == set(hashes)
        assert found(reader, hashes) == set(hashes)


def test_past_the_memory_bound_during_a_merge_the_index_stays_off(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                                                  small_segments: None) -> None:
    rng = np.random.default_rng(24)
    mb = ReadIndex.bytes_for(0) // 2**20 + 1  # the segments' offsets and a MiB of rows
    room = (mb * 2**20 - ReadIndex.bytes_for(0)) // read_index.BYTES_PER_RECORD  # rows that much holds
    assert room > MAIN + 100
    hashes = [random_hash(rng) for _ in range(room + 1)]
    with open_store(store_url, memory_index_mb=mb) as reader, open_store(store_url) as writer:
        held = HeldMerge(monkeypatch, loaded(reader, writer, hashes))
        index = reader.read_index
        try:
            add(writer, hashes, MAIN, MAIN + 100, 2000.0)
            assert within(lambda: found(reader, hashes[:MAIN + 100])) == set(hashes[:MAIN + 100])
            assert held.started.wait(30)
            add(writer, hashes, MAIN + 100, len(hashes), 3000.0)  # one row past the bound
            assert within(lambda: found(reader, hashes[-5:])) == set(hashes[-5:])  # from SQL
            assert index.disabled and index.records == 0
        finally:
            held.gate.set()
        assert index.wait_merged(30)
        assert index.disabled and index.records == 0 and not index.ready  # the merge did not bring it back
        assert found(reader, hashes[:3] + hashes[-3:]) == set(hashes[:3] + hashes[-3:])


def test_a_merge_failing_at_its_swap_is_retried_later(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                                      small_segments: None, caplog: pytest.LogCaptureFixture) -> None:
    # The swap applies the latest purge (kill_before allocates): when that raised, the merge thread died with
    # `_merger` still set, and no merge ever started again while the delta grew at every fold.
    rng = np.random.default_rng(25)
    hashes = [random_hash(rng) for _ in range(MAIN + 200)]
    with open_store(store_url) as reader, open_store(store_url) as writer:
        first_id = loaded(reader, writer, hashes)
        index = reader.read_index
        now = [index._clock()]
        monkeypatch.setattr(index, "_clock", lambda: now[0])
        real_kill = Segment.kill_before
        calls = {"merged": 0}

        def kill_before(segment: Segment, cutoff: float) -> None:
            if len(segment.rows) > MAIN and int(segment.rows.ids[0]) == first_id:
                calls["merged"] += 1
                if calls["merged"] == 2:  # the first merge's swap (its build was the first call)
                    raise MemoryError
            real_kill(segment, cutoff)

        monkeypatch.setattr(Segment, "kill_before", kill_before)
        with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
            add(writer, hashes, MAIN, MAIN + 100, 2000.0)
            assert within(lambda: found(reader, hashes[:MAIN + 100])) == set(hashes[:MAIN + 100])
            assert index.wait_merged(30)
        assert any("MemoryError" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        assert index._merger is None and segments(index) == (MAIN, 100, 0, 0)  # the old segments answer
        assert found(reader, hashes[:MAIN + 100]) == set(hashes[:MAIN + 100])
        now[0] += read_index._MERGE_RETRY_S
        add(writer, hashes, MAIN + 100, MAIN + 200, 3000.0)  # a fold past the retry time starts it again
        assert found(reader, hashes) == set(hashes)
        assert index.wait_merged(30)
        assert segments(index)[:2] == (MAIN + 100, 0) and index.records == len(hashes)
        assert found(reader, hashes) == set(hashes)
