"""An in-process read index of the perceptual hashes in the store: multi-index hashing (mih.py) in numpy.

Why: at 1M stored hashes an 8-orientation lookup is 2,176 key probes; in SQL each is an index descent
(~9 buffer hits on PostgreSQL), 45-78 ms p99 on a loaded 2-core box. Here a probe is two reads of an offsets
array and the candidates (~33,000 per 8-orientation lookup at 1M) are gathered and compared by popcount in
a few vectorised numpy calls: well under a millisecond of arithmetic.

Freshness: every lookup reads the rows with an id above the last one seen (a primary-key range scan; empty
when nothing was added), in the same statement that reads its matches back (indexed.py: one round trip), at
most every `refresh_ms` (default 0: every lookup); `refresh` does the same alone (the first load). New rows
wait in a small unsorted tail, compared one by one; past `_TAIL_ROWS` they are sorted into a second segment
(its cost proportional to its size); when that outgrows an eighth of the main one both are merged in the
background (Merges, below). Ids are handed out in commit order on both backends (SQLite: under BEGIN
IMMEDIATE; PostgreSQL: under a transaction advisory lock, _postgres.py), so a row with a lower id can never
commit after one with a higher id has been seen: nothing is skipped, and two replicas sharing one PostgreSQL
see each other's outputs on their next lookup.

First load: a store of more than `BACKGROUND_LOAD_ABOVE` rows (by its largest id) is loaded in a thread
(~5 s at 1,000,000 rows on the 2-core box), and lookups are answered from SQL until it is in, so the first
request after a start never waits for it; a smaller store loads in the first lookup (milliseconds).

Merges: the delta that outgrew an eighth of main moves aside (still searched) and one thread at a time builds
main and it into one segment, leaving purged rows out (~0.1 s at 200,000 rows, ~0.6 s at 1,000,000 on a quiet
2-core box, seconds on a loaded one), then swaps it in under the lock. It used to run inside the lookup that
brought the row over the line, under the lock every lookup bringing new rows takes: they all waited for it.
Meanwhile lookups search the old main, the delta being merged, a new delta and the tail, and keep adding rows
to the new delta and the tail, which the swap leaves alone; a purge meanwhile marks the old segments dead and
is applied to the merged one at the swap. A merge that fails (MemoryError, anything) logs a warning and leaves
the old segments in place: the index answers as before, and the merge is tried again `_MERGE_RETRY_S` later at
the earliest. Memory: the merged segment is the "about as much again" above; the delta aside is one segment's
offsets more, counted in `bytes_for`.

Purges: the store's own purge marks every row created before the cutoff dead (exactly what it deleted).
Another replica's purge is not seen here, but the index only proposes hashes: the store reads each match back
from SQL (indexed.py), so a record purged elsewhere is simply not found, as before; its row
leaves the index at the next full rebuild. Rows dead here leave it at the next merge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from .segments import BYTES_PER_RECORD, SEGMENT_BYTES, IndexRows, Segment, pick, scan

__all__ = ["BACKGROUND_LOAD_ABOVE", "ReadIndex"]

_MIN_DELTA = 4096
# New rows wait in an unsorted tail, compared one by one (2,048 x 8 orientations: ~0.1 ms), before they are
# sorted into the delta segment: rebuilding the delta at every lookup that brought rows cost in proportion to
# the delta (up to an eighth of the main segment: ~100 ms at 1M), paid by the lookups while the writer adds.
_TAIL_ROWS = 2048
BACKGROUND_LOAD_ABOVE = 50_000  # rows; ~0.3 s of loading below it
_MERGE_RETRY_S = 60.0  # after a failed merge (out of memory, most likely): not again before this
log = logging.getLogger("aiact_transparency.fingerprints")


class ReadIndex:
    """The perceptual hashes of one store in memory. Thread-safe: lookups read immutable segments; refreshes
    and rebuilds swap them under a lock."""

    def __init__(self, fetch: Callable[[int], IndexRows], *, max_bytes: int, refresh_ms: float = 0.0,
                 clock: Callable[[], float] | None = None, size_hint: Callable[[], int] | None = None) -> None:
        """fetch(after_id): the indexed rows with an id above after_id, ascending (all when 0). size_hint():
        about how many rows the store holds (its largest id), read once to decide how the first load runs."""
        import time

        self._fetch = fetch
        self._size_hint = size_hint
        self._loader: threading.Thread | None = None
        self.max_bytes = max_bytes
        self.refresh_ms = refresh_ms
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        # Searched tail, then delta, then merging, then main, and replaced main, then merging, then delta, then
        # tail (the first load: delta, then main), and `_last_id` moved last: a row only ever moves to a slot
        # searched after the one it leaves, put there before it leaves, so a search running beside a fold, a
        # merge's start or its swap may see a row twice (the ids are a set), never miss one.
        self._main: Segment | None = None
        self._merging: Segment | None = None  # the delta being merged into main by `_merger`
        self._delta: Segment | None = None
        self._tail = IndexRows.empty()
        self._merger: threading.Thread | None = None  # set and cleared under _lock: at most one merge at a time
        self._merge_after = float("-inf")  # a failed merge is not retried before this clock time
        self._last_id = 0
        self._fresh_at = float("-inf")
        self._cutoff = float("-inf")  # the latest purge's: rows created before it are dead
        self.disabled = max_bytes <= 0

    @staticmethod
    def bytes_for(records: int) -> int:
        """Memory held for this many indexed hashes (three segments' offsets included: main, delta and a delta
        being merged)."""
        return records * BYTES_PER_RECORD + 3 * SEGMENT_BYTES

    @property
    def records(self) -> int:
        segments = (self._main, self._merging, self._delta)
        return len(self._tail) + sum(len(s.rows) for s in segments if s is not None)

    def refresh(self) -> bool:
        """Bring in rows added since the last refresh; False when the index is off (too big for max_bytes) or
        still loading in the background (the store answers from SQL meanwhile)."""
        if self.disabled:
            return False
        if self._main is None and self._load_in_background():
            return False
        return self._update()

    def _load_in_background(self) -> bool:
        """True while a first load runs in its thread (started here when the store is large). The loading thread
        holds `_lock` for the whole load, so lookups meanwhile must not wait on it: a lock of its own starts it."""
        loader = self._loader
        if loader is not None:
            return loader.is_alive()
        with self._start_lock:
            if self._loader is not None:
                return self._loader.is_alive()
            if self._size_hint is None or self._size_hint() <= BACKGROUND_LOAD_ABOVE:
                return False
            self._loader = threading.Thread(target=self._first_load, name="aiact-fingerprint-index", daemon=True)
            self._loader.start()
            return True

    def _first_load(self) -> None:
        try:
            self._update()
        except Exception as exc:  # the database went away: lookups stay on SQL, the next one tries again
            log.warning("fingerprint read index: first load failed (%s); lookups use SQL meanwhile",
                        type(exc).__name__)
            with self._start_lock:
                self._loader = None

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for a background first load (tests, benchmarks); True when the index answers lookups."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
        return self._main is not None and not self.disabled

    def wait_merged(self, timeout: float | None = None) -> bool:
        """Wait for a background merge (tests, benchmarks); True when none is running."""
        merger = self._merger
        if merger is not None:
            merger.join(timeout)
            return not merger.is_alive()
        return True

    def _update(self) -> bool:
        now = self._clock()
        if self._main is not None and (now - self._fresh_at) * 1000 < self.refresh_ms:
            return True
        with self._lock:
            if self.disabled:
                return False
            return self._add(self._fetch(self._last_id), now)

    @property
    def ready(self) -> bool:
        """Loaded and on: `search` answers for every row up to `last_id`."""
        return self._main is not None and not self.disabled

    @property
    def last_id(self) -> int:
        return self._last_id

    def due(self) -> bool:
        """Whether a lookup should read the rows added since the last one (refresh_ms: how stale it may be)."""
        return (self._clock() - self._fresh_at) * 1000 >= self.refresh_ms

    def ingest(self, after_id: int, new: IndexRows, *, complete: bool) -> bool:
        """Rows a lookup read itself (every row above after_id, in one round trip with its matches, store.py):
        added as a refresh would add them. `complete`: nothing above them was left unread (else the rest is
        fetched here). False when the index turned itself off (over max_bytes)."""
        now = self._clock()
        with self._lock:
            if self.disabled:
                return False
            # Another lookup may have got there first: keep only what is still new.
            fresh = new if after_id == self._last_id else new.since(self._last_id)
            if not self._add(fresh, now, keep_time=not complete):
                return False
            if not complete:
                return self._add(self._fetch(self._last_id), now)
        return True

    def _add(self, new: IndexRows, now: float, *, keep_time: bool = False) -> bool:
        """Add rows read from the store (under _lock). `last_id` moves only once the rows are searchable: a lookup
        reads it without the lock and asks SQL for the rows above it, so moving it first (a segment build takes
        up to seconds at 1M) let a concurrent lookup miss rows already stored."""
        if not keep_time:
            self._fresh_at = now
        last_id = max(self._last_id, new.through, int(new.ids[-1]) if len(new) else 0)
        if len(new) == 0 and self._main is not None:
            self._last_id = last_id
            return True
        if self.bytes_for(self.records + len(new)) > self.max_bytes:
            # Over the bound: off for good, SQL answers. `disabled` first: a lookup that searched while the
            # segments were being dropped sees it after its search and asks SQL instead (indexed.py).
            self.disabled = True
            self._main = self._merging = self._delta = None
            self._tail = IndexRows.empty()
            log.warning("fingerprint read index: %d hashes would pass memory_index_mb; lookups are answered by "
                        "SQL from now on (raise fingerprints.memory_index_mb to keep the index)", self.records
                        + len(new))
            return False
        tail = IndexRows.concat([self._tail, new]) if len(self._tail) else new
        if self._main is not None and len(tail) <= _TAIL_ROWS:
            self._tail = tail
            self._last_id = last_id
            return True
        main = self._main.rows if self._main is not None else IndexRows.empty()
        delta = IndexRows.concat([self._delta.rows, tail]) if self._delta is not None else tail
        if self._main is None and len(delta) > _MIN_DELTA:  # the first load, a large one: one segment
            self._main, self._delta = self._segment(delta, drop_dead=True), None
        elif self._main is None:  # the first load: delta in place before main, whose presence makes `ready` true
            first_main, self._delta = self._segment(main), self._segment(delta) if len(delta) else None
            self._main = first_main
        else:  # sorted here (its cost proportional to its size); merged into main in the background
            self._delta = self._segment(delta) if len(delta) else None
        self._tail = IndexRows.empty(tail.through)
        self._last_id = last_id
        self._start_merge()
        return True

    def _start_merge(self) -> None:
        """Under _lock: when the delta outgrew an eighth of main (or a failed merge is due again), start the one
        thread that merges them; lookups meanwhile search and add beside it (module docstring)."""
        main = self._main
        if self._merger is not None or main is None or self._clock() < self._merge_after:
            return
        if self._merging is None:
            delta = self._delta
            if delta is None or len(delta.rows) <= max(_MIN_DELTA, len(main.rows) // 8):
                return
            self._merging = delta  # searched after the delta: in place before it leaves (see __init__)
            self._delta = None
        merger = threading.Thread(target=self._merge, args=(main, self._merging), name="aiact-fingerprint-merge",
                                  daemon=True)
        try:
            merger.start()  # it clears `_merger` under _lock, held here: set after the start all the same
        except RuntimeError as exc:  # no thread to be had: the delta stays aside, searched, until the retry
            self._merge_failed(exc)
            return
        self._merger = merger

    def _merge_failed(self, exc: BaseException) -> None:
        """Under _lock: the old segments keep answering; the merge is tried again at a fold `_MERGE_RETRY_S` on."""
        log.warning("fingerprint read index: merging its segments failed (%s); lookups go on with the unmerged "
                    "ones, retried in %.0f s at the earliest", type(exc).__name__, _MERGE_RETRY_S)
        self._merge_after = self._clock() + _MERGE_RETRY_S
        self._merger = None

    def _merge(self, main: Segment, merging: Segment) -> None:
        """The merge thread: main and the delta aside built into one segment without the lock, swapped in under
        it with the latest purge applied. Rows added meanwhile are in the new delta and the tail, untouched."""
        try:
            merged = self._segment(IndexRows.concat([main.rows, merging.rows]), drop_dead=True)
        except Exception as exc:  # MemoryError most likely
            with self._lock:
                self._merge_failed(exc)
            return
        with self._lock:
            try:
                if self._main is main and self._merging is merging:  # (not when the index turned itself off)
                    merged.kill_before(self._cutoff)  # a purge while it was built
                    self._main = merged  # main before merging (see __init__); `_last_id` stays: nothing new
                    self._merging = None
            except Exception as exc:  # kill_before allocates: the old segments stay, the retry comes later
                self._merge_failed(exc)
            finally:
                self._merger = None  # else no merge would ever start again

    def _segment(self, rows: IndexRows, *, drop_dead: bool = False) -> Segment:
        """A segment of these rows, those purged marked dead (or left out: a merge drops them)."""
        if drop_dead:
            rows = pick(rows, np.flatnonzero(rows.created >= self._cutoff))
        segment = Segment(rows)
        segment.kill_before(self._cutoff)
        return segment

    def search(self, digests: Sequence[bytes], code: int, max_distance: int
               ) -> list[tuple[bytes, int, int, list[int]]]:
        """(hash, distance, variant, record ids) of each stored hash within max_distance of a digest, at its
        closest variant (a hash stored for several outputs: all their ids)."""
        queries = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 32)
        best: dict[bytes, tuple[int, int]] = {}
        ids: dict[bytes, set[int]] = {}
        tail = self._tail  # read in this order (see __init__)
        delta, merging, main = self._delta, self._merging, self._main
        live = np.flatnonzero((tail.kinds == code) & (tail.created >= self._cutoff))
        found = [(pick(tail, live), *scan(tail.hashes[live], queries, max_distance))]
        found += [(segment.rows, *segment.search(queries, code, max_distance))
                  for segment in (delta, merging, main) if segment is not None]
        for rows_of, rows, distances, which in found:
            for row, distance, variant in zip(rows.tolist(), distances.tolist(), which.tolist(), strict=True):
                digest = rows_of.hashes[row].tobytes()
                ids.setdefault(digest, set()).add(int(rows_of.ids[row]))
                if digest not in best or (distance, variant) < best[digest]:
                    best[digest] = (distance, variant)
        return [(h, d, v, sorted(ids[h], reverse=True)) for h, (d, v) in best.items()]

    def purged(self, cutoff: float) -> None:
        """The store deleted every record created before cutoff."""
        with self._lock:
            self._cutoff = max(self._cutoff, cutoff)
            for segment in (self._main, self._merging, self._delta):  # a merge under way: applied at its swap
                if segment is not None:
                    segment.kill_before(cutoff)
