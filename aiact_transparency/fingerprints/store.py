"""The fingerprint store: one interface, the same tables and queries on SQLite and PostgreSQL.

Tables (names prefixed fp_ so the log can share a database):

    fp_fingerprints  one row per marked output (record.FingerprintRecord), indexed by sha256, payload,
                     manifest_id and created_at
    fp_chunks        (key, fp_id, perceptual): the multi-index hashing table (mih.py), 16 rows per matchable
                     hash; the hash is repeated in each row so a lookup reads candidates from this one
                     B-tree (clustered in SQLite, an index-only scan in PostgreSQL), never the main table
    fp_text_bands    (key, fp_id): the LSH band table of text MinHash signatures (minhash.py), 32 rows per text
                     of at least 200 words; a lookup reads the few candidates' signatures from fp_fingerprints
    fp_manifests     manifest_id -> signed C2PA manifest store bytes (issue 18: soft-binding lookups go
                     through fp_fingerprints' payload and perceptual columns, then here by manifest id)

Backends differ only in connections, placeholders and bulk loading; `open_store(url)` picks one.

`nearest` asks the in-process read index (read_index.py) for the hashes within the distance when it fits in
`memory_index_mb`, else fp_chunks (the SQL path); either way the matches are read back from the tables.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..config.fingerprints import DEFAULT_INDEX_MB
from .indexed import index_rows_of, nearest_indexed
from .manifests import ManifestEntry
from .mih import chunk_keys, probe_keys
from .minhash import KIND as TEXT_KIND
from .minhash import MATCH_SIMILARITY, band_keys, similarity
from .pdq import MATCH_THRESHOLD
from .read_index import ReadIndex
from .record import KINDS, FingerprintRecord, Match
from .rows import COLUMNS, record_from_row
from .segments import IndexRows, popcount

__all__ = ["FingerprintStore", "StoreError", "StoreStats"]

_SELECT = "id, " + ", ".join(COLUMNS)
_INDEX_SELECT = ", ".join(_SELECT.split(", ")[:5])  # id, created_at, kind, perceptual, quality: what the index keeps
# Read beside each record: whether its manifest store is kept (a primary-key probe of fp_manifests).
_KEPT = "EXISTS (SELECT 1 FROM fp_manifests m WHERE m.manifest_id = fp_fingerprints.manifest_id)"
EXACT_FIELDS = ("sha256", "payload", "manifest_id")
EXPORT_PAGE = 1000
INDEX_PAGE = 50_000
_T = TypeVar("_T")
_I = TypeVar("_I")


class StoreError(RuntimeError):
    """The store could not be opened or answered with an error (the message names the store, never data)."""


@dataclass(frozen=True)
class StoreStats:
    records: int
    indexed: int  # records with a matchable perceptual hash (quality >= 50), i.e. in fp_chunks
    manifests: int
    oldest: float | None
    newest: float | None
    by_media_type: dict[str, int]
    bytes_on_disk: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def closest(hashes: bytes, query: bytes, max_distance: int) -> list[tuple[bytes, int]]:
    """(hash, distance) of the candidate hashes within max_distance of the query. Candidates come
    concatenated, 32 bytes each, as the database aggregated them."""
    if not hashes:
        return []
    stored = np.frombuffer(hashes, dtype=np.uint64).reshape(-1, 4)
    distances = popcount(stored ^ np.frombuffer(query, dtype=np.uint64))
    return [(hashes[32 * int(i) : 32 * int(i) + 32], int(distances[i]))
            for i in np.flatnonzero(distances <= max_distance)]


class FingerprintStore(ABC):
    """Thread-safe: the writer thread adds while lookups run in worker threads."""

    url_scheme: str

    def __init__(self, *, lookup_threads: int = 2, memory_index_mb: int = DEFAULT_INDEX_MB,
                 index_refresh_ms: float = 0.0) -> None:
        """memory_index_mb: the most memory the in-process read index of perceptual hashes may hold
        (read_index.py: ~133 MiB per 1,000,000 hashes); above it, or at 0, lookups are answered by SQL.
        index_refresh_ms: how stale the index may be (0: it reads new rows before every lookup)."""
        if not 1 <= lookup_threads <= 16:
            raise ValueError("lookup_threads must be 1-16")
        if memory_index_mb < 0 or index_refresh_ms < 0:
            raise ValueError("memory_index_mb and index_refresh_ms must be >= 0")
        self._closed = False
        self._lock = threading.Lock()
        self.lookup_threads = lookup_threads
        self._executor: ThreadPoolExecutor | None = None
        self.read_index = ReadIndex(self._index_rows, max_bytes=memory_index_mb * 2**20,
                                    refresh_ms=index_refresh_ms, size_hint=self._largest_id)

    # -- backend primitives ------------------------------------------------------------------------------
    @abstractmethod
    def _insert(self, records: Sequence[FingerprintRecord]) -> None: ...

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _candidates(self, keys: Sequence[int]) -> bytes:
        """The hashes (32 bytes each, concatenated) of every fp_chunks row under one of the keys: one
        aggregated row from the database, so no per-candidate Python object is made."""

    @abstractmethod
    def _purge_batch(self, cutoff: float, batch: int) -> int: ...

    @abstractmethod
    def _bytes_on_disk(self) -> int: ...

    @abstractmethod
    def put_manifest(self, manifest_id: str, store: bytes, created_at: float) -> None:
        """Keep a signed C2PA manifest store (issue 18); a second put of the same id keeps the first."""

    @abstractmethod
    def optimize(self) -> None:
        """Refresh the planner's statistics (after bulk loads and purges)."""

    @abstractmethod
    def close(self) -> None: ...

    ph = "?"  # the backend's parameter placeholder

    # -- the interface -----------------------------------------------------------------------------------
    def add_many(self, records: Sequence[FingerprintRecord]) -> int:
        """Store records in one transaction: all or none. Returns how many were stored."""
        if records:
            self._insert(records)
        return len(records)

    def find_exact(self, field: str, value: bytes | str, limit: int = 10, *, manifests: bool = False) -> list[Match]:
        """Records whose `field` is `value`, newest first; `manifests`: read with each whether its manifest store is
        kept (Match.manifest_kept; one primary-key probe more per record)."""
        if field not in EXACT_FIELDS:
            raise ValueError(f"exact lookups are by {', '.join(EXACT_FIELDS)}, not {field!r}")
        # No ORDER BY id ... LIMIT: it tempts PostgreSQL into walking the primary key instead of the index.
        columns = f"{_SELECT}, {_KEPT}" if manifests else _SELECT
        rows = self._query(f"SELECT {columns} FROM fp_fingerprints WHERE {field} = {self.ph}", (value,))
        rows.sort(key=lambda row: -int(row[0]))  # newest first; exact values repeat rarely
        return [self.match_of(row, field) for row in rows[:limit]]

    @staticmethod
    def match_of(row: Sequence[Any], by: str, distance: int | None = None, variant: int | None = None) -> Match:
        """A row of `_SELECT` (and `_KEPT`, when read) as a match."""
        kept = bool(row[len(COLUMNS) + 1]) if len(row) > len(COLUMNS) + 1 else None
        return Match(record_from_row(row), by, distance, variant, manifest_kept=kept)

    def _ids_clause(self, ids: Sequence[int]) -> tuple[str, Any]:
        """`id <clause>` matching these ids, as one parameter (one statement text whatever their number)."""
        return "IN (SELECT value FROM json_each(?))", "[" + ",".join(str(int(i)) for i in ids) + "]"

    def _rows_and_new(self, ids: Sequence[int], after: int | None, manifests: bool = False
                      ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], bool]:
        """In one statement: the records with these ids, and (after not None) every record above `after`, one
        page at most: (records asked for, new records by id, whether the new ones are complete). `manifests`:
        each with whether its manifest store is kept."""
        columns = f"{_SELECT}, {_KEPT}" if manifests else _SELECT
        parts: list[str] = []
        params: list[Any] = []
        if ids:
            clause, value = self._ids_clause(ids)
            parts.append(f"SELECT {columns} FROM fp_fingerprints WHERE id {clause}")
            params.append(value)
        if after is not None:
            parts.append(f"SELECT * FROM (SELECT {columns} FROM fp_fingerprints WHERE id > {self.ph} "
                         f"ORDER BY id LIMIT {INDEX_PAGE}) AS new")
            params.append(after)
        if not parts:
            return [], [], True
        rows = self._query(" UNION ALL ".join(parts), params)
        if after is None:
            return rows, [], True
        new = sorted((row for row in rows if int(row[0]) > after), key=lambda row: int(row[0]))
        return [row for row in rows if int(row[0]) <= after], new, len(new) < INDEX_PAGE

    def nearest(
        self, digests: Sequence[bytes], *, kind: str = "pdq", max_distance: int = MATCH_THRESHOLD, limit: int = 10,
        manifests: bool = False,
    ) -> list[Match]:
        """Stored hashes of `kind` within max_distance of any digest (e.g. the 8 dihedral variants of one
        query), closest first; Match.variant is the index of the digest that came closest. `manifests`: as for
        find_exact (read through the read index only; the SQL path leaves Match.manifest_kept None)."""
        if not digests:
            return []
        if not 0 <= max_distance <= MATCH_THRESHOLD:
            raise ValueError(f"max_distance must be 0-{MATCH_THRESHOLD} (the index guarantees no more)")
        code = KINDS[kind]
        answered = nearest_indexed(self, digests, code, max_distance, limit, manifests)
        if answered is not None:
            return answered
        found = sorted((d, v, h) for h, d, v in self._sql_search(digests, code, max_distance))  # closest first
        matches: list[Match] = []
        # The few hashes that matched, back to their records: the first chunk's key and the hash pick the
        # fp_chunks rows by primary key prefix (a purged record is simply gone).
        sql = (f"SELECT {', '.join('f.' + c for c in _SELECT.split(', '))} FROM fp_chunks c "
               f"JOIN fp_fingerprints f ON f.id = c.fp_id WHERE c.key = {self.ph} AND c.perceptual = {self.ph}")
        for distance, variant, digest in found:
            rows = self._query(sql, (chunk_keys(digest, code)[0], digest))
            matches.extend(Match(record_from_row(row), "perceptual", distance, variant)
                           for row in sorted(rows, key=lambda r: -int(r[0])))
            if len(matches) >= limit:
                break
        return matches[:limit]

    def _records_by_id(self, hits: Sequence[tuple[bytes, int, int, list[int]]], limit: int, manifests: bool = False
                       ) -> list[Match]:
        """The read index's hits (hash, distance, variant, ids) as matches, closest first, newest first within a
        hash: their records read by primary key, up to `limit` ids per round trip (a record purged by another
        replica is simply not there)."""
        pending = sorted(hits, key=lambda hit: (hit[1], hit[2], hit[0]))  # as the SQL path orders them
        matches: list[Match] = []
        while pending and len(matches) < limit:
            batch: list[tuple[bytes, int, int, list[int]]] = []
            while pending and sum(len(hit[3]) for hit in batch) < limit:
                batch.append(pending.pop(0))
            found, _, _ = self._rows_and_new([fp_id for hit in batch for fp_id in hit[3]], None, manifests)
            rows = {int(row[0]): row for row in found}
            matches.extend(self.match_of(rows[fp_id], "perceptual", distance, variant)
                           for _, distance, variant, ids in batch for fp_id in ids if fp_id in rows)
        return matches[:limit]

    def _sql_search(self, digests: Sequence[bytes], code: int, max_distance: int) -> list[tuple[bytes, int, int]]:
        """(hash, distance, variant) of the stored hashes within max_distance of a digest, from fp_chunks."""
        # Each variant's candidates are checked against that variant only (8x less arithmetic than checking
        # every candidate against all 8). The variants are split into lookup_threads groups, each group one
        # round trip on its own connection (_candidates_each), the groups in parallel.
        def search(group: Sequence[int]) -> list[tuple[bytes, int, int]]:
            blobs = self._candidates_each([probe_keys([digests[v]], code) for v in group])
            return [(h, d, v) for v, blob in zip(group, blobs, strict=True)
                    for h, d in closest(blob, digests[v], max_distance)]

        parts = min(self.lookup_threads, len(digests))
        groups = [range(len(digests))[n::parts] for n in range(parts)]
        best: dict[bytes, tuple[int, int]] = {}
        for hits in self._fan_out(search, groups):
            for digest, distance, variant in hits:
                if digest not in best or (distance, variant) < best[digest]:
                    best[digest] = (distance, variant)
        return [(h, d, v) for h, (d, v) in best.items()]

    def _largest_id(self) -> int:
        """About how many records the store holds, from the primary key's end (no count over the table)."""
        rows = self._query("SELECT MAX(id) FROM fp_fingerprints", ())
        return int(rows[0][0] or 0) if rows else 0

    def _index_rows(self, after_id: int) -> IndexRows:
        """The read index's rows: every matchable hash with an id above after_id, page by page by primary key."""
        parts: list[IndexRows] = []
        while True:
            rows = self._query(f"SELECT {_INDEX_SELECT} FROM fp_fingerprints WHERE id > {self.ph} ORDER BY id "
                               f"LIMIT {INDEX_PAGE}", (after_id,))
            if rows:
                after_id = int(rows[-1][0])
            parts.append(index_rows_of(rows, after_id))
            if len(rows) < INDEX_PAGE:
                return IndexRows.concat(parts)

    def similar_texts(self, signature: bytes, *, min_similarity: float = MATCH_SIMILARITY, limit: int = 10
                      ) -> list[Match]:
        """Stored texts whose MinHash signature is at least `min_similarity` like this one, most similar
        first: the candidates sharing a band key (one indexed IN list), then each signature compared in full."""
        if not 0 < min_similarity <= 1:
            raise ValueError("min_similarity must be in (0, 1]")
        keys = band_keys(signature)
        marks = ", ".join([self.ph] * len(keys))
        rows = self._query(f"SELECT {_SELECT} FROM fp_fingerprints WHERE id IN "
                           f"(SELECT fp_id FROM fp_text_bands WHERE key IN ({marks}))", keys)
        scored = [(similarity(bytes(row[3]), signature), -int(row[0]), row) for row in rows
                  if row[2] == TEXT_KIND and row[3] is not None]
        scored.sort(reverse=True)
        return [Match(record_from_row(row), "text", similarity=score) for score, _, row in scored
                if score >= min_similarity][:limit]

    def _candidates_each(self, key_sets: Sequence[Sequence[int]]) -> list[bytes]:
        """`_candidates` of several key sets (one per orientation), in one round trip where the backend can."""
        return [self._candidates(keys) for keys in key_sets]

    def _fan_out(self, work: Callable[[_I], _T], items: Sequence[_I]) -> Iterator[_T]:
        """work(item) for each item, on up to `lookup_threads` connections at once (the database searches
        with the GIL released, so the variants of one lookup really run in parallel)."""
        if self.lookup_threads < 2 or len(items) < 2:
            return map(work, items)
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.lookup_threads, thread_name_prefix="aiact-fp-lookup")
            executor = self._executor
        return executor.map(work, items)

    def _shutdown_lookups(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def get_manifest(self, manifest_id: str) -> bytes | None:
        rows = self._query(f"SELECT store FROM fp_manifests WHERE manifest_id = {self.ph}", (manifest_id,))
        return bytes(rows[0][0]) if rows else None

    # -- manifest stores (issue 18, fingerprints/manifests.py) ---------------------------------------------
    def put_manifests(self, entries: Sequence[ManifestEntry]) -> int:
        """Keep signed manifest stores; an id already kept keeps its first store. The backends write a batch
        in one transaction; this fallback puts them one by one."""
        for entry in entries:
            self.put_manifest(entry.manifest_id, entry.store, entry.created_at)
        return len(entries)

    def kept_manifests(self, manifest_ids: Sequence[str]) -> set[str]:
        """Which of these ids have a stored manifest (a record can name one that was never kept)."""
        wanted = sorted(set(manifest_ids))
        if not wanted:
            return set()
        marks = ", ".join([self.ph] * len(wanted))
        rows = self._query(f"SELECT manifest_id FROM fp_manifests WHERE manifest_id IN ({marks})", wanted)
        return {str(row[0]) for row in rows}

    def export_manifests(self, since: float | None = None, until: float | None = None) -> Iterator[ManifestEntry]:
        """Every kept manifest store created in [since, until), by id, page by page (constant memory)."""
        last = ""
        low = since if since is not None else float("-inf")
        high = until if until is not None else float("inf")
        ph = self.ph
        while True:
            rows = self._query(
                f"SELECT manifest_id, created_at, store FROM fp_manifests WHERE manifest_id > {ph} "
                f"AND created_at >= {ph} AND created_at < {ph} ORDER BY manifest_id LIMIT {EXPORT_PAGE // 10}",
                (last, low, high),
            )
            yield from (ManifestEntry(str(m), bytes(store), float(at)) for m, at, store in rows)
            if len(rows) < EXPORT_PAGE // 10:
                return
            last = str(rows[-1][0])

    def purge(self, older_than: float, batch: int = 5000) -> int:
        """Delete records (and manifests) created before `older_than` (epoch seconds); returns the count."""
        total = 0
        while True:
            deleted = self._purge_batch(older_than, batch)
            total += deleted
            if deleted < batch:
                self.read_index.purged(older_than)
                return total

    def stats(self) -> StoreStats:
        (records, oldest, newest), = self._query("SELECT COUNT(*), MIN(created_at), MAX(created_at) "
                                                 "FROM fp_fingerprints", ())
        (chunk_rows_,), = self._query("SELECT COUNT(*) FROM fp_chunks", ())  # 16 per indexed record
        (manifests,), = self._query("SELECT COUNT(*) FROM fp_manifests", ())
        by_type = self._query("SELECT media_type, COUNT(*) FROM fp_fingerprints GROUP BY media_type", ())
        return StoreStats(
            records=int(records), indexed=int(chunk_rows_) // 16, manifests=int(manifests),
            oldest=float(oldest) if oldest is not None else None,
            newest=float(newest) if newest is not None else None,
            by_media_type={str(t): int(n) for t, n in by_type}, bytes_on_disk=self._bytes_on_disk(),
        )

    def export(self, since: float | None = None, until: float | None = None) -> Iterator[FingerprintRecord]:
        """Every record in [since, until) in insertion order, read page by page (constant memory)."""
        last = 0
        low = since if since is not None else float("-inf")
        high = until if until is not None else float("inf")
        ph = self.ph
        while True:
            rows = self._query(
                f"SELECT {_SELECT} FROM fp_fingerprints WHERE id > {ph} AND created_at >= {ph} AND created_at < {ph}"
                f" ORDER BY id LIMIT {EXPORT_PAGE}",
                (last, low, high),
            )
            yield from (record_from_row(row) for row in rows)
            if len(rows) < EXPORT_PAGE:
                return
            last = int(rows[-1][0])

    def __enter__(self) -> FingerprintStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

