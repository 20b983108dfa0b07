"""Throughput under a real server: uvicorn + wrk, the bare app against the same app wrapped.

    .venv/bin/python bench/bench_wrk.py [--duration 3] [--rounds 5] [--connections 32] [--http h11 httptools]

Four single-worker uvicorn processes on free 127.0.0.1 ports serve bench/apps.py: `bare`, `wrapped`
(TransparencyMiddleware, embedded default config), `basehttp` (a BaseHTTPMiddleware adding one header,
the comparison from the issue) and `floor` (the bare app sending the wrapped side's bytes itself: the least
any middleware can cost under this server). For each route wrk runs against the four in turn, rotating the order
every round; reported are medians and the median of per-round (paired) ratios. Goals (issue 17), judged on
the paired ratio, under both of uvicorn's HTTP parsers (h11, and httptools from uvicorn[standard]): JSON
(headers only) >= 0.95x bare, the 20 KB HTML page >= 0.9x bare. Reported as PASS/MISS (and rows of
`make bench`'s table); timing never fails the run, because the machine decides what the numbers mean.

Needs Debian's wrk (`apt-get install wrk`). Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from results import record
from server_protocol import cpu_table

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
ROUTES = ("/json", "/html", "/sse")
SIDES = ("bare", "wrapped", "basehttp", "floor")  # floor: the bare app sending the wrapped bytes itself
GOALS = {"/json": 0.95, "/html": 0.9}  # paired wrapped/bare throughput, per route (issue 17)
# Browsers send one; the wrapped side negotiates the banner language from it on every HTML response (and the
# floor app's page, apps.py, carries the banner for it).
ACCEPT_LANGUAGE = "de-DE,de;q=0.9,en;q=0.8"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus non-2xx/3xx responses: any of these makes the run suspect
    requests: int = 0
    cpu_us: float = float("nan")  # the server's CPU time (user + system) per request, from /proc


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """One allowed core for the servers, another for wrk, so they do not steal each other's time slices."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[0]}, {allowed[1]}


def _preexec(cpus: set[int] | None) -> Callable[[], None]:
    def setup() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        if sys.platform == "linux":
            # If this script is SIGKILLed (e.g. by run.py's timeout) its finally blocks never run; the kernel
            # then sends the child SIGTERM, so no server outlives us.
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return setup


def _free_port() -> int:
    # Racy in theory (the port is free only until uvicorn binds it), so start-up failures are retried.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Accept-Language": ACCEPT_LANGUAGE})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: IO[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-2000:])
            return False
        try:
            if _get(port, "/json")[0] == 200:
                return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def serve(app: str, http_impl: str, cpus: set[int] | None) -> Iterator[tuple[int, int]]:
    """A single-worker uvicorn serving apps:<app>; yields (port, pid) and always stops it."""
    # Start from a clean environment for the config: AIACT_* variables would change what `wrapped` does.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIACT_")}
    for _attempt in range(3):
        port = _free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", f"apps:{app}", "--app-dir", str(BENCH_DIR),
            "--host", HOST, "--port", str(port), "--workers", "1", "--loop", "asyncio", "--http", http_impl,
            "--log-level", "warning", "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, preexec_fn=_preexec(cpus))
            try:
                if _wait_ready(proc, port, log, time.monotonic() + 30):
                    yield port, proc.pid
                    return
            finally:
                _stop(proc)
    raise RuntimeError(f"uvicorn could not serve apps:{app} on {HOST} (see its output above)")


def check(ports: dict[str, int]) -> None:
    """Measure the real thing: the wrapped side must actually disclose, the bare side must not, and the floor
    must send what the wrapped side sends."""
    bodies: dict[tuple[str, str], bytes] = {}
    for side, port in ports.items():
        for path in ROUTES:
            status, headers, body = _get(port, path)
            bodies[side, path] = body
            disclosed = "ai-disclosure" in headers
            problems = [] if status == 200 else [f"status {status}"]
            if disclosed != (side != "bare"):
                problems.append(f"AI-Disclosure header {'present' if disclosed else 'missing'}")
            if side in ("wrapped", "floor") and path == "/html" and b"aiact-disclosure" not in body:
                problems.append("no banner in the page")
            if side in ("wrapped", "floor") and path == "/sse" and body.count(b"\n\n") <= 20:
                problems.append("no event-stream notice")
            if problems:
                raise RuntimeError(f"{side} {path}: {', '.join(problems)}")
    if "floor" in ports and "wrapped" in ports and bodies["floor", "/html"] != bodies["wrapped", "/html"]:
        raise RuntimeError("the floor app's page differs from the wrapped side's: it would not be the floor")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    return WrkResult(float(rps[1]), _ms(p50[1]), _ms(p99[1]), errors + (int(non2xx[1]) if non2xx else 0),
                     int(requests[1]) if requests else 0)  # fmt: skip


def run_wrk(
    server: tuple[int, int], path: str, args: argparse.Namespace, cpus: set[int] | None, duration: int
) -> WrkResult:
    """One wrk run against (port, pid); also the server's CPU time per request over the run."""
    port, pid = server
    cpu_before = _cpu_seconds(pid)
    cmd = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
        "-H", f"Accept-Language: {ACCEPT_LANGUAGE}", f"http://{HOST}:{port}{path}",
    ]  # fmt: skip
    # Bounded: wrk stops itself after -d, the timeout only catches a hung wrk.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, preexec_fn=_preexec(cpus))
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    result = parse_wrk(done.stdout)
    cpu = _cpu_seconds(pid) - cpu_before
    return replace(result, cpu_us=cpu / result.requests * 1e6) if result.requests else result


Results = dict[str, dict[str, list[WrkResult]]]  # route -> side -> one result per round


def measure(ports: dict[str, tuple[int, int]], args: argparse.Namespace, wrk_cpus: set[int] | None) -> Results:
    results: Results = {path: {side: [] for side in ports} for path in args.routes}
    sides = list(ports)
    for path in args.routes:
        for side in sides:  # warm-up, not recorded: imports, first-call caches, TCP connection setup
            run_wrk(ports[side], path, args, wrk_cpus, 1)
        for r in range(args.rounds):
            # Rotate the order each round so no side always runs first (right after a different load).
            for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
                result = run_wrk(ports[side], path, args, wrk_cpus, args.duration)
                results[path][side].append(result)
                print(
                    f"  {path:<6} round {r + 1} {side:<9} {result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                    f"  p99 {result.p99_ms:6.2f} ms  server CPU {result.cpu_us:6.1f} us/req"
                    + (f"  ERRORS {result.errors}" if result.errors else ""),
                    flush=True,
                )
    return results


def report(results: Results, http_impl: str) -> None:
    # Two ratios: of the medians, and the median of per-round ratios. The second pairs runs taken seconds
    # apart, so background load that drifts over minutes (other jobs on a shared box) cancels out better.
    # The server's CPU time per request says where throughput goes when the CPU it runs on is shared: a
    # saturated single-worker server serves 1 / (CPU per request), whatever else runs beside it.
    print(
        f"\n{'route':<6} {'side':<9} {'req/s median':>12} {'min..max':>12} {'x bare':>7} {'paired':>7}"
        f" {'(per-round range)':>18} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}"
    )
    paired: dict[tuple[str, str], float] = {}
    for path, by_side in results.items():
        bare = [r.rps for r in by_side["bare"]]
        for side, runs in by_side.items():
            rps = [r.rps for r in runs]
            per_round = [w / b for w, b in zip(rps, bare, strict=True)]
            paired[path, side] = statistics.median(per_round)
            print(
                f"{path:<6} {side:<9} {statistics.median(rps):12.0f} {f'{min(rps):.0f}..{max(rps):.0f}':>12}"
                f" {statistics.median(rps) / statistics.median(bare):7.3f} {paired[path, side]:7.3f}"
                f" {f'{min(per_round):.2f}..{max(per_round):.2f}':>18}"
                f" {statistics.median(r.p50_ms for r in runs):7.2f} {statistics.median(r.p99_ms for r in runs):7.2f}"
                f" {statistics.median(r.cpu_us for r in runs):10.1f}"
            )
    print()
    for path in results:
        ratio, goal = paired[path, "wrapped"], GOALS.get(path)
        print(
            f"{path:<6} TransparencyMiddleware {ratio:.3f}x bare,"
            f" BaseHTTPMiddleware (one header) {paired[path, 'basehttp']:.3f}x bare (paired medians)"
            + (f"; goal >= {goal}: {'PASS' if ratio >= goal else 'MISS'}" if goal else "")
        )
        bare_rps = statistics.median(r.rps for r in results[path]["bare"])
        bare_cpu = statistics.median(r.cpu_us for r in results[path]["bare"])
        added_cpu = statistics.median(
            w.cpu_us - b.cpu_us for w, b in zip(results[path]["wrapped"], results[path]["bare"], strict=True)
        )
        print(f"{path:<6} server CPU per request: bare {bare_cpu:.1f} us, TransparencyMiddleware +{added_cpu:.1f} us"
              f" (paired median), i.e. {bare_cpu / (bare_cpu + added_cpu):.3f}x bare when CPU-bound")  # fmt: skip
        if "floor" in results[path]:
            # The floor: the server's own cost of the bytes we add. Wrapped against it is our Python work alone.
            floor_cpu = statistics.median(r.cpu_us for r in results[path]["floor"])
            over_floor = statistics.median(
                w.cpu_us - f.cpu_us for w, f in zip(results[path]["wrapped"], results[path]["floor"], strict=True)
            )
            over_floor_rps = statistics.median(
                w.rps / f.rps for w, f in zip(results[path]["wrapped"], results[path]["floor"], strict=True)
            )
            print(f"{path:<6} floor (the bare app sending the same bytes) {paired[path, 'floor']:.3f}x bare,"
                  f" server CPU {floor_cpu:.1f} us/req; TransparencyMiddleware {over_floor_rps:.3f}x the floor,"
                  f" +{over_floor:.1f} us CPU over it")  # fmt: skip
            record(f"uvicorn {http_impl} {path}: floor/bare throughput (the same bytes, no middleware)",
                   paired[path, "floor"], "x", goal="(context: the best any middleware can do)",
                   baseline=f"server CPU floor {floor_cpu:.0f} us/req, bare {bare_cpu:.0f}", passed=None,
                   issue="17")  # fmt: skip
            record(f"uvicorn {http_impl} {path}: wrapped/floor throughput", over_floor_rps, "x",
                   goal="(context: our own work)", baseline=f"wrapped +{over_floor:.1f} us CPU/req over the floor",
                   passed=None, issue="17")  # fmt: skip
        record(f"uvicorn {http_impl} {path}: wrapped/bare throughput", ratio, "x",
               goal=f">= {goal}" if goal else "(context)",
               baseline=f"bare {bare_rps:.0f} req/s; server CPU bare {bare_cpu:.0f} us/req, wrapped +{added_cpu:.1f}",
               passed=ratio >= goal if goal else None, issue="17")  # fmt: skip
    if any(r.errors for by_side in results.values() for runs in by_side.values() for r in runs):
        print("WARNING: wrk saw socket errors or non-2xx responses; the numbers above are suspect")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run (default 3)")
    # Many short rounds beat few long ones on a shared machine: more pairs taken close together in time.
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per route and side (default 5)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--routes", nargs="+", default=list(ROUTES), choices=ROUTES)
    # h11 is what a plain `pip install uvicorn` serves with; httptools comes with uvicorn[standard].
    parser.add_argument("--http", nargs="+", default=["h11", "httptools"], choices=("h11", "httptools", "auto"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_wrk: wrk not found on PATH; install it (Debian/Ubuntu: apt-get install wrk)", file=sys.stderr)
        return 2
    # SIGTERM (run.py's timeout, a CI cancel) must unwind through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    server_cpus, wrk_cpus = _cpu_split()
    pinning = f"servers on CPU {server_cpus}, wrk on CPU {wrk_cpus}" if server_cpus else "no CPU pinning"
    if "httptools" in args.http and importlib.util.find_spec("httptools") is None:
        print("bench_wrk: httptools is not installed (pip install httptools, or the dev extra)", file=sys.stderr)
        return 2
    try:
        for http_impl in args.http:
            print(
                f"\nuvicorn --workers 1 --loop asyncio --http {http_impl}; wrk -t{args.threads} -c{args.connections}"
                f" -d{args.duration}s x {args.rounds} rotated rounds; {pinning};"
                f" load average {os.getloadavg()[0]:.2f}"
            )
            with ExitStack() as stack:
                servers = {side: stack.enter_context(serve(side, http_impl, server_cpus)) for side in SIDES}
                check({side: port for side, (port, _) in servers.items()})
                report(measure(servers, args, wrk_cpus), http_impl)
            # The same three apps through uvicorn's protocol in this process: the CPU figures without the noise.
            cpu_table(http_impl)
    except KeyboardInterrupt:
        # Ctrl+C reaches wrk too, which may exit first and surface as an error: either way, we were stopped.
        print("bench_wrk: interrupted; servers stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
