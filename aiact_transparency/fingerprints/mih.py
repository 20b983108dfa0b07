"""Multi-index hashing (Norouzi, Punjani, Fleet 2012) for 256-bit hashes in plain SQL.

Cut the hash into m chunks. If two hashes differ in at most r bits, the differences spread over m chunks, so
at least one chunk differs in at most floor(r / m) bits (pigeonhole). Each chunk value goes into one index
table as an integer key; a lookup asks for every key within floor(r / m) bits of each of its chunks (an
indexed IN list), then checks the full distance of each candidate.

Choosing m for r = 31 (PDQ's threshold), N stored hashes, uniform bits (expected candidates = probes * N / 2^b):

    m, bits   probe radius   probes   candidates at N = 1e6
    32 x 8    0                 32    125,000       exact-equality keys, but every probe hits N/256 rows
    16 x 16   1                272      4,150       chosen
    11 x ~23  2              3,119        318       probes cost an index seek each
    8 x 32    3             43,912          0       too many probes

Index seeks and candidate rows cost about the same (about a microsecond each in SQLite and PostgreSQL), so
16 x 16 with radius 1 minimises their sum; it also keeps every chunk a 16-bit integer. Measured (bench/
bench_fingerprints.py, 1,000,000 uniform hashes, a 2-core machine shared with other jobs): one orientation
p50 ~1 ms on SQLite, ~2.5 ms on PostgreSQL; all 8 orientations p50 ~4 ms on SQLite (2 lookup threads),
~17 ms on PostgreSQL. Real PDQ hashes are not uniform: PDQ thresholds at the median, so every hash has ~128
set bits, but per-bit frequencies of real photographs make a 16-bit bucket ~1.2x fuller than uniform on
average (~1.5x for the worst chunk), i.e. ~20-50% more candidates than the uniform figures.

Each fp_chunks row repeats the full hash, so the candidates are read from that one B-tree (no lookup in the
main table per candidate) and come back aggregated into one value per query; only the few hashes within the
threshold are then joined back to their records.

Rotations and flips: a lookup probes the keys of all 8 dihedral variants of the query, which multiplies
probes and candidates by 8. The variants are split over `lookup_threads` connections, each group one
statement (PostgreSQL: one `key = ANY(...)` index-only scan per variant, UNION ALL, so each variant's
candidates are checked against that variant only). On PostgreSQL 15 the cost is the B-tree descents, one per
probe (EXPLAIN ANALYZE at 1M: ~9 buffer hits per probe, ~2,400 per variant, against ~15 index tuples read per
probe), which is why inverted-list buckets (one row per key holding its hashes: 2.3x fewer buffer hits,
measured ~35% faster lookups) were tried and not taken: every insert then rewrites 16 bucket rows, and the
upserts load ~1,300 records/s against ~8,000 with COPY. Storing variants: for any split of the 8
orientations between what is stored (S) and what is asked (G) with |S| x |G| = 8, candidates stay
|S| x |G| x 272 x N / 65,536 while probes fall to |G| x 272 and storage grows with |S| (the transposes are
exact bit permutations, so S = {as is, transposed} would halve the descents for a table twice the size: not
taken either). Lookups are rarer than writes, so the query side pays.

The same scheme runs in memory (read_index.py over segments.py: a counting sort per chunk, the probes and the
distance check vectorised in numpy), which is what `FingerprintStore.nearest` asks first; the SQL tables stay the
log's own index, for stores larger than the read index may hold.

Key layout: kind code (bits 20+) | chunk number (bits 16-19) | 16-bit chunk value: one integer column and one
B-tree on (key, fingerprint id) on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["CHUNKS", "CHUNK_BITS", "PROBE_RADIUS", "chunk_key_matrix", "chunk_keys", "probe_keys"]

CHUNK_BITS = 16
CHUNKS = 256 // CHUNK_BITS
PROBE_RADIUS = 1  # floor(31 / 16): enough for any distance up to 31
_CHUNK_MASK = (1 << CHUNK_BITS) - 1
_KIND_SHIFT = 20
_FLIPS = tuple(1 << b for b in range(CHUNK_BITS))


def _chunks(digest: bytes) -> list[int]:
    if len(digest) != CHUNKS * CHUNK_BITS // 8:
        raise ValueError(f"expected a {CHUNKS * CHUNK_BITS // 8}-byte hash, got {len(digest)} bytes")
    return [int.from_bytes(digest[2 * n : 2 * n + 2], "big") for n in range(CHUNKS)]


def _key(kind_code: int, chunk: int, value: int) -> int:
    return (kind_code << _KIND_SHIFT) | (chunk << CHUNK_BITS) | value


def chunk_keys(digest: bytes, kind_code: int) -> list[int]:
    """The index keys one stored hash is filed under: one per chunk."""
    return [_key(kind_code, n, value) for n, value in enumerate(_chunks(digest))]


def chunk_key_matrix(digests: Sequence[bytes], kind_code: int | Sequence[int]) -> NDArray[np.int64]:
    """`chunk_keys` of many hashes at once (one kind code for all, or one per digest): 16 keys per row."""
    values = np.frombuffer(b"".join(digests), dtype=">u2").reshape(len(digests), CHUNKS).astype(np.int64)
    chunk_numbers = np.arange(CHUNKS, dtype=np.int64) << CHUNK_BITS
    kinds = np.asarray(kind_code, dtype=np.int64).reshape(-1, 1) << _KIND_SHIFT
    return np.asarray(kinds | chunk_numbers | values, dtype=np.int64)


_PROBE_MASKS = np.array([0, *_FLIPS], dtype=np.int64)


def probe_keys(digests: Sequence[bytes], kind_code: int) -> list[int]:
    """Every key within PROBE_RADIUS bits of a chunk of any of the digests, sorted, without repeats."""
    keys = chunk_key_matrix(digests, kind_code)[:, :, None] ^ _PROBE_MASKS[None, None, :]
    return list(np.unique(keys).tolist())


def max_distance_supported() -> int:
    """The largest Hamming distance the probes are guaranteed to find."""
    return CHUNKS * (PROBE_RADIUS + 1) - 1
