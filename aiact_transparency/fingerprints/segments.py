"""The read index's segments (read_index.py): hashes sorted for multi-index hashing (mih.py), probed and
compared in a few vectorised numpy calls, and the brute-force comparison for rows not sorted yet.

Layout (one `Segment`): the hashes as they are stored (n x 32 bytes), their ids, kind codes and created_at;
per 16-bit chunk c a counting sort of the rows by that chunk's value (`order`, uint32) and where each
value's bucket starts (`offsets`, 16 x 65,537). Memory: 32 + 8 + 8 + 1 + 1 + 16 x 4 = 114 bytes per indexed
hash plus 8 MiB of offsets per segment (up to three: main, delta and a delta being merged), i.e. ~133 MiB per
1,000,000 (`ReadIndex.bytes_for`); a rebuild needs about as much again while it runs. Above `max_bytes` the
index turns itself off and the store answers from SQL (store.py), so memory stays bounded by the knob.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BYTES_PER_RECORD", "SEGMENT_BYTES", "IndexRows", "Segment", "distance", "pick", "popcount", "scan"]

_CHUNKS = 16
_BUCKETS = 1 << 16
_MASKS = np.array([0, *(1 << b for b in range(16))], dtype=np.uint16)  # probe radius 1 (mih.py)
BYTES_PER_RECORD = 32 + 8 + 8 + 1 + 1 + _CHUNKS * 4
# Bucket starts are int64: numpy indexes with them directly (a narrower type would be widened per lookup).
_OFFSETS_DTYPE = np.int64
SEGMENT_BYTES = _CHUNKS * (_BUCKETS + 1) * np.dtype(_OFFSETS_DTYPE).itemsize  # 8 MiB


def popcount(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Set bits of each row of 64-bit words, summed along the last axis."""
    counter = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if counter is not None:
        return np.asarray(counter(words).sum(axis=-1), dtype=np.int64)
    return np.asarray(np.unpackbits(words.view(np.uint8), axis=-1).sum(axis=-1), dtype=np.int64)


def distance(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Hamming distances of two n x 4 arrays of 64-bit words, row by row."""
    counter = getattr(np, "bitwise_count", None)
    if counter is None:
        return popcount(a ^ b)
    bits = counter(a ^ b)  # uint8 per word; summed by column, which numpy does far faster than along a row
    return np.asarray(bits[:, 0].astype(np.int64) + bits[:, 1] + bits[:, 2] + bits[:, 3], dtype=np.int64)


def scan(hashes: NDArray[np.uint8], queries: NDArray[np.uint8], max_distance: int
         ) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.intp]]:
    """(row, distance, closest query) of each of a few rows (n x 32) within max_distance of a query (v x 32),
    by comparing every pair: for the rows not sorted into a segment yet."""
    if len(hashes) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.int64), np.zeros(0, np.intp)
    stored = np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, 4)
    words = np.ascontiguousarray(queries).view(np.uint64).reshape(-1, 4)
    # One query against every row at a time, broadcast: repeating the rows per query (n x v copies) cost 2-3x
    # as much (2,048 rows x 8 queries: 0.6 against 0.2 ms; 16,384: 3.5 against 1.3 ms on the 2-core box).
    table = np.stack([distance(stored, np.broadcast_to(word, stored.shape)) for word in words], axis=1)
    closest = table.argmin(axis=1)
    distances = table[np.arange(len(stored)), closest]
    near = np.flatnonzero(distances <= max_distance)
    return near.astype(np.intp), distances[near], closest[near].astype(np.intp)


@dataclass(frozen=True)
class IndexRows:
    """Rows read from the store: ids ascending, 32-byte hashes concatenated, kind codes, created_at; `through`:
    the largest id the read covered, indexed or not (a text or low-quality row is read once, not at every
    refresh)."""

    ids: NDArray[np.int64]
    hashes: NDArray[np.uint8]  # n x 32
    kinds: NDArray[np.uint8]
    created: NDArray[np.float64]
    through: int = 0

    @staticmethod
    def empty(through: int = 0) -> IndexRows:
        return IndexRows(np.zeros(0, np.int64), np.zeros((0, 32), np.uint8), np.zeros(0, np.uint8),
                         np.zeros(0, np.float64), through)

    @staticmethod
    def concat(parts: Sequence[IndexRows]) -> IndexRows:
        return IndexRows(np.concatenate([p.ids for p in parts]), np.concatenate([p.hashes for p in parts]),
                         np.concatenate([p.kinds for p in parts]), np.concatenate([p.created for p in parts]),
                         max((p.through for p in parts), default=0))

    def since(self, after_id: int) -> IndexRows:
        return pick(self, np.flatnonzero(self.ids > after_id))

    def __len__(self) -> int:
        return len(self.ids)


def pick(rows: IndexRows, picked: NDArray[np.intp]) -> IndexRows:
    return IndexRows(rows.ids[picked], rows.hashes[picked], rows.kinds[picked], rows.created[picked], rows.through)


class Segment:
    def __init__(self, rows: IndexRows) -> None:
        self.rows = rows
        n = len(rows)
        self.words = rows.hashes.view(np.uint64).reshape(n, 4)
        self.alive = np.ones(n, dtype=bool)
        values = rows.hashes.view(np.uint16).reshape(n, _CHUNKS)  # any fixed 2-byte split keeps the pigeonhole
        self.order = np.empty(_CHUNKS * n, dtype=np.uint32)
        self.offsets = np.empty((_CHUNKS, _BUCKETS + 1), dtype=_OFFSETS_DTYPE)
        for c in range(_CHUNKS):  # one column at a time: the argsort temporaries stay n-sized
            column = values[:, c]
            self.order[c * n:(c + 1) * n] = np.argsort(column, kind="stable")
            self.offsets[c, 0] = c * n
            self.offsets[c, 1:] = c * n + np.cumsum(np.bincount(column, minlength=_BUCKETS))

    def search(self, queries: NDArray[np.uint8], code: int, max_distance: int
               ) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.intp]]:
        """(row, distance, query index) of every live row of this kind within max_distance of a query."""
        v = len(queries)
        probes = queries.view(np.uint16).reshape(v, _CHUNKS, 1) ^ _MASKS  # v x 16 x 17 bucket values
        chunk = np.arange(_CHUNKS).reshape(1, _CHUNKS, 1)
        starts = self.offsets[chunk, probes].ravel()
        lengths = self.offsets[chunk, probes.astype(np.int64) + 1].ravel() - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, np.intp), np.zeros(0, np.int64), np.zeros(0, np.intp)
        # Positions of every candidate in `order`, without a Python loop: each bucket's start repeated over its
        # length, plus the running position inside the bucket.
        before = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - before, lengths) + np.arange(total)
        rows = np.take(self.order, positions)
        which = np.repeat(np.arange(v * _CHUNKS * len(_MASKS)) // (_CHUNKS * len(_MASKS)), lengths)
        # The hash reads are the cost: np.take, ~8x faster than fancy indexing of a 2-D array here (33,000
        # rows: 0.28 against 2.2 ms); the liveness and kind are read only for the few within the distance.
        words = queries.view(np.uint64).reshape(v, 4)
        distances = distance(np.take(self.words, rows, axis=0), np.take(words, which, axis=0))
        near = np.flatnonzero(distances <= max_distance)
        rows, distances, which = rows[near].astype(np.intp), distances[near], which[near]
        keep = self.alive[rows] & (self.rows.kinds[rows] == code)
        return rows[keep], distances[keep], which[keep]

    def kill_before(self, cutoff: float) -> None:
        self.alive &= self.rows.created >= cutoff
