"""The batched background writer: responses hand records over and never wait for the store.

`submit()` puts a record on a bounded queue and returns at once; it never raises and never blocks. A full
queue drops the record with a counted WARNING (memory stays bounded whatever the store does). One daemon
thread takes up to `batch_size` records at a time, writes them in one transaction, and when the store fails
keeps the batch and retries it with exponential backoff (capped), counting each failure; records that arrive
meanwhile wait in the queue or are dropped when it is full. The same thread runs the retention purge every
`purge_interval` seconds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .manifests import ManifestEntry
from .record import FingerprintRecord
from .store import FingerprintStore

__all__ = ["FingerprintWriter", "WriterCounters"]

log = logging.getLogger("aiact_transparency.fingerprints")
_DAY = 86400.0


@dataclass(frozen=True)
class WriterCounters:
    submitted: int
    written: int
    dropped: int  # the queue was full (or the writer stopped) when they arrived
    failed: int  # failed write attempts (each batch may fail several times before it is written)
    retried: int  # attempts after a failure
    purged: int
    pending: int  # in the queue or in the batch being written
    manifests_written: int = 0  # signed manifest stores kept beside the records (ManifestEntry, issue 18)


class FingerprintWriter:
    def __init__(
        self,
        store: FingerprintStore,
        *,
        retention_days: float | None = 365,
        queue_size: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.5,
        max_backoff: float = 30.0,
        purge_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        self.store = store
        self.retention_days = retention_days
        self._queue: queue.Queue[FingerprintRecord | ManifestEntry] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_backoff = max_backoff
        self._purge_interval = purge_interval
        self._clock = clock
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._count_lock = threading.Lock()  # submit() runs on any thread; += on a dict item is not atomic
        self._counts = {"submitted": 0, "written": 0, "dropped": 0, "failed": 0, "retried": 0, "purged": 0,
                        "manifests_written": 0}
        self._in_flight = 0
        self._last_drop_log = 0.0
        self._thread = threading.Thread(target=self._run, name="aiact-fingerprint-writer", daemon=True)
        self._thread.start()

    def _add(self, name: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[name] += n

    def submit(self, record: FingerprintRecord | ManifestEntry) -> bool:
        """Queue a record (or a manifest store) for writing; False (and a counted, rate-limited WARNING) when it
        had to be dropped. Manifest stores share the queue, the batches and the retries of the records."""
        if isinstance(record, FingerprintRecord):
            self._add("submitted")
        if not self._stop.is_set():
            try:
                self._queue.put_nowait(record)
                return True
            except queue.Full:
                pass
        self._add("dropped")
        now = time.monotonic()
        if now - self._last_drop_log >= 10.0:  # one line per 10 s: a dead store must not flood the log
            self._last_drop_log = now
            log.warning("fingerprint log: queue full or writer stopped, %d record(s) dropped so far",
                        self._counts["dropped"])
        return False

    @property
    def counters(self) -> WriterCounters:
        with self._count_lock:
            counts = dict(self._counts)
        return WriterCounters(**counts, pending=self._queue.qsize() + self._in_flight)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or dropped); True when it was in time."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to timeout), then stop the thread. The store stays open (its owner's)."""
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------------------------
    def _take_batch(self) -> list[FingerprintRecord | ManifestEntry]:
        try:
            batch = [self._queue.get(timeout=self._flush_interval)]
        except queue.Empty:
            return []
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[FingerprintRecord | ManifestEntry]) -> None:
        backoff = 0.1
        attempt = 0
        records = [item for item in batch if isinstance(item, FingerprintRecord)]
        manifests = [item for item in batch if isinstance(item, ManifestEntry)]
        stored_manifests = False
        while True:
            try:
                # Manifests first: a record never names a manifest that a crash kept from being stored, and a
                # retry after the records failed puts the manifests again harmlessly (the first store stays).
                if manifests and not stored_manifests:
                    self.store.put_manifests(manifests)
                    stored_manifests = True
                    self._add("manifests_written", len(manifests))
                if records:
                    self.store.add_many(records)
                self._add("written", len(records))
                return
            except Exception as exc:  # any store failure: keep the batch, log, back off, try again
                self._add("failed")
                log.warning("fingerprint log: writing %d record(s) failed (attempt %d), retrying in %.1f s: %s",
                            len(batch), attempt + 1, backoff, exc)
            if self._stop.wait(backoff):
                self._add("dropped", len(batch))
                log.warning("fingerprint log: stopped with %d unwritten record(s)", len(batch))
                return
            attempt += 1
            self._add("retried")
            backoff = min(backoff * 2, self._max_backoff)

    def _purge(self) -> None:
        if self.retention_days is None:
            return
        try:
            purged = self.store.purge(self._clock() - self.retention_days * _DAY)
            self._add("purged", purged)
            if purged:
                self.store.optimize()
        except Exception as exc:  # the next purge tries again; writes go on
            log.warning("fingerprint log: retention purge failed: %s", exc)

    def _run(self) -> None:
        next_purge = time.monotonic()
        while not (self._stop.is_set() and self._queue.empty()):
            if time.monotonic() >= next_purge:
                self._purge()
                next_purge = time.monotonic() + self._purge_interval
            batch = self._take_batch()
            if not batch:
                continue
            self._in_flight = len(batch)
            try:
                self._write(batch)
            finally:
                self._in_flight = 0
                for _ in batch:
                    self._queue.task_done()
                with self._idle:
                    self._idle.notify_all()
