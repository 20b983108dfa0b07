"""The JSON report: the stable interface for CI gates.

Schema (``schema`` = .../check-report/v1; fields are only ever added within v1)::

    {
      "schema": "https://github.com/aiact-transparency/aiact-transparency/check-report/v1",
      "generator": "aiact-transparency/X.Y.Z",
      "target": "https://example.org",         # the base URL checked
      "started_at": "2026-12-01T08:00:00+00:00",
      "duration_s": 3.2,
      "unreachable": null | "why the deployment could not be reached (exit 2)",
      "checks": [{
        "id": "header.ai-disclosure.syntax",   # stable identifiers, see the checks' modules
        "obligation": "Art. 50(2)",             # Art. 50(1|2|4|5), Code Commitment 1|2, Code Annex 1
        "status": "pass" | "fail" | "warn" | "n/a",
        "required": true,                       # false: a recommendation, never fails the run
        "target": "https://example.org/",       # the URL (and [language]) the check is about
        "title": "...",
        "evidence": {"text": "...", "screenshot_png_base64": "..."?},
        "fix": "..."                            # empty when the check passes
      }],
      "summary": {"total", "pass", "fail", "warn", "na", "required_failed", "compliant", "exit_code",
                  "by_obligation": {"Art. 50(1)": {"pass", "fail", "warn", "na"}, ...}}
    }

A CI gate reads ``summary.compliant`` (or the exit code: 0 compliant, 1 findings, 2 unreachable).
"""

from __future__ import annotations

import json

from .report import Report


def render_json(report: Report, *, screenshots: bool = True) -> str:
    data = report.to_dict()
    if not screenshots:
        for check in data["checks"]:
            check["evidence"].pop("screenshot_png_base64", None)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
