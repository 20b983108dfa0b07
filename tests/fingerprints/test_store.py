"""The store on SQLite and on PostgreSQL (a real server, see conftest.py): the same answers from both."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency.fingerprints import (
    FingerprintRecord,
    FingerprintStore,
    StoreError,
    export_jsonl,
    open_store,
    purge_expired,
    stats,
)
from aiact_transparency.fingerprints.mih import max_distance_supported

from .pg_server import PostgresServer

RNG_SEED = 7


def random_hash(rng: np.random.Generator) -> bytes:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes()


def flip_bits(digest: bytes, bits: list[int]) -> bytes:
    value = int.from_bytes(digest, "big")
    for bit in bits:
        value ^= 1 << bit
    return value.to_bytes(32, "big")


def record(n: int, perceptual: bytes | None, quality: int = 100, created_at: float | None = None,
           **extra: object) -> FingerprintRecord:
    return FingerprintRecord(
        sha256=hashlib.sha256(f"output {n}".encode()).digest(), media_type="image/png", size=1000 + n,
        kind="pdq" if perceptual is not None else "none", perceptual=perceptual,
        quality=quality if perceptual is not None else None, route="/generate",
        created_at=time.time() if created_at is None else created_at, **extra,  # type: ignore[arg-type]
    )


def test_exact_lookups_by_sha256_payload_and_manifest_id(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    stored = [record(n, random_hash(rng), payload=bytes([n]) * 10, manifest_id=f"urn:c2pa:{n}") for n in range(20)]
    assert store.add_many(stored) == 20
    target = stored[7]
    for field, value in (("sha256", target.sha256), ("payload", target.payload), ("manifest_id", "urn:c2pa:7")):
        found = store.find_exact(field, value)  # type: ignore[arg-type]
        assert [m.record for m in found] == [target] and found[0].by == field
    assert store.find_exact("sha256", hashlib.sha256(b"never served").digest()) == []
    with pytest.raises(ValueError, match="exact lookups are by"):
        store.find_exact("route", "/generate")


def test_nearest_finds_every_distance_up_to_31_and_nothing_beyond(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    base = [random_hash(rng) for _ in range(40)]
    store.add_many([record(n, h) for n, h in enumerate(base)])
    assert max_distance_supported() == 31
    for distance in (0, 1, 2, 15, 16, 17, 30, 31, 32, 40):
        target = int(rng.integers(0, len(base)))
        # Random bits; bits packed into few chunks; and the index's worst case, the bits spread two per chunk
        # so that only one chunk is within the probe radius of 1.
        spread = [16 * (n // 2 % 16) + n // 32 * 2 + n % 2 for n in range(distance)]
        for bits in (sorted(rng.choice(256, distance, replace=False).tolist()), list(range(distance)), spread):
            query = flip_bits(base[target], bits)
            found = store.nearest([query])
            hits = [(m.record.perceptual, m.distance) for m in found if m.record.perceptual == base[target]]
            assert hits == ([(base[target], distance)] if distance <= 31 else [])


def test_nearest_reports_the_closest_variant(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    stored = random_hash(rng)
    store.add_many([record(1, stored)])
    queries = [random_hash(rng) for _ in range(5)] + [flip_bits(stored, [3, 77, 200])]
    (match,) = store.nearest(queries)
    assert (match.by, match.distance, match.variant) == ("perceptual", 3, 5)


def test_low_quality_hashes_are_kept_but_not_matched(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    featureless = random_hash(rng)
    store.add_many([record(1, featureless, quality=49), record(2, None)])
    assert store.nearest([featureless]) == []
    assert len(store.find_exact("sha256", record(1, None).sha256)) == 1
    figures = store.stats()
    assert (figures.records, figures.indexed) == (2, 0)


def test_max_distance_is_bounded_by_the_index(store: FingerprintStore) -> None:
    with pytest.raises(ValueError, match="0-31"):
        store.nearest([bytes(32)], max_distance=32)


def test_purge_deletes_old_records_and_their_index_rows(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    now = 1_800_000_000.0
    old = [record(n, random_hash(rng), created_at=now - 400 * 86400) for n in range(30)]
    new = [record(100 + n, random_hash(rng), created_at=now - 10 * 86400) for n in range(5)]
    store.add_many(old + new)
    store.put_manifest("urn:c2pa:old", b"manifest store bytes", now - 400 * 86400)
    assert purge_expired(store, 365, now=now) == 30
    figures = stats(store)
    assert (figures["records"], figures["indexed"], figures["manifests"]) == (5, 5, 0)
    assert store.nearest([old[0].perceptual or b""]) == []
    assert [m.record for m in store.nearest([new[0].perceptual or b""])] == [new[0]]
    assert purge_expired(store, 365, now=now) == 0


def test_purge_in_batches(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    store.add_many([record(n, random_hash(rng), created_at=1000.0 + n) for n in range(25)])
    assert store.purge(2000.0, batch=10) == 25
    assert store.stats().records == 0


def test_export_is_jsonl_in_insertion_order_within_the_window(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    records = [record(n, random_hash(rng), created_at=1_700_000_000.0 + n, payload=b"\x01" * 10)
               for n in range(2500)]  # more than one export page
    store.add_many(records)
    lines = list(export_jsonl(store))
    assert len(lines) == 2500 and all(line.endswith("\n") for line in lines)
    first = json.loads(lines[0])
    assert first == records[0].to_dict()
    assert set(first) == {"created_at", "kind", "perceptual", "quality", "sha256", "payload", "manifest_id",
                          "media_type", "size", "route"}  # output data only
    window = list(export_jsonl(store, since=1_700_000_010.0, until=1_700_000_020.0))
    assert [json.loads(line)["size"] for line in window] == [1010 + n for n in range(10)]


def test_stats(store: FingerprintStore) -> None:
    rng = np.random.default_rng(RNG_SEED)
    store.add_many([record(1, random_hash(rng), created_at=10.0), record(2, None, created_at=20.0)])
    figures = store.stats()
    assert (figures.records, figures.indexed, figures.oldest, figures.newest) == (2, 1, 10.0, 20.0)
    assert figures.by_media_type == {"image/png": 2}
    assert figures.bytes_on_disk > 0


def test_manifests_by_id_first_write_wins(store: FingerprintStore) -> None:
    store.put_manifest("urn:c2pa:abc", b"first", 1.0)
    store.put_manifest("urn:c2pa:abc", b"second", 2.0)
    assert store.get_manifest("urn:c2pa:abc") == b"first"
    assert store.get_manifest("urn:c2pa:none") is None


def test_a_batch_is_all_or_nothing(store: FingerprintStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(RNG_SEED)
    batch = [record(n, random_hash(rng)) for n in range(5)]

    def broken_chunks(*_: object) -> list[tuple[int, int]]:
        raise RuntimeError("injected failure between the two tables")

    for module in ("aiact_transparency.fingerprints._sqlite", "aiact_transparency.fingerprints._postgres"):
        monkeypatch.setattr(f"{module}.chunk_rows", broken_chunks)
    with pytest.raises(RuntimeError, match="injected"):
        store.add_many(batch)
    monkeypatch.undo()
    assert store.stats().records == 0
    store.add_many(batch)  # and the store still works
    assert store.stats().records == 5


def test_two_stores_on_one_database_share_ids(store_url: str) -> None:
    # Two processes (replicas) writing one log: ids never collide and each sees the other's records.
    rng = np.random.default_rng(RNG_SEED)
    with open_store(store_url) as first, open_store(store_url) as second:
        first.add_many([record(n, random_hash(rng)) for n in range(10)])
        second.add_many([record(100 + n, random_hash(rng)) for n in range(10)])
        first.add_many([record(200 + n, random_hash(rng)) for n in range(10)])
        assert second.stats().records == first.stats().records == 30
        assert len({r.sha256 for r in first.export()}) == 30


def test_unknown_scheme_and_unreachable_stores_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///path/to/fingerprints\.db or postgresql://"):
        open_store("mysql://db/fp")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the SQLite fingerprint store"):
        open_store(f"sqlite:///{blocker}/fp.db")
    with pytest.raises(StoreError, match=r"cannot open the PostgreSQL fingerprint store at 127\.0\.0\.1:1/x"):
        open_store("postgresql://user:secret@127.0.0.1:1/x", timeout=1.0)


def test_postgres_error_never_shows_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://user:hunter2@127.0.0.1:1/x", timeout=1.0)
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value.__cause__ or "")


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "fp.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert os.path.exists(path)


@pytest.mark.anyio
async def test_lookup_async_runs_in_a_worker_thread(store: FingerprintStore, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    import threading

    from aiact_transparency.fingerprints import lookup_async

    rng = np.random.default_rng(RNG_SEED)
    target = record(1, random_hash(rng), manifest_id="urn:c2pa:async")
    store.add_many([target])
    seen: list[str] = []
    real = store.find_exact

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "find_exact", spy)
    answer = await lookup_async(store, manifest_id="urn:c2pa:async")
    assert [m.record for m in answer.matches] == [target]
    assert seen and seen[0] != threading.main_thread().name


def test_one_round_trip_answers_several_orientations_as_separate_queries_would(store: FingerprintStore) -> None:
    from aiact_transparency.fingerprints.mih import probe_keys

    rng = np.random.default_rng(21)
    digests = [random_hash(rng) for _ in range(300)]
    store.add_many([record(n, d) for n, d in enumerate(digests)])
    key_sets = [probe_keys([flip_bits(digests[n], [n, n + 40])], 1) for n in range(4)] + [probe_keys([bytes(32)], 1)]
    together = store._candidates_each(key_sets)
    assert together == [store._candidates(keys) for keys in key_sets]
    assert all(digests[n] in [blob[i : i + 32] for i in range(0, len(blob), 32)] for n, blob in enumerate(together[:4]))


def test_postgres_lookups_never_start_parallel_workers(postgres_server: PostgresServer) -> None:
    with open_store(postgres_server.url) as store:
        assert store._query("SHOW max_parallel_workers_per_gather", ()) == [("0",)]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_postgresql_batch_gives_the_gil_up_while_it_feeds_copy(store: FingerprintStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer thread feeds COPY in a pure-Python loop; without handing the GIL over, the event loop's thread
    # waited for the 5 ms switch interval (a burst of writes: +2.5 ms loop lag p99, bench_fingerprints).
    from aiact_transparency.fingerprints import _postgres

    rng = np.random.default_rng(12)
    handed: list[None] = []
    monkeypatch.setattr(_postgres, "_hand_the_gil_over", lambda: handed.append(None))
    store.add_many([record(n, random_hash(rng)) for n in range(200)])  # 200 records, 3,200 chunk rows
    assert store.stats().records == 200
    assert len(handed) >= 3200 // 256
