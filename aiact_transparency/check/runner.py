"""run_check: probe a deployment from the outside, in order, and gather every check into one Report.

Order: the first page (reachability: exit 2 when the host cannot be connected to), the discovery document,
every page in every requested language, the streams, the media, the detector; then the header checks over
every response, and with --browser the rendered view of every page.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .browser import BrowserUnavailable
from .detection import detection_checks
from .discovery import detector_link_check, detector_url, discovery_checks
from .headers import header_checks
from .media import media_checks
from .options import DEFAULT_DETECTOR, DEFAULT_DISCOVERY, CheckOptions
from .pages import PageResult, page_checks
from .probe import Probe, Prober
from .report import ART_50_5, CheckResult, Evidence, Report
from .streams import stream_checks

Progress = Callable[[str], None]
_DISCOVERY_LIMIT = 1024 * 1024


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Run:
    def __init__(self, options: CheckOptions, prober: Prober, progress: Progress | None) -> None:
        self.options, self.prober, self.progress = options, prober, progress
        self.deadline = time.monotonic() + options.total_timeout_s
        self.count = 0
        self.skipped: list[str] = []

    def fetch(self, url: str, *, limit: int, method: str = "GET", headers: dict[str, str] | None = None,
              content: bytes | None = None, json_body: object = None, keep_chunks: bool = False,
              always: bool = False) -> Probe | None:
        if time.monotonic() > self.deadline and not always:
            self.skipped.append(url)
            return None
        probe = self.prober.fetch(url, limit=limit, method=method, headers=headers, content=content,
                                  json_body=json_body, keep_chunks=keep_chunks)
        self.count += 1
        if self.progress is not None:
            outcome = probe.error or f"HTTP {probe.status}, {len(probe.body)} bytes" + (" (truncated)"
                                                                                        if probe.truncated else "")
            language = (headers or {}).get("accept-language")
            self.progress(f"[{self.count:>3}] {probe.method} {url}{f' [{language}]' if language else ''}: "
                          f"{outcome} ({probe.elapsed_s * 1000:.0f} ms)")
        return probe


def run_check(options: CheckOptions, progress: Progress | None = None) -> Report:
    started = dt.datetime.now(dt.timezone.utc)
    report = Report(target=options.base_url, started_at=started.isoformat(timespec="seconds"))
    clock = time.monotonic()
    with Prober(options.timeout_s) as prober:
        run = _Run(options, prober, None if options.quiet else progress)
        _probe_all(run, report)
    report.duration_s = time.monotonic() - clock
    return report


def _page_headers(language: str | None) -> dict[str, str]:
    headers = {"accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "origin": "https://check.invalid"}
    if language:
        headers["accept-language"] = language
    return headers


def _probe_all(run: _Run, report: Report) -> None:
    options = run.options
    languages: list[str | None] = list(options.languages) or [None]
    first = run.fetch(options.url(options.pages[0] if options.pages else "/"), limit=options.max_page_bytes,
                      headers=_page_headers(languages[0]), always=True)  # reachability is always asked
    if first is None or first.unreachable:
        report.unreachable = f"{options.base_url} cannot be reached: {first.error if first else 'not probed'}"
        return
    responses: list[Probe] = []
    discovery = run.fetch(options.url(DEFAULT_DISCOVERY), limit=_DISCOVERY_LIMIT,
                          headers={"accept": "application/json"})
    document = None
    if discovery is not None:
        outcome = _guarded(report, "discovery", discovery.url, discovery_checks, discovery)
        if outcome is not None:
            report.checks += outcome[0]
            document = outcome[1]
    pages = _pages(run, report, first, languages, responses)
    _streams(run, report, responses)
    marked = _media(run, report, _system_name(document), responses)
    _detection(run, report, document, marked, discovery.url if discovery else options.url(DEFAULT_DISCOVERY))
    report.checks[0:0] = _guarded(report, "header", options.base_url, header_checks, responses,
                                  DEFAULT_DISCOVERY) or []
    if options.browser and pages:
        from .browser_checks import browser_checks

        rendered = browser_checks(pages, run.deadline, run.progress)  # per page guarded inside
        _resolved_by_browser(report.checks, rendered)
        report.checks += rendered
    if run.skipped:  # not every check ran: compliance is not shown, so a CI gate must not pass
        report.add(CheckResult(id="probe.budget", obligation=ART_50_5, status="fail", target=options.base_url,
                               title="Every probe ran within the time limit",
                               evidence=Evidence(f"{len(run.skipped)} probes skipped after "
                                                 f"{options.total_timeout_s:.0f} s: {', '.join(run.skipped[:5])}"),
                               fix="raise --total-timeout or probe fewer routes"))


def _resolved_by_browser(static: list[CheckResult], rendered: list[CheckResult]) -> None:
    """A static contrast the cascade could not resolve (a warning) is answered by the rendered one: it becomes
    n/a, pointing at the browser's result, so one question is not reported twice with two answers."""
    measured = {c.target: c for c in rendered if c.id == "browser.notice.contrast" and c.status in ("pass", "fail")}
    for check in static:
        answer = measured.get(check.target)
        if check.id == "page.notice.contrast" and check.status == "warn" and answer is not None:
            check.status, check.fix = "n/a", ""
            check.evidence.text += f"; answered by browser.notice.contrast ({answer.status}: {answer.evidence.text})"


def _pages(run: _Run, report: Report, first: Probe, languages: list[str | None], responses: list[Probe]
           ) -> list[tuple[Probe, str | None, PageResult]]:
    options = run.options
    pages = []
    for index, path in enumerate(options.pages):
        for language in languages:
            probe = first if index == 0 and language == languages[0] else run.fetch(
                options.url(path), limit=options.max_page_bytes, headers=_page_headers(language))
            if probe is None:
                continue
            responses.append(probe)
            result = _guarded(report, "page", probe.url, page_checks, probe, language)
            if result is not None:
                report.checks += result.checks
                pages.append((probe, language, result))
    return pages


def _streams(run: _Run, report: Report, responses: list[Probe]) -> None:
    options = run.options
    for stream in options.streams:
        method = "POST" if stream.body is not None else "GET"
        probe = run.fetch(options.url(stream.path), method=method, json_body=stream.body, keep_chunks=True,
                          limit=options.max_stream_bytes, headers={"accept": "text/event-stream"})
        if probe is not None:
            responses.append(probe)
            report.checks += _guarded(report, "stream", probe.url, stream_checks, probe) or []


def _media(run: _Run, report: Report, system_name: str | None, responses: list[Probe]) -> tuple[bytes, str] | None:
    """Verifies every media route; returns the first output that carries an AI mark, a sample for the detector."""
    options = run.options
    marked: tuple[bytes, str] | None = None
    for path in options.media:
        probe = run.fetch(options.url(path), limit=options.max_media_bytes, headers={"origin": "https://check.invalid"})
        if probe is None:
            continue
        responses.append(probe)
        verified = _guarded(report, "media", probe.url, media_checks, probe, system_name)
        if verified is None:
            continue
        report.checks += verified.checks
        if marked is None and verified.marked_sample is not None and verified.media_type is not None:
            marked = (verified.marked_sample, verified.media_type)
    return marked


T = TypeVar("T")


def _guarded(report: Report, family: str, target: str, check: Callable[..., T], *args: Any) -> T | None:
    """Runs one family's checks; should one raise on what a deployment sent (a bug of ours, a parser's limit),
    the run goes on and the failure is a finding: unknown is not compliant, and a traceback helps no auditor."""
    try:
        return check(*args)
    except (BrowserUnavailable, ImportError):
        raise  # the check cannot run at all here: the CLI says so and exits 2
    except Exception as exc:  # reported in full as a finding, never swallowed
        report.add(CheckResult(
            id=f"{family}.error", obligation=ART_50_5, status="fail", target=target,
            title=f"The {family} checks could run", evidence=Evidence(f"{type(exc).__name__}: {exc}"),
            fix="the checker itself failed on this response: report it with the evidence; meanwhile check by hand"))
        return None


def _system_name(document: dict[str, object] | None) -> str | None:
    system = document.get("system") if document else None
    name = system.get("name") if isinstance(system, dict) else None
    return name if isinstance(name, str) else None


def _detection(run: _Run, report: Report, document: dict[str, object] | None, marked: tuple[bytes, str] | None,
               discovery_url: str) -> None:
    options = run.options
    linked = detector_url(document) if document else None
    url = options.url(options.detector or linked or DEFAULT_DETECTOR)  # absolute URLs pass through
    answered: list[Probe] = []

    def fetch(content: bytes, kind: str, accept: str) -> Probe:
        probe = run.fetch(url, method="POST", content=content, limit=options.max_page_bytes,
                          headers={"content-type": kind, "accept": accept})
        if probe is None:
            return Probe(url=url, method="POST", error="skipped: the check's time limit was reached")
        answered.append(probe)
        return probe

    found = detection_checks(fetch, url, marked)
    reached = next((p.url for p in answered if p.status is not None and p.status < 400), None)
    report.add(detector_link_check(discovery_url, document, reached))
    report.checks += found
