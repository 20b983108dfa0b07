"""The terminal report: one table row per check, then each finding with its evidence and fix, then a summary."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

from .report import CheckResult, Report

_MARK = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "n/a": "n/a "}


def _where(result: CheckResult, base: str) -> str:
    target = result.target
    if target.startswith(base):
        target = target[len(base.rstrip("/")):] or "/"
    elif urlsplit(target).scheme:
        target = urlsplit(target).path or "/"
    return target


def _safe(text: str) -> str:
    """What the deployment sent, made inert for a terminal: control characters (an ESC starts a terminal
    command sequence) are shown as escapes, never written."""
    return "".join(ch if ch == "\n" or (ch.isprintable() and ch != "\x1b") else repr(ch)[1:-1] for ch in text)


def _clip(text: str, width: int) -> str:
    text = " ".join(_safe(text).split())
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def render_terminal(report: Report, width: int | None = None) -> str:
    width = width or max(100, shutil.get_terminal_size((120, 40)).columns)
    lines = [f"aiact-transparency check of {report.target} ({report.started_at}, {report.duration_s:.1f} s)", ""]
    if report.unreachable:
        return "\n".join([*lines, f"UNREACHABLE: {report.unreachable}", ""])
    id_w = max([len(c.id) for c in report.checks] + [5])
    ob_w = max([len(c.obligation) for c in report.checks] + [10])
    where_w = min(40, max([len(_where(c, report.target)) for c in report.checks] + [6]))
    rest = max(20, width - id_w - ob_w - where_w - 12)
    lines.append(f"{'STAT':4}  {'CHECK':{id_w}}  {'OBLIGATION':{ob_w}}  {'TARGET':{where_w}}  EVIDENCE")
    lines.append("-" * min(width, 4 + id_w + ob_w + where_w + rest + 8))
    for c in report.checks:
        lines.append(f"{_MARK[c.status]}  {c.id:{id_w}}  {c.obligation:{ob_w}}  "
                     f"{_clip(_where(c, report.target), where_w):{where_w}}  {_clip(c.evidence.text, rest)}")
    findings = [c for c in report.checks if c.status in ("fail", "warn")]
    if findings:
        lines += ["", "Findings:"]
        for c in findings:
            optional = "" if c.required or c.status != "fail" else " (recommendation)"
            lines.append(f"  {_MARK[c.status].strip()} {c.id} [{c.obligation}] {_safe(c.target)}{optional}")
            lines.append(f"    {c.title}")
            for evidence_line in _safe(c.evidence.text).splitlines()[:6]:
                lines.append(f"    evidence: {evidence_line[:width - 14]}")
            if c.fix:
                lines.append(f"    fix: {_safe(c.fix)}")
    lines += ["", f"{'OBLIGATION':{ob_w}}  PASS  FAIL  WARN   N/A"]
    for obligation, row in report.by_obligation().items():
        lines.append(f"{obligation:{ob_w}}  {row['pass']:>4}  {row['fail']:>4}  {row['warn']:>4}  {row['n/a']:>4}")
    counts = report.counts()
    verdict = "COMPLIANT: every required check passes" if not report.failed else (
        f"NOT COMPLIANT: {len(report.failed)} required check(s) fail")
    lines += ["", f"{verdict}  (pass {counts['pass']}, fail {counts['fail']}, warn {counts['warn']}, "
              f"n/a {counts['n/a']})", ""]
    return "\n".join(lines)
