"""The report model: one CheckResult per probed thing and obligation, gathered into a Report.

The JSON form (:meth:`Report.to_dict`) is the stable interface for CI gates; its schema is documented in
:mod:`.render_json` and versioned by ``schema``. Statuses are strings so the JSON needs no mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "n/a"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "warn", "n/a")

# The obligations a check serves, as the JSON carries them (short, stable strings).
ART_50_1 = "Art. 50(1)"
ART_50_2 = "Art. 50(2)"
ART_50_4 = "Art. 50(4)"
ART_50_5 = "Art. 50(5)"
CODE_1 = "Code Commitment 1"
CODE_2 = "Code Commitment 2"
ANNEX_1 = "Code Annex 1"

EXIT_PASS, EXIT_FINDINGS, EXIT_UNREACHABLE = 0, 1, 2


@dataclass
class Evidence:
    """What a check saw: a header line, a snippet, a screenshot (PNG bytes, base64 in JSON and HTML)."""

    text: str = ""
    screenshot_png: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        import base64

        out: dict[str, Any] = {"text": self.text}
        if self.screenshot_png is not None:
            out["screenshot_png_base64"] = base64.b64encode(self.screenshot_png).decode("ascii")
        return out


@dataclass
class CheckResult:
    id: str  # e.g. "header.ai-disclosure.syntax"
    obligation: str
    status: Status
    target: str  # the URL (or path) the check is about
    title: str
    evidence: Evidence = field(default_factory=Evidence)
    fix: str = ""
    required: bool = True  # a failing optional check (a warn-level recommendation) never fails the run

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "obligation": self.obligation,
            "status": self.status,
            "target": self.target,
            "title": self.title,
            "required": self.required,
            "evidence": self.evidence.to_dict(),
            "fix": self.fix,
        }


SCHEMA = "https://github.com/aiact-transparency/aiact-transparency/check-report/v1"


@dataclass
class Report:
    target: str
    started_at: str
    checks: list[CheckResult] = field(default_factory=list)
    duration_s: float = 0.0
    unreachable: str | None = None  # why the deployment could not be reached at all (exit 2)

    def add(self, result: CheckResult) -> CheckResult:
        self.checks.append(result)
        return result

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for c in self.checks if c.status == status) for status in STATUSES}

    def by_obligation(self) -> dict[str, dict[str, int]]:
        """{obligation: {status: count}}, obligations in the order they first appear."""
        table: dict[str, dict[str, int]] = {}
        for c in self.checks:
            row = table.setdefault(c.obligation, dict.fromkeys(STATUSES, 0))
            row[c.status] += 1
        return table

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail" and c.required]

    @property
    def exit_code(self) -> int:
        if self.unreachable is not None:
            return EXIT_UNREACHABLE
        return EXIT_FINDINGS if self.failed else EXIT_PASS

    def to_dict(self) -> dict[str, Any]:
        from .._version import __version__

        counts = self.counts()
        return {
            "schema": SCHEMA,
            "generator": f"aiact-transparency/{__version__}",
            "target": self.target,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "unreachable": self.unreachable,
            "checks": [c.to_dict() for c in self.checks],
            "summary": {
                "total": len(self.checks),
                **{("na" if k == "n/a" else k): v for k, v in counts.items()},
                "required_failed": len(self.failed),
                "compliant": self.unreachable is None and not self.failed,
                "exit_code": self.exit_code,
                "by_obligation": {ob: {("na" if k == "n/a" else k): v for k, v in row.items()}
                                  for ob, row in self.by_obligation().items()},
            },
        }
