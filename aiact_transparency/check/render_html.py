"""The HTML report: one self-contained file (styles inline, screenshots as data: URIs, no script) that a
compliance officer can read and archive. Every value from the checked deployment is escaped: the report must
not run or show markup the deployment chose."""

from __future__ import annotations

import base64
from html import escape

from .report import CheckResult, Report

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#111;background:#fff;padding:0 1em}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%}th,td{border:1px solid #bbb;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#eee}.pass{background:#e3f4e1}.fail{background:#fde2e1}
.warn{background:#fff4d6}.na{background:#f2f2f2}pre{white-space:pre-wrap;word-break:break-word;margin:0;
font-size:.85em}img{max-width:100%;border:1px solid #888;margin-top:.5em}.summary{font-size:1.1em;
font-weight:600}.fix{margin-top:.3em}
"""


def _row(check: CheckResult) -> str:
    status_class = "na" if check.status == "n/a" else check.status
    shot = ""
    if check.evidence.screenshot_png is not None:
        data = base64.b64encode(check.evidence.screenshot_png).decode("ascii")
        shot = f'<img alt="screenshot of {escape(check.target)}" src="data:image/png;base64,{data}">'
    fix = f'<div class="fix"><strong>Fix:</strong> {escape(check.fix)}</div>' if check.fix else ""
    optional = "" if check.required else " (recommendation)"
    return (f'<tr class="{status_class}"><td><strong>{escape(check.status.upper())}</strong>{optional}</td>'
            f"<td><code>{escape(check.id)}</code><br>{escape(check.title)}</td><td>{escape(check.obligation)}</td>"
            f"<td>{escape(check.target)}</td><td><pre>{escape(check.evidence.text)}</pre>{shot}{fix}</td></tr>")


def render_html(report: Report) -> str:
    counts = report.counts()
    if report.unreachable:
        verdict = f"Unreachable: {report.unreachable}"
    elif report.failed:
        verdict = f"Not compliant: {len(report.failed)} required check(s) fail"
    else:
        verdict = "Compliant: every required check passes"
    rows = "\n".join(_row(c) for c in report.checks)
    by_obligation = "".join(
        f"<tr><td>{escape(ob)}</td><td>{row['pass']}</td><td>{row['fail']}</td><td>{row['warn']}</td>"
        f"<td>{row['n/a']}</td></tr>" for ob, row in report.by_obligation().items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>AI Act Art. 50 check: {escape(report.target)}</title><style>{_CSS}</style></head>
<body><h1>EU AI Act Article 50 transparency check</h1>
<p>Target: <strong>{escape(report.target)}</strong><br>Checked at {escape(report.started_at)} in
{report.duration_s:.1f} s by aiact-transparency check, from the outside (what any visitor, auditor or journalist
can see).</p>
<p class="summary">{escape(verdict)}: pass {counts['pass']}, fail {counts['fail']}, warn {counts['warn']},
n/a {counts['n/a']}.</p>
<p>Obligations: Art. 50(1) telling people they interact with AI; 50(2) machine-readable marking and detection;
50(5) clear, timely, accessible information; the Code of Practice on marking and labelling: Commitment 1
(multi-layer marks), Commitment 2 (a detection interface), Annex 1 (the visible "AI" icon).</p>
<h2>By obligation</h2>
<table><thead><tr><th>Obligation</th><th>Pass</th><th>Fail</th><th>Warn</th><th>n/a</th></tr></thead>
<tbody>{by_obligation}</tbody></table>
<h2>Checks</h2>
<table><thead><tr><th>Status</th><th>Check</th><th>Obligation</th><th>Target</th><th>Evidence and fix</th></tr>
</thead><tbody>
{rows}
</tbody></table></body></html>
"""
