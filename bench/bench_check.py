"""`aiact-transparency check` of the demo: 10 pages in 3 languages, 5 media files, 1 stream, the detector.

Targets (issue 16): <= 20 s without --browser, <= 60 s with it. The demo is the test suite's correct demo
(tests/check/apps.py: the real TransparencyMiddleware marking and signing the images, the detector stand-in),
served by uvicorn on 127.0.0.1 in this process. Prints PASS/MISS per target; timings never fail the run.

Run: .venv/bin/python bench/bench_check.py [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from results import record

from aiact_transparency.check import CheckOptions, StreamProbe, run_check

TARGETS = {False: 20.0, True: 60.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-browser", action="store_true", help="skip the --browser run")
    args = parser.parse_args()
    keys = tempfile.mkdtemp(prefix="bench-check-keys-")
    os.environ["AIACT_KEYS_DIR"] = keys  # the demo's development chain: throwaway, never the user's
    from tests.check import apps
    from tests.servers import serve

    modes = [False] if args.no_browser or shutil.which("chromium") is None else [False, True]
    try:
        with serve(apps.demo()) as base:
            for browser in modes:
                options = CheckOptions(base_url=base, pages=apps.PAGES, media=apps.MEDIA, languages=apps.LANGUAGES,
                                       streams=(StreamProbe(apps.STREAM, apps.STREAM_BODY),), browser=browser)
                started = time.perf_counter()
                report = run_check(options)
                seconds = time.perf_counter() - started
                counts = Counter(c.status for c in report.checks)
                target = TARGETS[browser]
                verdict = "PASS" if seconds <= target else "MISS"
                print(f"check {'--browser ' if browser else ''}of the demo ({len(apps.PAGES)} pages x "
                      f"{len(apps.LANGUAGES)} languages, {len(apps.MEDIA)} media, 1 stream, detector): "
                      f"{seconds:.2f} s (target <= {target:.0f} s) {verdict}; {len(report.checks)} checks "
                      f"{dict(counts)}, exit {report.exit_code}", flush=True)
                record(f"check{' --browser' if browser else ''} of the demo", seconds, "s", goal=f"<= {target:.0f} s",
                       passed=seconds <= target, issue="16")
    finally:
        shutil.rmtree(keys, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
