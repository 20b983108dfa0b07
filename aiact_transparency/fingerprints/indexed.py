"""A perceptual lookup through the read index (read_index.py) in one round trip to the store.

Why: the index answers from memory, but a lookup used to ask the store twice: the rows added since the last
lookup (so it is fresh: another replica's outputs are found at once), then the matched records (so a record
another replica purged is not answered). On PostgreSQL each round trip is a scheduling wake-up of a server
process; on the shared 2-core bench box a bare `SELECT 1` has p99 ~3.5 ms, so two made the p99.

Now the index is searched as it stands (every row up to its `last_id`), and one statement reads both the
matched records by primary key and every row above `last_id` (a primary-key range, empty when nothing was
added). The new rows join the index as a refresh would add them and are compared with the query right here
(numpy, a handful of rows), their records already in hand. Answers are exactly those of refresh-then-search:
the same rows are seen (all committed before the statement; ids commit in order on both backends,
read_index.py), matched records are still read back from the table (purges elsewhere honoured), and the order
is the same (closest, then variant, then hash; newest first within a hash).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .pdq import MIN_QUALITY
from .read_index import ReadIndex
from .record import KINDS, Match
from .segments import IndexRows, scan

__all__ = ["Hit", "index_rows_of", "is_indexed", "nearest_indexed"]

Hit = tuple[bytes, int, int, list[int]]  # hash, distance, variant, record ids (newest first)
Rows = list[tuple[Any, ...]]


class FingerprintStore(Protocol):
    """What a lookup here uses of store.FingerprintStore (which imports this module)."""

    read_index: ReadIndex

    def _rows_and_new(self, ids: Sequence[int], after: int | None, manifests: bool = False
                      ) -> tuple[Rows, Rows, bool]: ...

    def _records_by_id(self, hits: Sequence[Hit], limit: int, manifests: bool = False) -> list[Match]: ...

    def match_of(self, row: Sequence[Any], by: str, distance: int | None = None, variant: int | None = None
                 ) -> Match: ...
# A row as the store reads it: id, created_at, kind, perceptual, quality, ... (store._SELECT's order).
_ID, _CREATED, _KIND, _HASH, _QUALITY = range(5)


def is_indexed(kind: str, perceptual: bytes | None, quality: int | None) -> bool:
    """Whether a hash goes into the perceptual index: PDQ's reference ignores quality <= 49."""
    return perceptual is not None and kind != "none" and quality is not None and quality >= MIN_QUALITY


def index_rows_of(rows: Sequence[Sequence[Any]], through: int) -> IndexRows:
    """The rows the read index keeps (matchable 32-byte hashes) among rows read from the store, `through` the
    largest id read."""
    picked = [r for r in rows if is_indexed(r[_KIND], r[_HASH], r[_QUALITY]) and len(r[_HASH]) == 32]
    if not picked:
        return IndexRows.empty(through)
    return IndexRows(
        np.array([r[_ID] for r in picked], dtype=np.int64),
        np.frombuffer(b"".join(bytes(r[_HASH]) for r in picked), dtype=np.uint8).reshape(-1, 32).copy(),
        np.array([KINDS.get(r[_KIND], 0) for r in picked], dtype=np.uint8),
        np.array([r[_CREATED] for r in picked], dtype=np.float64), through)


def _hits_among(new: IndexRows, digests: Sequence[bytes], code: int, max_distance: int) -> list[Hit]:
    """The new rows within max_distance of a digest, at their closest variant: compared one by one (they are the
    few rows added since the last lookup)."""
    mine = np.flatnonzero(new.kinds == code)
    queries = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
    rows, distances, variants = scan(new.hashes[mine], queries, max_distance)
    return [(new.hashes[mine[r]].tobytes(), int(d), int(v), [int(new.ids[mine[r]])])
            for r, d, v in zip(rows.tolist(), distances.tolist(), variants.tolist(), strict=True)]


def _merged(hits: Sequence[Hit]) -> list[Hit]:
    """One hit per hash (the closest variant, every id newest first), closest first as the SQL path orders."""
    best: dict[bytes, tuple[int, int]] = {}
    ids: dict[bytes, set[int]] = {}
    for digest, dist, variant, found in hits:
        ids.setdefault(digest, set()).update(found)
        if digest not in best or (dist, variant) < best[digest]:
            best[digest] = (dist, variant)
    merged = [(h, d, v, sorted(ids[h], reverse=True)) for h, (d, v) in best.items()]
    return sorted(merged, key=lambda hit: (hit[1], hit[2], hit[0]))


def _first_ids(hits: Sequence[Hit], limit: int) -> list[int]:
    """The ids of the first hits, enough for `limit` matches when none was purged."""
    wanted: list[int] = []
    for hit in hits:
        if len(wanted) >= limit:
            break
        wanted.extend(hit[3])
    return wanted


def nearest_indexed(store: FingerprintStore, digests: Sequence[bytes], code: int, max_distance: int, limit: int,
                    manifests: bool = False) -> list[Match] | None:
    """The matches, closest first; None when the read index cannot answer (off, or still loading: use SQL).
    `manifests`: each read with whether its manifest store is kept."""
    index = store.read_index
    if not index.ready:
        if not index.refresh():  # a small store loads here; a large one starts loading in the background
            return None
        after = None  # just read: fresh
    else:
        after = index.last_id if index.due() else None
    hits = index.search(digests, code, max_distance)
    if index.disabled:  # turned off while searching: the segments may have gone under the search
        return None
    ordered = _merged(hits)
    asked = _first_ids(ordered, limit)
    rows, new_rows, complete = store._rows_and_new(asked, after, manifests)
    have: dict[int, Sequence[Any]] = {int(row[_ID]): row for row in rows}
    if after is not None:
        through = int(new_rows[-1][_ID]) if new_rows else after
        new = index_rows_of(new_rows, through)
        if not index.ingest(after, new, complete=complete):
            return None  # grown past its memory bound: off for good
        if not complete:  # a burst larger than one page: the rest is in the index now, search it again
            return store._records_by_id(index.search(digests, code, max_distance), limit, manifests)
        found = _hits_among(new, digests, code, max_distance)
        if found:
            have.update((int(row[_ID]), row) for row in new_rows)
            ordered = _merged([*hits, *found])
    return _matches(store, ordered, have, set(asked), limit, manifests)


def _matches(store: FingerprintStore, ordered: Sequence[Hit], have: dict[int, Sequence[Any]], asked: set[int],
             limit: int, manifests: bool) -> list[Match]:
    """The hits as matches, reading the records not in hand yet (only when records the first read asked for were
    purged meanwhile, or when new rows displaced none: rare) up to `limit` ids per round trip."""
    matches: list[Match] = []
    for position, (_, dist, variant, ids) in enumerate(ordered):
        if any(i not in have and i not in asked for i in ids):
            wanted = [i for i in _first_ids(ordered[position:], limit - len(matches)) if i not in asked]
            rows, _, _ = store._rows_and_new(wanted, None, manifests)
            asked.update(wanted)
            have.update((int(row[_ID]), row) for row in rows)
        matches.extend(store.match_of(have[i], "perceptual", dist, variant) for i in ids if i in have)
        if len(matches) >= limit:
            break
    return matches[:limit]
