"""Multi-index hashing keys: the pigeonhole guarantee the store's lookups rest on."""

from __future__ import annotations

import numpy as np
import pytest

from aiact_transparency.fingerprints.mih import (
    CHUNKS,
    chunk_key_matrix,
    chunk_keys,
    max_distance_supported,
    probe_keys,
)


def test_the_matrix_form_equals_the_single_form() -> None:
    rng = np.random.default_rng(1)
    digests = [rng.bytes(32) for _ in range(5)]
    assert chunk_key_matrix(digests, 1).tolist() == [chunk_keys(d, 1) for d in digests]
    mixed = chunk_key_matrix(digests, [1, 2, 1, 2, 1]).tolist()
    assert mixed == [chunk_keys(d, 1 + n % 2) for n, d in enumerate(digests)]


def test_kinds_never_share_keys() -> None:
    digest = bytes(range(32))
    assert not set(chunk_keys(digest, 1)) & set(chunk_keys(digest, 2))


def test_probes_are_every_key_within_one_bit() -> None:
    digest = np.random.default_rng(2).bytes(32)
    probes = probe_keys([digest], 1)
    assert len(probes) == CHUNKS * 17 == len(set(probes)) and probes == sorted(probes)
    for key in chunk_keys(digest, 1):
        assert key in probes and all(key ^ (1 << b) in probes for b in range(16))


@pytest.mark.parametrize("seed", range(20))
def test_any_hash_within_31_bits_shares_a_probed_key(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stored = rng.bytes(32)
    flipped = int.from_bytes(stored, "big")
    for bit in rng.choice(256, int(rng.integers(0, max_distance_supported() + 1)), replace=False):
        flipped ^= 1 << int(bit)
    query = flipped.to_bytes(32, "big")
    assert set(chunk_keys(stored, 1)) & set(probe_keys([query], 1))


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="32-byte hash"):
        chunk_keys(b"short", 1)


def test_popcount_without_numpy_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiact_transparency.fingerprints.segments import popcount

    words = np.random.default_rng(3).integers(0, 2**63, (7, 3, 4), dtype=np.uint64)
    expected = [[sum(bin(int(w)).count("1") for w in row) for row in cand] for cand in words]
    assert popcount(words).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy 1.26, still supported
    assert popcount(words).tolist() == expected
