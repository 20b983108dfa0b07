"""Header checks over every probed response: AI-Disclosure present and valid, Link to the discovery document,
CORS exposing both where CORS is used. One result per check, its evidence listing the responses concerned."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from .probe import Probe
from .report import ART_50_2, ART_50_4, ART_50_5, CheckResult, Evidence, Status
from .sf import parse_disclosure

# Headers other vendors invent; no standard reader understands them, so they are evidence, not disclosure.
AD_HOC = ("x-ai-generated", "x-ai-disclosure", "x-generated-by", "x-ai-content", "ai-generated", "x-ai-model")
_MAX_LINES = 12  # evidence lines per check: enough to see the pattern, short enough to read
_PLAUSIBLE = dt.timedelta(days=1)
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^,;]+)*)")


def _lines(lines: list[str]) -> str:
    extra = len(lines) - _MAX_LINES
    return "\n".join(lines[:_MAX_LINES] + ([f"... and {extra} more"] if extra > 0 else []))


def _answered(probes: Sequence[Probe]) -> list[Probe]:
    return [p for p in probes if p.status is not None]


def links(probe: Probe) -> list[tuple[str, dict[str, str]]]:
    """(target, params) per RFC 8288 link-value of every Link field line."""
    out = []
    for line in probe.header_lines("link"):
        for match in _LINK.finditer(line):
            params = {}
            for part in match.group(2).split(";"):
                name, _, value = part.strip().partition("=")
                if name:
                    params[name.strip().lower()] = value.strip().strip('"')
            out.append((match.group(1), params))
    return out


def check_presence(probes: Sequence[Probe]) -> CheckResult:
    answered = _answered(probes)
    missing = [p for p in answered if not p.header_lines("ai-disclosure")]
    evidence = []
    for p in missing:
        ad_hoc = [f"{name}: {p.headers[name]}" for name in AD_HOC if name in p.headers]
        note = f" (found ad-hoc {'; '.join(ad_hoc)}, which no AI-Disclosure reader understands)" if ad_hoc else ""
        evidence.append(f"{p.describe()}: no AI-Disclosure{note}")
    ok = [f"{p.describe()}: AI-Disclosure: {', '.join(p.header_lines('ai-disclosure'))}" for p in answered[:3]]
    return CheckResult(
        id="header.ai-disclosure.present", obligation=ART_50_2, status="fail" if missing or not answered else "pass",
        target=f"{len(answered)} responses", title="AI-Disclosure header on every response",
        evidence=Evidence(_lines(evidence) if missing else _lines(ok) or "no response answered"),
        fix="" if not missing else "send `AI-Disclosure: mode=ai-originated, model=\"...\", provider=\"...\", "
        "date=@<epoch>` on every response (TransparencyMiddleware does); ad-hoc X- headers do not replace it",
    )


def check_syntax(probes: Sequence[Probe]) -> CheckResult:
    bad: list[str] = []
    good: list[str] = []
    fixes: list[str] = []
    for p in _answered(probes):
        for raw in p.header_lines("ai-disclosure"):
            parsed = parse_disclosure(raw)
            if parsed.valid:
                good.append(f"{p.describe()}: AI-Disclosure: {raw} (mode={parsed.mode})")
            else:
                bad.append(f"{p.describe()}: AI-Disclosure: {raw}: " + "; ".join(parsed.problems))
                fixes.extend(x for x in parsed.problems if x not in fixes)
    status: Status = "fail" if bad else ("pass" if good else "n/a")
    return CheckResult(
        id="header.ai-disclosure.syntax", obligation=ART_50_2, status=status, target="AI-Disclosure values",
        title="AI-Disclosure is an RFC 9651 Dictionary with a valid mode token",
        evidence=Evidence(_lines(bad or good) or "no AI-Disclosure header to parse"),
        fix=fixes[0].split("Fix: ", 1)[-1] if fixes else "",
    )


def check_date(probes: Sequence[Probe], now: dt.datetime | None = None) -> CheckResult:
    now = now or dt.datetime.now(dt.timezone.utc)
    lines, wrong, seen = [], 0, 0
    for p in _answered(probes):
        for raw in p.header_lines("ai-disclosure"):
            parsed = parse_disclosure(raw)
            if parsed.date is None:
                continue
            seen += 1
            off = parsed.date - now
            if abs(off) > _PLAUSIBLE:
                wrong += 1
                lines.append(f"{p.describe()}: date={parsed.date.isoformat()} is {off} from now")
    if not seen:
        return CheckResult(
            id="header.ai-disclosure.date", obligation=ART_50_2, status="warn", target="AI-Disclosure values",
            title="AI-Disclosure date plausible", required=False,
            evidence=Evidence("no response's AI-Disclosure carries a `date` member"),
            fix="add date=@<epoch seconds of the response> (RFC 9651 Date) so readers know when it was said")
    return CheckResult(
        id="header.ai-disclosure.date", obligation=ART_50_2, status="fail" if wrong else "pass",
        target="AI-Disclosure values", title="AI-Disclosure date plausible",
        evidence=Evidence(_lines(lines) if wrong else f"{seen} dates within a day of the check's clock"),
        fix="set date to the response's time (epoch seconds); check the server clock" if wrong else "",
    )


def check_link(probes: Sequence[Probe], discovery_path: str) -> CheckResult:
    answered = _answered(probes)
    # rel is a space-separated list (RFC 8288 §3.3): "describedby c2pa-manifest" names the document too.
    without = [p for p in answered if not any(target.split("?")[0].endswith(discovery_path)
                                              or "describedby" in params.get("rel", "").lower().split()
                                              for target, params in links(p))]
    return CheckResult(
        id="header.link.discovery", obligation=ART_50_5, status="fail" if without or not answered else "pass",
        target=f"{len(answered)} responses", title="Link header to the discovery document",
        evidence=Evidence(_lines([f"{p.describe()}: Link: {', '.join(p.header_lines('link')) or '(none)'}"
                                  for p in (without or answered[:3])])),
        fix=f'send `Link: <{discovery_path}>; rel="describedby"` on every response' if without else "",
    )


def check_cors(probes: Sequence[Probe]) -> CheckResult:
    cors = [p for p in _answered(probes) if "access-control-allow-origin" in p.headers]
    if not cors:
        return CheckResult(
            id="header.cors.expose", obligation=ART_50_5, status="n/a", target="CORS responses", required=False,
            title="CORS exposes AI-Disclosure and Link",
            evidence=Evidence("no probed response uses CORS (no Access-Control-Allow-Origin)"))
    hidden = []
    for p in cors:
        exposed = {h.strip().lower() for line in p.header_lines("access-control-expose-headers")
                   for h in line.split(",")}
        missing = [] if "*" in exposed else [h for h in ("ai-disclosure", "link") if h not in exposed]
        if missing:
            hidden.append(f"{p.describe()}: Access-Control-Expose-Headers lacks {', '.join(missing)} "
                          f"(got {', '.join(p.header_lines('access-control-expose-headers')) or 'none'})")
    return CheckResult(
        id="header.cors.expose", obligation=ART_50_5, status="warn" if hidden else "pass", target="CORS responses",
        title="CORS exposes AI-Disclosure and Link", required=False,
        evidence=Evidence(_lines(hidden) or f"{len(cors)} CORS responses expose both"),
        fix="add AI-Disclosure and Link to Access-Control-Expose-Headers (Starlette CORSMiddleware: "
        "expose_headers=['AI-Disclosure', 'Link']) so browser JavaScript can read them" if hidden else "",
    )


def check_status(probes: Sequence[Probe]) -> CheckResult:
    """Routes that answered with an error or not at all: each is a finding, never a traceback."""
    broken = [p for p in probes if p.error is not None or (p.status is not None and p.status >= 400)]
    return CheckResult(
        id="probe.status", obligation=ART_50_5, status="fail" if broken else "pass", target=f"{len(probes)} requests",
        title="Every probed route answers",
        evidence=Evidence(_lines([p.describe() for p in broken]) if broken else f"{len(probes)} answered 2xx/3xx"),
        fix="fix the failing routes (or remove them from the probe list): disclosure on an error page is not "
        "checkable" if broken else "",
    )


def check_review(probes: Sequence[Probe]) -> CheckResult:
    """Art. 50(4) turns on what the content is (a deep fake, text informing the public) and on human editorial
    review: the outside can only report what the deployment claims, never judge it, so this is never a pass."""
    claims = sorted({f"reviewed-by={parse_disclosure(raw).members['reviewed-by']!r}" for p in _answered(probes)
                     for raw in p.header_lines("ai-disclosure") if "reviewed-by" in parse_disclosure(raw).members})
    seen = ("the deployment claims human editorial review: " + ", ".join(claims)) if claims else (
        "no AI-Disclosure claims human editorial review (reviewed-by)")
    return CheckResult(
        id="disclosure.deployer", obligation=ART_50_4, status="n/a", target=f"{len(probes)} responses",
        title="Deep fakes and public-interest text disclosed (deployer)", required=False,
        evidence=Evidence(f"{seen}. Whether content is a deep fake or public-interest text cannot be judged from "
                          "outside: review it by hand"))


def header_checks(probes: Sequence[Probe], discovery_path: str) -> list[CheckResult]:
    return [check_status(probes), check_presence(probes), check_syntax(probes), check_date(probes),
            check_link(probes, discovery_path), check_cors(probes), check_review(probes)]
