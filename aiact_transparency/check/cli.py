"""`aiact-transparency check BASE_URL ...`: argparse for the options, then run_check and the renderers.

Exit codes: 0 every required check passes, 1 findings, 2 the deployment cannot be reached (or bad options).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .browser import BrowserUnavailable
from .options import (
    CheckOptions,
    CheckOptionsError,
    StreamProbe,
    check_base_url,
    load_probe_file,
    parse_languages,
    parse_stream_body,
)
from .report import EXIT_UNREACHABLE, Report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The check's options on `parser`; a --json the parser already has (the main CLI's common options) is
    kept, so wiring the subcommand is `add_arguments(commands.add_parser("check", parents=common))`."""
    parser.add_argument("base_url", metavar="BASE_URL", help="the deployment, e.g. https://example.org")
    parser.add_argument("--page", action="append", default=[], metavar="PATH", help="an HTML page (default: /)")
    parser.add_argument("--media", action="append", default=[], metavar="PATH", help="a route returning an output")
    parser.add_argument("--stream", action="append", default=[], metavar="PATH", help="an event-stream route")
    parser.add_argument("--stream-body", action="append", default=[], metavar="JSON",
                        help="JSON to POST to the --stream given in the same position (else GET)")
    parser.add_argument("--probes", type=Path, metavar="FILE", help="YAML listing pages, media, streams, lang")
    parser.add_argument("--lang", metavar="LANGS", help="comma-separated languages the notice must speak, e.g. fr,de")
    parser.add_argument("--detector", metavar="PATH", help="detector route (default: the discovery document's link, "
                        "else /.well-known/ai-disclosure/detect)")
    parser.add_argument("--browser", action="store_true", help="also render pages in headless Chromium")
    if "--json" not in parser._option_string_actions:  # argparse has no public "has option" query
        parser.add_argument("--json", action="store_true", help="print the JSON report (no progress lines)")
    parser.add_argument("--html", type=Path, metavar="REPORT.html", help="write the self-contained HTML report")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--total-timeout", type=float, default=300.0, help="seconds for the whole check")


def options_from(args: argparse.Namespace) -> CheckOptions:
    extra: dict[str, Any] = load_probe_file(args.probes) if args.probes else {}
    if len(args.stream_body) > len(args.stream):
        raise CheckOptionsError("--stream-body without a --stream before it. Fix: --stream PATH --stream-body JSON")
    bodies = [parse_stream_body(b) for b in args.stream_body] + [None] * (len(args.stream) - len(args.stream_body))
    streams = tuple(StreamProbe(p, b) for p, b in zip(args.stream, bodies, strict=True))
    streams += tuple(extra.pop("streams", ()))
    pages = tuple(args.page) + tuple(extra.pop("pages", ()))
    languages = parse_languages(args.lang) if args.lang else extra.pop("languages", ())
    extra.pop("languages", None)
    if args.timeout <= 0 or args.total_timeout <= 0:
        raise CheckOptionsError("--timeout and --total-timeout must be positive seconds")
    return CheckOptions(
        base_url=check_base_url(args.base_url), pages=pages or ("/",), media=tuple(args.media) + extra.pop("media", ()),
        streams=streams, languages=tuple(languages), browser=args.browser,
        detector=args.detector or extra.pop("detector", None), timeout_s=args.timeout,
        total_timeout_s=args.total_timeout, quiet=_json(args),
    )


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))  # SUPPRESS-ed in the main CLI when not given


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiact-transparency check",
                                     description="Probe a deployment from the outside for EU AI Act Art. 50.")
    add_arguments(parser)
    return parser


def report_out(report: Report, args: argparse.Namespace) -> None:
    from .render_html import render_html
    from .render_json import render_json
    from .render_terminal import render_terminal

    if args.html is not None:
        args.html.write_text(render_html(report), encoding="utf-8")
    if _json(args):
        sys.stdout.write(render_json(report))
    else:
        sys.stdout.write(render_terminal(report))
        if args.html is not None:
            sys.stdout.write(f"HTML report: {args.html}\n")


def main_check(argv: Sequence[str] | None = None) -> int:
    return run_from_args(_parser().parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """For the main CLI's `check` subcommand: add_arguments(subparser), then this."""
    from .runner import run_check, stderr_progress

    try:
        options = options_from(args)
        report = run_check(options, progress=stderr_progress)
    except CheckOptionsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (ImportError, BrowserUnavailable) as exc:  # a dependency of the check extra or the browser, named
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        report_out(report, args)
    except OSError as exc:
        print(f"error: cannot write the report: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if report.unreachable:
        print(f"error: {report.unreachable}", file=sys.stderr)
    return report.exit_code
