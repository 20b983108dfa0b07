"""The fingerprint store: one interface, the same tables and queries on SQLite and PostgreSQL.

Tables (names prefixed fp_ so the log can share a database):

    fp_fingerprints  one row per marked output (record.FingerprintRecord), indexed by sha256, payload,
                     manifest_id and created_at
    fp_chunks        (key, fp_id): the multi-index hashing table (mih.py), 16 rows per matchable hash
    fp_manifests     manifest_id -> signed C2PA manifest store bytes (issue 18: soft-binding lookups go
                     through fp_fingerprints' payload and perceptual columns, then here by manifest id)

Backends differ only in connections, placeholders and bulk loading; `open_store(url)` picks one.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .mih import chunk_key_matrix, probe_keys
from .pdq import MATCH_THRESHOLD, MIN_QUALITY
from .record import KINDS, FingerprintRecord, Match

__all__ = ["FingerprintStore", "StoreError", "StoreStats", "open_store"]

COLUMNS = ("created_at", "kind", "perceptual", "quality", "sha256", "payload", "manifest_id", "media_type",
           "size", "route")
_SELECT = "id, " + ", ".join(COLUMNS)
EXACT_FIELDS = ("sha256", "payload", "manifest_id")
EXPORT_PAGE = 1000


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


def is_indexed(kind: str, perceptual: bytes | None, quality: int | None) -> bool:
    """Whether a hash goes into the perceptual index: PDQ's reference ignores quality <= 49."""
    return perceptual is not None and kind != "none" and quality is not None and quality >= MIN_QUALITY


def chunk_rows(ids: Sequence[int], records: Sequence[FingerprintRecord]) -> list[tuple[int, int, bytes]]:
    """The fp_chunks rows of a batch: (key, fingerprint id, hash) for each chunk of each matchable hash."""
    picked = [(fp_id, r) for fp_id, r in zip(ids, records, strict=True)
              if r.perceptual is not None and is_indexed(r.kind, r.perceptual, r.quality)]
    rows: list[tuple[int, int, bytes]] = []
    for kind in {r.kind for _, r in picked}:
        same = [(fp_id, r.perceptual) for fp_id, r in picked if r.kind == kind]
        keys = chunk_key_matrix([digest for _, digest in same if digest is not None], KINDS[kind]).tolist()
        for (fp_id, digest), row_keys in zip(same, keys, strict=True):
            assert digest is not None
            rows.extend((key, fp_id, digest) for key in row_keys)
    return rows


def row_values(record: FingerprintRecord) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in COLUMNS)


def record_from_row(row: Sequence[Any]) -> FingerprintRecord:
    values = dict(zip(COLUMNS, row[1:], strict=True))
    for name in ("perceptual", "sha256", "payload"):
        if values[name] is not None:
            values[name] = bytes(values[name])  # psycopg gives bytea as memoryview
    values["created_at"] = float(values["created_at"])
    return FingerprintRecord(**values)


def _popcount(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    counter = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if counter is not None:
        return np.asarray(counter(words).sum(axis=-1), dtype=np.int64)
    bytes_ = words.view(np.uint8)
    return np.asarray(np.unpackbits(bytes_, axis=-1).sum(axis=-1), dtype=np.int64)


def closest(
    ids: NDArray[np.int64], hashes: bytes, queries: Sequence[bytes], max_distance: int, limit: int
) -> list[tuple[int, int, int]]:
    """(id, distance, variant) of the candidates within max_distance of any query, closest first. A candidate
    found through several chunks appears once."""
    if not len(ids):
        return []
    unique, first = np.unique(ids, return_index=True)
    stored = np.frombuffer(hashes, dtype=np.uint64).reshape(len(ids), 1, 4)[first]
    wanted = np.frombuffer(b"".join(queries), dtype=np.uint64).reshape(1, len(queries), 4)
    distances = _popcount(stored ^ wanted)  # (candidates, variants)
    variant = distances.argmin(axis=1)
    best = distances[np.arange(len(unique)), variant]
    order = [i for i in np.argsort(best, kind="stable") if best[i] <= max_distance][:limit]
    return [(int(unique[i]), int(best[i]), int(variant[i])) for i in order]


class FingerprintStore(ABC):
    """Thread-safe: the writer thread adds while lookups run in worker threads."""

    url_scheme: str

    def __init__(self) -> None:
        self._closed = False
        self._lock = threading.Lock()

    # -- backend primitives ------------------------------------------------------------------------------
    @abstractmethod
    def _insert(self, records: Sequence[FingerprintRecord]) -> None: ...

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _candidates(self, keys: Sequence[int]) -> tuple[NDArray[np.int64], bytes]:
        """Ids and hashes (32 bytes each, concatenated) of every fp_chunks row under one of the keys: one
        aggregated row from the database, so no per-candidate Python object is made."""

    @abstractmethod
    def _id_list(self, ids: Sequence[int]) -> tuple[str, Any]:
        """An SQL fragment matching `id` against a list, and its one parameter."""

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

    def find_exact(self, field: str, value: bytes | str, limit: int = 10) -> list[Match]:
        if field not in EXACT_FIELDS:
            raise ValueError(f"exact lookups are by {', '.join(EXACT_FIELDS)}, not {field!r}")
        # No ORDER BY id ... LIMIT: it tempts PostgreSQL into walking the primary key instead of the index.
        rows = self._query(f"SELECT {_SELECT} FROM fp_fingerprints WHERE {field} = {self.ph}", (value,))
        rows.sort(key=lambda row: -int(row[0]))  # newest first; exact values repeat rarely
        return [Match(record_from_row(row), field) for row in rows[:limit]]

    def nearest(
        self, digests: Sequence[bytes], *, kind: str = "pdq", max_distance: int = MATCH_THRESHOLD, limit: int = 10
    ) -> list[Match]:
        """Stored hashes of `kind` within max_distance of any digest (e.g. the 8 dihedral variants of one
        query), closest first; Match.variant is the index of the digest that came closest."""
        if not digests:
            return []
        if not 0 <= max_distance <= MATCH_THRESHOLD:
            raise ValueError(f"max_distance must be 0-{MATCH_THRESHOLD} (the index guarantees no more)")
        ids, hashes = self._candidates(probe_keys(digests, KINDS[kind]))
        found = closest(ids, hashes, digests, max_distance, limit)
        if not found:
            return []
        clause, param = self._id_list([fp_id for fp_id, _, _ in found])
        records = {int(row[0]): record_from_row(row)
                   for row in self._query(f"SELECT {_SELECT} FROM fp_fingerprints WHERE {clause}", (param,))}
        # A record purged between the two queries is simply not reported.
        return [Match(records[fp_id], "perceptual", distance, variant)
                for fp_id, distance, variant in found if fp_id in records]

    def get_manifest(self, manifest_id: str) -> bytes | None:
        rows = self._query(f"SELECT store FROM fp_manifests WHERE manifest_id = {self.ph}", (manifest_id,))
        return bytes(rows[0][0]) if rows else None

    def purge(self, older_than: float, batch: int = 5000) -> int:
        """Delete records (and manifests) created before `older_than` (epoch seconds); returns the count."""
        total = 0
        while True:
            deleted = self._purge_batch(older_than, batch)
            total += deleted
            if deleted < batch:
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


def open_store(url: str, **options: Any) -> FingerprintStore:
    """`sqlite:///path/to/file.db` (embedded, WAL) or `postgresql://user@host/db` (psycopg 3 with a pool)."""
    if url.startswith("sqlite:///"):
        from ._sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///"):], **options)
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresStore

        return PostgresStore(url, **options)
    raise ValueError(
        f"unsupported fingerprint store {url.split(':', 1)[0]!r}: use sqlite:///path/to/fingerprints.db "
        "or postgresql://user@host/dbname"
    )
