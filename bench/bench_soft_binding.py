"""The C2PA Soft Binding Resolution API at scale (issue 18): GET /matches/byBinding and GET /manifests/{id} p99
with 1,000,000 stored outputs, and what keeping a manifest store adds per marked output.

Run: .venv/bin/python bench/bench_soft_binding.py [--records 1000000] [--queries 500] [--only sqlite|postgresql]
     [--sqlite-db PATH (kept and reused when full)]

The log is filled as bench_fingerprints.py fills it (its `synthetic` records: random PDQ hash, SHA-256,
watermark payload, manifest id; batches of 5000 through `add_many`), and every record's manifest id gets a
manifest store of the real size: the signed store of one marked image (~14 KB with the development chain; no
thumbnail), so the table holds as many bytes as a real one would. Requests are ASGI calls to the API app the
middleware mounts (rate limiter, admission, worker thread, database, JSON or application/c2pa answer), from one
client, so the figures are the service's own time without HTTP parsing or the network. byBinding is measured
with the watermark alg (an exact payload lookup, the common case: half hits, half misses) and with the PDQ alg
(a Hamming search of one hash within 31 bits, near queries). Storing: the writer thread's time to put a batch
of 200 manifest stores (the writer's default batch), per store, on the full table.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_fingerprints import BATCH, near, photo_like, synthetic  # noqa: E402  (the same fill, not a copy)
from engines import add_engine_options, each_engine  # noqa: E402
from results import record  # noqa: E402

from aiact_transparency import TransparencyConfig  # noqa: E402
from aiact_transparency.config.fingerprints import DEFAULT_INDEX_MB  # noqa: E402
from aiact_transparency.detection.soft_binding import FINGERPRINT_ALG, WATERMARK_ALG  # noqa: E402
from aiact_transparency.detection.wiring import endpoint_for  # noqa: E402
from aiact_transparency.fingerprints import FingerprintStore, ManifestEntry, open_store  # noqa: E402
from aiact_transparency.provenance.image.marker import ImageMarker  # noqa: E402
from aiact_transparency.provenance.payload import WatermarkPayload  # noqa: E402

API = "/.well-known/ai-disclosure/c2pa/v1"
GOAL_MS = 5.0


def real_store() -> bytes:
    """The signed manifest store of one marked 1024x768 JPEG (what the log keeps per output)."""
    out = io.BytesIO()
    photo_like(1024, 768).save(out, "JPEG", quality=90)
    report = ImageMarker(TransparencyConfig(system={"name": "Bench Studio"})).mark(out.getvalue()).report
    assert report.manifest_store is not None
    return report.manifest_store


def fill(store: FingerprintStore, engine: str, total: int, blob: bytes) -> tuple[list[bytes], list[str], list[bytes]]:
    """(stored payloads, stored manifest ids, stored PDQ hashes): a sample of each, for the queries."""
    rng = np.random.default_rng(11)
    payloads: list[bytes] = []
    ids: list[str] = []
    hashes: list[bytes] = []
    start = time.perf_counter()
    step = max(1, total // 2000)
    for first in range(0, total, BATCH):
        # Payloads that pass the watermark's checksum (synthetic ones are random bytes): ids unique per output.
        batch = [replace(synthetic(rng, n), payload=WatermarkPayload(n >> 24 & 0xFFFFFF, n & 0xFFFFFF).to_bytes())
                 for n in range(first, min(total, first + BATCH))]
        store.put_manifests([ManifestEntry(r.manifest_id or "", blob, r.created_at) for r in batch])
        store.add_many(batch)
        for r in batch[::step]:
            payloads.append(r.payload or b"")
            ids.append(r.manifest_id or "")
            hashes.append(r.perceptual or b"")
        if first and first % (total // 10 or BATCH) < BATCH:
            print(f"    {engine}: {first:,} outputs stored, {first / (time.perf_counter() - start):,.0f}/s", flush=True)
    store.optimize()
    print(f"    {engine}: filled {total:,} in {time.perf_counter() - start:,.0f} s; "
          f"{store.stats().bytes_on_disk / 2**30:,.1f} GiB on disk", flush=True)
    return payloads, ids, hashes


def sample(store: FingerprintStore, count: int = 2000) -> tuple[list[bytes], list[str], list[bytes]]:
    records = []
    for r in store.export():
        records.append(r)
        if len(records) >= count:
            break
    return ([r.payload or b"" for r in records], [r.manifest_id or "" for r in records],
            [r.perceptual or b"" for r in records])


async def _call(app: Any, path: str, query: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"bench")], "server": ("bench", 80), "client": ("127.0.0.1", 1)}
    await app(scope, receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


def p99_ms(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)) * 1000, float(np.percentile(times, 99)) * 1000


async def measure(app: Any, requests: list[tuple[str, str]], warm_up: int = 20
                  ) -> tuple[list[float], list[tuple[int, bytes]]]:
    times, answers = [], []
    for i, (path, query) in enumerate([*requests[:warm_up], *requests]):  # the warm-up requests are not counted
        start = time.perf_counter()
        answer = await _call(app, path, query)
        elapsed = time.perf_counter() - start
        if i >= warm_up:
            times.append(elapsed)
            answers.append(answer)
    return times, answers


def bench_api(url: str, engine: str, total: int, queries: int, samples: tuple[list[bytes], list[str], list[bytes]],
              pdq_only: bool = False) -> None:
    print(f"  {engine}: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs while measuring", flush=True)
    payloads, ids, hashes = samples
    config = TransparencyConfig(system={"name": "Bench Studio"},
                                fingerprints={"enabled": True, "store": url},
                                detection={"rate_limit": {"per_client_per_minute": 1_000_000}})
    rng = np.random.default_rng(7)
    with open_store(url) as store:
        app = endpoint_for(config, store=store).soft_binding
        assert app is not None
        floor = []  # a bare round trip, for the figures' context: what the database and the box allow right now
        for _ in range(queries):
            start = time.perf_counter()
            store._query("SELECT 1", ())
            floor.append(time.perf_counter() - start)
        print(f"  {engine}: bare SELECT 1 p50 {p99_ms(floor)[0]:.2f} ms, p99 {p99_ms(floor)[1]:.2f} ms", flush=True)

        def by_binding(alg: str, raw: bytes) -> tuple[str, str]:
            return f"{API}/matches/byBinding", urlencode({"alg": alg, "value": base64.b64encode(raw).decode()})

        if pdq_only:
            bench_pdq(config, url, engine, total, queries, hashes, rng, by_binding)
            return
        watermark = [by_binding(WATERMARK_ALG, payloads[int(rng.integers(len(payloads)))] if q % 2 == 0 else
                                WatermarkPayload(0xABCDEF, int(rng.integers(1 << 24))).to_bytes())  # never stored
                     for q in range(queries)]
        times, answers = anyio.run(measure, app, watermark)
        hits = sum(b'"manifestId"' in body for _, body in answers)
        p50, p99 = p99_ms(times)
        print(f"  {engine}: byBinding (watermark) p50 {p50:.2f} ms, p99 {p99:.2f} ms; {hits} of {queries} found "
              f"(half the queries are stored payloads)")
        assert all(status == 200 for status, _ in answers) and hits >= queries // 2
        record(f"soft binding: GET matches/byBinding (watermark) p99 at {total:,}, {engine}", p99, "ms",
               goal=f"<= {GOAL_MS:g} ms", baseline=f"p50 {p50:.2f} ms", passed=p99 <= GOAL_MS, issue="18")

        bench_pdq(config, url, engine, total, queries, hashes, rng, by_binding)

        # Cold: each id's first fetch since the store was opened (its pages may still be on disk: the stores are
        # ~14 GB per 1M outputs, more than this box's page cache holds beside the rest); warm: the same ids again.
        picked = list(dict.fromkeys(ids[int(rng.integers(len(ids)))] for _ in range(queries)))
        fetch = [(f"{API}/manifests/{manifest_id}", "") for manifest_id in picked]
        figures = {}
        for label in ("cold", "warm"):
            times, answers = anyio.run(measure, app, fetch, 0)
            assert all(status == 200 for status, _ in answers)
            figures[label] = p99_ms(times)
        size = len(answers[0][1])
        for label in ("cold", "warm"):
            p50, p99 = figures[label]
            print(f"  {engine}: manifests/{{id}} {label} p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(picked)} ids, "
                  f"{size:,} B stores)")
            record(f"soft binding: GET manifests/{{id}} p99 at {total:,}, {label}, {engine}", p99, "ms",
                   goal=f"<= {GOAL_MS:g} ms", baseline=f"p50 {p50:.2f} ms; {len(picked)} ids, first fetch of each "
                   "since opening" if label == "cold" else f"p50 {p50:.2f} ms; the same ids again",
                   passed=p99 <= GOAL_MS, issue="18")

        # What keeping the store adds per marked output: the writer thread's put of a 200-store batch.
        blob = store.get_manifest(ids[0]) or b""
        per_store = []
        for _ in range(10):
            batch = [ManifestEntry(f"urn:c2pa:{uuid.uuid4()}", blob) for _ in range(200)]  # new ids: real inserts
            start = time.perf_counter()
            store.put_manifests(batch)
            per_store.append((time.perf_counter() - start) / len(batch))
        per_ms = float(np.median(per_store)) * 1000
        print(f"  {engine}: keeping a manifest store: {per_ms:.3f} ms per output (writer thread, batches of 200)")
        record(f"soft binding: storing a manifest per marked output, {engine}", per_ms, "ms",
               goal="<= 1 ms, off the event loop", baseline="writer thread, batches of 200", passed=per_ms <= 1.0,
               issue="18")


def bench_pdq(config: TransparencyConfig, url: str, engine: str, total: int, queries: int, hashes: list[bytes],
              rng: np.random.Generator, by_binding: Callable[[str, bytes], tuple[str, str]]) -> None:
    """byBinding by PDQ through the read index (the default) and, in the same run, through SQL alone."""
    fingerprint = [by_binding(FINGERPRINT_ALG, near(rng, hashes[int(rng.integers(len(hashes)))]))
                   for _ in range(queries)]
    figures = {}
    for label, index_mb in (("SQL path", 0), ("read index", DEFAULT_INDEX_MB)):
        with open_store(url, memory_index_mb=index_mb) as store:
            store.read_index.refresh()  # the index's one-time load (a thread above 50,000), not a lookup's time:
            store.read_index.wait_loaded()  # measuring during it measured the load's competition for the CPU
            app = endpoint_for(config, store=store).soft_binding
            assert app is not None
            times, answers = anyio.run(measure, app, fingerprint)
        hits = sum(b'"manifestId"' in body for _, body in answers)
        figures[label] = p50, p99 = p99_ms(times)
        print(f"  {engine}: byBinding (PDQ, near, {label}) p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
              f"{hits} of {queries} found")
    p50, p99 = figures["read index"]
    record(f"soft binding: GET matches/byBinding (PDQ) p99 at {total:,}, {engine}", p99, "ms",
           goal=f"<= {GOAL_MS:g} ms", baseline=f"p50 {p50:.2f} ms; SQL path p99 {figures['SQL path'][1]:.2f} ms",
           passed=p99 <= GOAL_MS, issue="18")


def run_engine(engine: str, url: str, total: int, queries: int, blob: bytes, pdq_only: bool = False) -> None:
    with open_store(url) as store:
        have = store.stats().records
        if have >= total:
            print(f"\n== {engine}: reusing {have:,} stored outputs", flush=True)
            samples, total = sample(store), have
        else:
            print(f"\n== {engine}: filling {total:,} outputs with {len(blob):,}-byte manifest stores", flush=True)
            samples = fill(store, engine, total, blob)
    bench_api(url, engine, total, queries, samples, pdq_only)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=int(os.environ.get("BENCH_SB_RECORDS", 1_000_000)))
    parser.add_argument("--queries", type=int, default=500)
    add_engine_options(parser)
    parser.add_argument("--pdq-only", action="store_true",
                        help="only byBinding by PDQ (e.g. on a log bench_fingerprints.py filled, which keeps no "
                             "manifest stores and no checksummed watermark payloads)")
    args = parser.parse_args()
    blob = real_store()
    print(f"soft binding bench: {args.records:,} outputs, {args.queries} queries per figure, stores of "
          f"{len(blob):,} B; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    each_engine(args, "aiact-sb-bench-",
                lambda engine, url: run_engine(engine, url, args.records, args.queries, blob, args.pdq_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
