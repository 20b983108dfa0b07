"""`make bench`: run every bench/bench_*.py in a fixed order, each in its own process, then summarise.

    .venv/bin/python bench/run.py [--timeout 600] [NAME ...]     e.g. bench/run.py wrk middleware

Output of each script passes straight through (timing tables are the point). The summary lists exit codes and
wall times; the exit status is non-zero if any script failed or timed out. Timings never fail the run: the
scripts print PASS/MISS against their targets as text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from results import RESULTS_ENV

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Cheap in-process numbers first, then the server load test, then the heavy image work; anything added later
# (bench_image_pipeline.py, bench_gradio.py, ...) runs after these, alphabetically, without editing this list.
ORDER = ("bench_middleware", "bench_html_inject", "bench_wrk", "bench_c2pa", "bench_watermark")
GRACE = 15.0  # seconds between SIGTERM and SIGKILL: bench_wrk needs a moment to stop its servers


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "ok", "exit N", "timeout", "interrupted"
    seconds: float

    @property
    def failed(self) -> bool:
        return self.status != "ok"


def discover(only: list[str]) -> list[Path]:
    found = {p.stem: p for p in BENCH_DIR.glob("bench_*.py")}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    if only:
        names = [n for n in names if any(n == w or n == f"bench_{w}" for w in only)]
    return [found[n] for n in names]


def python() -> str:
    # The project's venv even when run.py itself was started by another interpreter: the scripts import the
    # package and its extras (c2pa, numpy, ...), which only the venv has.
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The group may already be gone (the script exited between the timeout and this call).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Ask the script's whole process group to stop, then insist; nothing it started may outlive it."""
    _signal_group(proc, sig)
    try:
        proc.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def run_one(script: Path, timeout: float, results: Path) -> Outcome:
    print(f"\n{'=' * 100}\n== {script.name}\n{'=' * 100}", flush=True)
    # PYTHONUNBUFFERED so its lines interleave with ours in order; the results file collects its table rows.
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{RESULTS_ENV: str(results)})
    start = time.monotonic()
    # Own process group: a timeout can then stop the script together with anything it spawned.
    proc = subprocess.Popen([python(), str(script)], cwd=ROOT, env=env, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
        status = "ok" if code == 0 else f"exit {code}"
    except subprocess.TimeoutExpired:
        print(f"\n{script.name}: no result after {timeout:.0f} s, stopping it", flush=True)
        _stop(proc, signal.SIGTERM)
        status = "timeout"
    except KeyboardInterrupt:
        # The child sits in its own session, so Ctrl+C did not reach it: pass it on.
        _stop(proc, signal.SIGINT)
        raise
    return Outcome(script.stem, status, time.monotonic() - start)


def read_rows(results: Path) -> list[dict[str, object]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


def table(rows: list[dict[str, object]]) -> None:
    """The one table: each figure, its value, its goal, the baseline measured beside it, PASS or MISS."""
    print(f"\n{'=' * 100}\n== figures against their goals\n{'=' * 100}")
    if not rows:
        print("(no script recorded a figure)")
        return
    header = ("issue", "figure", "value", "goal", "baseline", "verdict")
    cells = [
        (
            str(r["issue"]),
            str(r["figure"]),
            f"{float(str(r['value'])):.3g} {r['unit']}",
            str(r["goal"]),
            str(r["baseline"]),
            str(r["verdict"]),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    for line in [header, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    verdicts = [c[5] for c in cells]
    print(f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS, {verdicts.count('')} without a goal")


def summary(outcomes: list[Outcome], skipped: list[Path]) -> None:
    print(f"\n{'=' * 100}\n== summary\n{'=' * 100}")
    for o in outcomes:
        print(f"{o.name:<28} {o.status:<12} {o.seconds:8.1f} s")
    for script in skipped:
        print(f"{script.stem:<28} {'not run':<12}")
    failed = [o.name for o in outcomes if o.failed]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes) + len(skipped)} scripts ok"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="run only these (bench_wrk or wrk); default: all")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per script (default 600)")
    args = parser.parse_args()
    scripts = discover(args.names)
    if not scripts:
        print(f"no bench/bench_*.py matches {args.names}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    # The machine's state belongs next to the numbers: on a shared box only ratios measured together count.
    print(
        f"python {platform.python_version()} ({python()}), {os.cpu_count()} CPUs, load average {load:.2f},"
        f" {len(scripts)} scripts: {', '.join(s.stem for s in scripts)}"
    )
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="aiact-bench-") as tmp:
        results = Path(tmp) / "results.jsonl"
        try:
            for script in scripts:
                outcomes.append(run_one(script, args.timeout, results))
        except KeyboardInterrupt:
            outcomes.append(Outcome(scripts[len(outcomes)].stem, "interrupted", 0.0))
            table(read_rows(results))
            summary(outcomes, scripts[len(outcomes) :])
            return 130
        table(read_rows(results))
    summary(outcomes, [])
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
