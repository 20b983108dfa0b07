"""Judging other vendors' deployments: ad-hoc headers, a banner by another library, no discovery document, a 500,
garbage instead of HTTP, a route that never answers. Findings, never tracebacks."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from aiact_transparency.check import CheckOptions, run_check

from . import apps
from .helpers import check, failing, only


def test_another_vendors_deployment_gets_findings_not_tracebacks() -> None:
    report = check(apps.vendor_app(), pages=("/", "/broken"), media=("/img",), streams=(), languages=("de",))
    assert report.exit_code == 1
    (present,) = only(report, "header.ai-disclosure.present")
    assert present.status == "fail" and "found ad-hoc x-ai-generated: true" in present.evidence.text
    notices = only(report, "page.notice.present")
    assert [c.status for c in notices] == ["pass", "fail"]
    assert "a notice by another library" in notices[0].evidence.text and "KI" in notices[0].evidence.text
    assert "HTTP 500" in notices[1].evidence.text
    (language,) = [c for c in only(report, "page.notice.language")]
    assert language.status == "pass"  # <html lang="de"> and German words
    assert only(report, "discovery.reachable")[0].status == "fail"
    (status,) = only(report, "probe.status")
    assert status.status == "fail" and "/broken: HTTP 500" in status.evidence.text
    (media,) = only(report, "media.verify")
    assert media.status == "n/a" and "not a supported medium: image/gif data" in media.evidence.text
    assert {c.status for c in report.checks if c.id.startswith("detection.") and c.id != "detection.marked"} == {"fail"}
    assert {"page.notice.contrast", "page.notice.accessible", "page.notice.position"} & failing(report) == set()


@contextmanager
def raw_server(answer: bytes | None, reset_first: bool = False) -> Iterator[str]:
    """A TCP server that answers every connection with `answer` (garbage) or never answers (None); with
    `reset_first`, the first connection is reset after the request arrives, as a server dropping a kept-alive
    connection does."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def run() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if reset_first:
                reset_first_now = not held
                if reset_first_now:
                    held.append(conn)
                    conn.recv(65536)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                    continue
            if answer is None:
                held.append(conn)
            else:
                conn.recv(65536)
                conn.sendall(answer)
                conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_garbage_instead_of_http_is_a_finding() -> None:
    with raw_server(b"\x00\x01garbage, not HTTP\r\n\r\n") as base:
        report = run_check(CheckOptions(base_url=base, timeout_s=2))
    assert report.unreachable is None and report.exit_code == 1
    (status,) = only(report, "probe.status")
    assert "no valid HTTP answer" in status.evidence.text


def test_a_route_that_never_answers_times_out_as_a_finding() -> None:
    with raw_server(None) as base:
        report = run_check(CheckOptions(base_url=base, timeout_s=0.5, media=("/img",)))
    assert report.exit_code == 1
    (status,) = only(report, "probe.status")
    assert "timed out" in status.evidence.text and "/img" in status.evidence.text


def test_a_connection_reset_before_any_answer_is_retried_once_for_get() -> None:
    page = b"<!DOCTYPE html><body><aside role='note' aria-label='AI'>An AI answers here.</aside></body>"
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (
        len(page), page)
    with raw_server(answer, reset_first=True) as base:
        report = run_check(CheckOptions(base_url=base, timeout_s=2))
    (first,) = [c for c in only(report, "page.notice.present")]
    assert first.status == "pass"


def test_a_check_that_raises_is_a_finding_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiact_transparency.check import runner

    def broken(*args: object) -> None:  # an injected fault: a parser choking on what a deployment sent
        raise ValueError("parser limit reached")

    monkeypatch.setattr(runner, "page_checks", broken)
    report = check(apps.demo())
    assert failing(report) == {"page.error"}
    assert "ValueError: parser limit reached" in only(report, "page.error")[0].evidence.text
    assert only(report, "media.c2pa")[0].status == "pass"  # the rest still ran


def test_probes_past_the_time_limit_are_skipped_and_fail_the_gate() -> None:
    report = check(apps.demo(), total_timeout_s=0.0, media=(), streams=())
    (budget,) = only(report, "probe.budget")
    assert budget.status == "fail" and budget.required and "skipped after 0 s" in budget.evidence.text
    assert report.exit_code == 1
