"""The background writer: never blocks or raises for the caller, batches, retries a failing store, bounds its
memory, purges by retention. Faults are injected around a real store; the records land in the real one."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from aiact_transparency.fingerprints import FingerprintRecord, FingerprintStore, FingerprintWriter, StoreError


def record(n: int, created_at: float | None = None) -> FingerprintRecord:
    digest = np.random.default_rng(n).integers(0, 256, 32, dtype=np.uint8).tobytes()
    return FingerprintRecord(sha256=hashlib.sha256(b"%d" % n).digest(), media_type="image/jpeg", size=n,
                             perceptual=digest, quality=90,
                             created_at=time.time() if created_at is None else created_at)


class Faulty:
    """A real store behind a switch: `down` makes writes fail, `gate` holds them until it is set."""

    def __init__(self, store: FingerprintStore) -> None:
        self.store = store
        self.down = 0  # how many more writes fail
        self.gate = threading.Event()
        self.gate.set()
        self.batches: list[int] = []

    def add_many(self, records: Sequence[FingerprintRecord]) -> int:
        self.gate.wait()
        if self.down:
            self.down -= 1
            raise StoreError("injected: the store is down")
        self.batches.append(len(records))
        return self.store.add_many(records)

    def purge(self, older_than: float, batch: int = 5000) -> int:
        return self.store.purge(older_than, batch)

    def optimize(self) -> None:
        self.store.optimize()


def writer_for(store: object, **options: object) -> FingerprintWriter:
    return FingerprintWriter(store, flush_interval=0.05, **options)  # type: ignore[arg-type]


def test_records_are_written_in_batches(store: FingerprintStore) -> None:
    faulty = Faulty(store)
    faulty.gate.clear()  # hold the first write so the rest pile up into full batches
    writer = writer_for(faulty, batch_size=50)
    try:
        for n in range(201):
            assert writer.submit(record(n))
        faulty.gate.set()
        assert writer.flush()
        assert store.stats().records == 201
        assert max(faulty.batches) == 50 and sum(faulty.batches) == 201
        counters = writer.counters
        assert (counters.submitted, counters.written, counters.dropped, counters.pending) == (201, 201, 0, 0)
    finally:
        writer.close()


def test_a_full_queue_drops_with_a_counted_warning_and_never_blocks(
    store: FingerprintStore, caplog: pytest.LogCaptureFixture
) -> None:
    faulty = Faulty(store)
    faulty.gate.clear()  # the store hangs: nothing leaves the queue after the first batch is taken
    writer = writer_for(faulty, queue_size=10, batch_size=1)
    try:
        with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
            results = [writer.submit(record(n)) for n in range(100)]  # returns although the store hangs
        assert results.count(False) == writer.counters.dropped >= 89
        assert any("dropped" in r.getMessage() for r in caplog.records)
        assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1  # rate-limited
        faulty.gate.set()
        assert writer.flush()
        counters = writer.counters
        assert counters.written + counters.dropped == counters.submitted == 100
        assert store.stats().records == counters.written
    finally:
        faulty.gate.set()
        writer.close()


def test_a_store_that_is_down_is_retried_with_backoff(
    store: FingerprintStore, caplog: pytest.LogCaptureFixture
) -> None:
    faulty = Faulty(store)
    faulty.down = 3
    writer = writer_for(faulty, max_backoff=0.2)
    try:
        with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
            assert writer.submit(record(1))
            assert writer.flush(timeout=30)
        counters = writer.counters
        assert (counters.written, counters.failed, counters.retried, counters.dropped) == (1, 3, 3, 0)
        assert store.stats().records == 1
        messages = [r.getMessage() for r in caplog.records]
        assert sum("failed (attempt" in m for m in messages) == 3
        assert all(record(1).sha256.hex() not in m for m in messages)  # no output data in the log
    finally:
        writer.close()


def test_closing_while_the_store_is_down_counts_the_lost_records(store: FingerprintStore) -> None:
    faulty = Faulty(store)
    faulty.down = 10**9
    writer = writer_for(faulty)
    for n in range(5):
        writer.submit(record(n))
    writer.close(timeout=0.5)
    counters = writer.counters
    assert counters.written == 0 and counters.dropped == 5 and counters.failed >= 1
    assert writer.submit(record(99)) is False  # a stopped writer drops, it does not raise
    assert writer.counters.dropped == 6


def test_the_writer_purges_by_retention(store: FingerprintStore) -> None:
    now = 1_900_000_000.0
    store.add_many([record(n, created_at=now - 400 * 86400) for n in range(3)])
    store.add_many([record(10 + n, created_at=now - 5 * 86400) for n in range(2)])
    writer = writer_for(store, retention_days=365, clock=lambda: now)  # the purge runs when it starts
    try:
        writer.submit(record(20, created_at=now))
        assert writer.flush()
        deadline = time.monotonic() + 30
        while writer.counters.purged < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.counters.purged == 3
        assert store.stats().records == 3
    finally:
        writer.close()


@pytest.mark.anyio
async def test_submit_from_the_event_loop_returns_while_the_store_hangs(store: FingerprintStore) -> None:
    faulty = Faulty(store)
    faulty.gate.clear()
    writer = writer_for(faulty)
    try:
        assert all(writer.submit(record(n)) for n in range(20))  # would deadlock here if it waited
        assert writer.counters.written == 0
    finally:
        faulty.gate.set()
        writer.close()
    assert store.stats().records == 20


def test_bad_sizes_are_refused(store: FingerprintStore) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FingerprintWriter(store, queue_size=0)
