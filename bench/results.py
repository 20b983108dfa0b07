"""One row per benchmark figure, collected by `bench/run.py` into the single table `make bench` ends with.

Every bench script keeps printing its own detail; in addition it calls `record(...)` once per figure an issue
names a goal for. When run by `bench/run.py`, rows go to the JSON-lines file named by $AIACT_BENCH_RESULTS;
run alone, `record` prints the row so the script's output still says PASS or MISS.

    from results import record
    record("headers-only added, in-process", added_us, "us", goal="<= 1.5 us", baseline=f"bare {bare_us:.1f} us",
           passed=added_us <= 1.5)
"""

from __future__ import annotations

import json
import os

RESULTS_ENV = "AIACT_BENCH_RESULTS"


def record(
    figure: str,
    value: float,
    unit: str,
    *,
    goal: str,
    baseline: str = "",
    passed: bool | None,
    issue: str = "",
) -> None:
    """One figure: its value and unit, the goal as text, the baseline measured beside it, and the verdict.

    `passed=None` is for figures reported without a goal (context for the others). Timings never fail a run.
    """
    row = {
        "figure": figure,
        "value": value,
        "unit": unit,
        "goal": goal,
        "baseline": baseline,
        "verdict": "" if passed is None else ("PASS" if passed else "MISS"),
        "issue": issue,
    }
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
    else:
        print(f"RESULT {figure}: {value:.3g} {unit} (goal {goal}; {baseline}) {row['verdict']}")
