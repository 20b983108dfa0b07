"""Mixed load against uvicorn --workers 2, bare and with TransparencyMiddleware: nothing lost, nothing grows.

    .venv/bin/python bench/bench_load.py [--duration 15] [--warmup 2]

For each side (the same Starlette app bare, then wrapped) one `uvicorn --workers 2` on a free 127.0.0.1 port
serves HTML pages, JSON, server-sent events and 1-megapixel images (PNG and JPEG); a small asyncio HTTP/1.1
client keeps 64 requests in flight on 64 keep-alive connections (HTML 24, JSON 24, SSE 12, image 4) for
`--duration` seconds.

Checked (any failure makes the exit status non-zero): zero errors (transport errors, non-200, truncated or
undisclosed bodies on the wrapped side), every sampled image (1 in 10) verifies with aiact_transparency.verify
(C2PA valid, XMP and watermark found), and the servers' RSS (master + workers, from /proc, sampled every
0.25 s) shows no growth trend after warm-up beyond noise. Reported: p50/p99 latency and throughput per traffic
type, as wrapped/bare ratios, and peak RSS. The whole run is bounded to about 60 s; servers are always stopped.

The client shares the machine's CPUs with the servers: on a small box the ratios for the cheap routes are
partly the client's. The image ratio is the price of marking itself (watermark, re-encode, C2PA signature on
every 1 MP image, against serving stored bytes), not overhead of the middleware's plumbing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from results import record

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TIME_BUDGET = 60.0  # seconds for the whole script, servers included
MIX = {"html": 24, "json": 24, "sse": 12, "image": 4}  # concurrent requests per traffic type, of 64
IMAGE_SIDE = 1000  # 1000 x 1000 = 1 MP
SAMPLE_EVERY = 10  # verify 1 image in 10
MAX_SAMPLES = 12  # verification costs ~0.2 s each, after the timed window
RSS_INTERVAL = 0.25
ACCEPT_LANGUAGE = "de-DE,de;q=0.9,en;q=0.8"  # browsers send one; the banner language follows it

# -- the served apps (imported by the uvicorn workers through --factory) -------------------------------------


def _image(fmt: str) -> bytes:
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE].astype(np.float32) / IMAGE_SIDE
    rng = np.random.default_rng(7)
    r = 128 + 90 * np.sin(9 * x) * np.cos(7 * y)
    g = 40 + 160 * (x + y) / 2
    b = 128 + 80 * np.cos(11 * (x - y))
    pixels = np.stack([r, g, b], axis=-1) + rng.normal(0, 2, (IMAGE_SIDE, IMAGE_SIDE, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(buffer, fmt.upper(), quality=90)
    return buffer.getvalue()


def _routes() -> list[object]:
    sys.path.insert(0, str(BENCH_DIR))
    from apps import html_route, json_route, sse_route  # the bench_wrk app's routes: same shapes, same sizes
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    images = {fmt: _image(fmt) for fmt in ("png", "jpeg")}

    async def image_route(request: Request) -> Response:
        fmt = request.query_params.get("fmt", "png")
        return Response(images[fmt], media_type=f"image/{fmt}")

    return [Route("/json", json_route), Route("/html", html_route), Route("/sse", sse_route),
            Route("/image", image_route)]


def wrapped_config() -> object:
    from aiact_transparency import TransparencyConfig
    from aiact_transparency.config import DisclosureConfig

    # DisclosureConfig(json=True) rather than {"json": True}: see the BUG note in tests/asgi/test_adversarial_faults.py.
    return TransparencyConfig(
        system={"name": "Bench", "provider": "Bench GmbH"}, model={"id": "bench/model"},
        disclosure=DisclosureConfig(json=True),
    )


def bare() -> object:
    from starlette.applications import Starlette

    return Starlette(routes=_routes())  # type: ignore[arg-type]


def wrapped() -> object:
    from starlette.applications import Starlette

    from aiact_transparency import TransparencyMiddleware

    return TransparencyMiddleware(Starlette(routes=_routes()), config=wrapped_config())  # type: ignore[arg-type]


# -- servers -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    if sys.platform == "linux":
        # If this script is SIGKILLed its finally blocks never run; the kernel then SIGTERMs the server.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def serve(side: str, deadline: float) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIACT_")}
    port = _free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", f"bench_load:{side}", "--factory", "--app-dir", str(BENCH_DIR),
        "--host", HOST, "--port", str(port), "--workers", "2", "--loop", "asyncio", "--http", "h11",
        "--log-level", "warning", "--no-access-log", "--lifespan", "off", "--timeout-keep-alive", "30",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)
        try:
            _wait_ready(proc, port, deadline)
            yield port, proc
        finally:
            _stop(proc)
            log.seek(0)
            tail = log.read().decode(errors="replace").strip()
            if tail:
                print(f"  [{side} server output]\n" + "\n".join("    " + line for line in tail.splitlines()[-20:]))


def _wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    import httpx

    ready = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            # Both workers must be up: ask a few times on fresh connections (the kernel spreads them).
            if httpx.get(f"http://{HOST}:{port}/json", timeout=2).status_code == 200:
                ready += 1
                if ready >= 4 and len(_children(proc.pid)) >= 2:
                    return
                continue
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not become ready in time")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # The whole group: the master and its worker processes.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB of master + workers)
        self.peak_worker = 0.0
        self.stop_event = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop_event.wait(RSS_INTERVAL):
            workers = [_rss_mb(pid) for pid in _children(self.pid)]
            self.peak_worker = max([self.peak_worker, *workers])
            self.samples.append((time.monotonic() - start, _rss_mb(self.pid) + sum(workers)))


# -- load ----------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    images: list[tuple[str, bytes]] = field(default_factory=list)

    def add_error(self, text: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append(text)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    content: bytes


class Connection:
    """A minimal keep-alive HTTP/1.1 client on one socket. httpx spent more CPU than the servers did at this
    concurrency on a 2-CPU box, which measured the client instead of the middleware."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port, limit=1 << 20)
        assert self.reader is not None
        request = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Language: {ACCEPT_LANGUAGE}\r\n\r\n"
        self.writer.write(request.encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    key = name.strip().lower()
                    headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
            if "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    parts.append(await self.reader.readexactly(size + 2))
                    if size == 0:
                        break
                body = b"".join(part[:-2] for part in parts)
            else:
                body = await self.reader.read()
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return Response(status, headers, body)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _check(kind: str, side: str, response: Response) -> str | None:
    if response.status != 200:
        return f"status {response.status}"
    body = response.content
    if side == "wrapped" and "ai-disclosure" not in response.headers:
        return "no AI-Disclosure header"
    if kind == "html":
        if not body.rstrip().endswith(b"</html>"):
            return "truncated page"
        if side == "wrapped" and b'<aside id="aiact-disclosure"' not in body:
            return "no banner"
    elif kind == "json":
        document = json.loads(body)
        if side == "wrapped" and "ai_disclosure" not in document:
            return "no disclosure member"
    elif kind == "sse":
        if body.count(b"data: ") != 20 or not body.endswith(b"\n\n"):
            return "events missing"
        if side == "wrapped" and not body.startswith(b": AI-Disclosure:"):
            return "no notice first"
    elif kind == "image" and not response.headers.get("content-type", "").startswith("image/"):
        return f"content-type {response.headers.get('content-type')}"
    return None


async def _worker(port: int, kind: str, side: str, stats: Stats, stop_at: float, counter: list[int]) -> None:
    path = {"html": "/html", "json": "/json", "sse": "/sse", "image": "/image"}[kind]
    connection = Connection(port)
    try:
        while time.monotonic() < stop_at:
            fmt = random.choice(("png", "jpeg")) if kind == "image" else ""
            started = time.perf_counter()
            response: Response | None = None
            try:
                response = await asyncio.wait_for(connection.get(f"{path}?fmt={fmt}" if fmt else path), 30)
                problem = _check(kind, side, response)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            if problem:
                stats.add_error(problem)
                continue
            stats.latencies.append(elapsed)
            if kind == "image" and response is not None:
                counter[0] += 1
                if counter[0] % SAMPLE_EVERY == 0 and len(stats.images) < MAX_SAMPLES:
                    stats.images.append((fmt, response.content))
    finally:
        await connection.close()


async def load(port: int, side: str, warmup: float, duration: float) -> dict[str, Stats]:
    # Warm-up, not recorded: connections, first-call caches, the marking threads.
    warm = {kind: Stats() for kind in MIX}
    stop_at = time.monotonic() + warmup
    await asyncio.gather(*(_worker(port, kind, side, warm[kind], stop_at, [1])
                           for kind, n in MIX.items() for _ in range(n)))
    stats = {kind: Stats(errors=warm[kind].errors) for kind in MIX}
    counter = [0]
    stop_at = time.monotonic() + duration
    await asyncio.gather(*(_worker(port, kind, side, stats[kind], stop_at, counter)
                           for kind, n in MIX.items() for _ in range(n)))
    return stats


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


@dataclass
class SideResult:
    stats: dict[str, Stats]
    duration: float
    rss: list[tuple[float, float]]
    peak_worker_mb: float

    def rps(self, kind: str) -> float:
        return len(self.stats[kind].latencies) / self.duration


def run_side(side: str, warmup: float, duration: float, deadline: float) -> SideResult:
    with serve(side, deadline) as (port, proc):
        sampler = RssSampler(proc.pid)
        sampler.start()
        try:
            stats = asyncio.run(load(port, side, warmup, duration))
        finally:
            sampler.stop_event.set()
            sampler.join()
    # Only the timed window counts for memory: drop the warm-up samples.
    rss = [(t - warmup, mb) for t, mb in sampler.samples if t >= warmup]
    return SideResult(stats, duration, rss, sampler.peak_worker)


def memory_trend(rss: list[tuple[float, float]]) -> tuple[float, float, float, bool]:
    """(first-half median MB, second-half median MB, least-squares slope MB/s, growth beyond noise?)"""
    if len(rss) < 8:
        return float("nan"), float("nan"), float("nan"), False
    half = len(rss) // 2
    first, second = statistics.median(mb for _, mb in rss[:half]), statistics.median(mb for _, mb in rss[half:])
    times, values = [t for t, _ in rss], [mb for _, mb in rss]
    slope = statistics.linear_regression(times, values).slope
    noise = max(3 * statistics.pstdev(values), 0.05 * first, 16.0)
    span = times[-1] - times[0]
    growing = second - first > noise / 2 and slope * span > noise
    return first, second, slope, growing


def verify_samples(samples: list[tuple[str, bytes]]) -> list[str]:
    from aiact_transparency import TransparencyConfig, verify

    config = wrapped_config()
    assert isinstance(config, TransparencyConfig)
    failures = []
    for fmt, data in samples:
        report = verify(data, config=config)
        ok = report.c2pa.get("valid") and report.xmp.get("ai_generated") and report.watermark.get("found")
        if not ok:
            failures.append(f"{fmt}: c2pa={report.c2pa.get('validation_state')} xmp={report.xmp.get('found')} "
                            f"watermark={report.watermark.get('found')}")
    return failures


def report(results: dict[str, SideResult], verified: int, verify_failures: list[str]) -> bool:
    ok = True
    print(f"\n{'type':<6} {'side':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for kind in MIX:
        for side, result in results.items():
            s = result.stats[kind]
            print(f"{kind:<6} {side:<8} {result.rps(kind):8.1f} {1000 * percentile(s.latencies, 0.5):8.1f}"
                  f" {1000 * percentile(s.latencies, 0.99):8.1f} {len(s.errors):7d}")
    if {"bare", "wrapped"} <= results.keys():
        bare_r, wrapped_r = results["bare"], results["wrapped"]
        print(f"\n{'type':<6} {'throughput x bare':>18} {'p50 x bare':>11} {'p99 x bare':>11}")
        for kind in MIX:
            b, w = bare_r.stats[kind].latencies, wrapped_r.stats[kind].latencies
            if not b or not w:
                print(f"{kind:<6} (no completed requests on one side)")
                continue
            print(f"{kind:<6} {wrapped_r.rps(kind) / bare_r.rps(kind):18.3f}"
                  f" {percentile(w, 0.5) / percentile(b, 0.5):11.3f} {percentile(w, 0.99) / percentile(b, 0.99):11.3f}")
    print()
    for side, result in results.items():
        errors = [e for s in result.stats.values() for e in s.errors]
        first, second, slope, growing = memory_trend(result.rss)
        peak = max((mb for _, mb in result.rss), default=float("nan"))
        print(f"{side:<8} RSS master+2 workers: peak {peak:.0f} MB (one worker at most {result.peak_worker_mb:.0f} MB);"
              f" median {first:.0f} MB -> {second:.0f} MB, slope {slope * 60:+.1f} MB/min over {len(result.rss)} "
              f"samples: {'GROWING' if growing else 'flat within noise'}")
        if errors:
            ok = False
            print(f"{side:<8} ERRORS: {len(errors)}, e.g. {sorted(set(errors))[:5]}")
        if growing:
            ok = False
        requests = sum(len(s.latencies) for s in result.stats.values())
        record(f"mixed load, {side}: errors", len(errors), "", goal="0", baseline=f"of {requests} requests",
               passed=not errors)
        record(f"mixed load, {side}: RSS slope after warm-up", slope * 60, "MB/min", goal="flat within noise",
               baseline=f"median {first:.0f} -> {second:.0f} MB", passed=not growing)
    print(f"\nsampled images verified: {verified - len(verify_failures)} of {verified} (1 in {SAMPLE_EVERY})")
    record("mixed load, wrapped: sampled images that verify", verified - len(verify_failures), "", goal="all sampled",
           baseline=f"of {verified} sampled", passed=bool(verified) and not verify_failures)
    if verify_failures or not verified:
        ok = False
        print("  FAILED:", verify_failures or "no image was sampled")
    print("RESULT:", "PASS (zero errors, every sampled image verifies, no memory growth)" if ok else "FAIL")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0, help="timed seconds per side (default 15)")
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    started = time.monotonic()
    budget_end = started + TIME_BUDGET
    # Two sides of (start-up + warm-up + duration), then verification, must fit the budget.
    if 2 * (args.duration + args.warmup + 8) + 6 > TIME_BUDGET:
        parser.error(f"--duration {args.duration} does not fit the {TIME_BUDGET:.0f} s budget")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    print(f"uvicorn --workers 2 (h11, asyncio), concurrency {sum(MIX.values())} {MIX}, {args.duration:.0f} s per side"
          f" after {args.warmup:.0f} s warm-up, images {IMAGE_SIDE}x{IMAGE_SIDE}; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[str, SideResult] = {}
    try:
        for side in ("bare", "wrapped"):
            side_deadline = min(budget_end, time.monotonic() + 15)
            results[side] = run_side(side, args.warmup, args.duration, side_deadline)
            print(f"  {side}: done at {time.monotonic() - started:.1f} s", flush=True)
    except KeyboardInterrupt:
        print("bench_load: interrupted; servers stopped", file=sys.stderr)
        return 130
    samples = results["wrapped"].stats["image"].images
    verify_failures = verify_samples(samples)
    ok = report(results, len(samples), verify_failures)
    print(f"total {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
