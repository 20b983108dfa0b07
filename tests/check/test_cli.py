"""main_check: exit codes, progress on stderr, the JSON schema for CI gates, the self-contained HTML report, the
YAML probe list."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aiact_transparency.check import main_check
from tests.servers import free_port, serve
from tests.tools import require_module

from . import apps

html5lib = require_module("html5lib")

STREAM_BODY = json.dumps(apps.STREAM_BODY)


def test_a_passing_deployment_exits_0_with_progress_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(apps.demo()) as base:
        code = main_check([base, "--page", "/", "--media", apps.MEDIA[0], "--stream", apps.STREAM,
                           "--stream-body", STREAM_BODY, "--lang", "fr,de"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "GET " + base + "/ [fr]: HTTP 200" in err and "POST " + base + apps.STREAM in err  # one line per probe
    assert "COMPLIANT: every required check passes" in out
    assert "PASS  page.notice.language" in out


def test_findings_exit_1_and_json_is_the_documented_schema(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(apps.demo(banner={"enabled": False})) as base:
        code = main_check([base, "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == ""  # quiet with --json: stdout is the JSON alone
    data = json.loads(out)
    assert data["schema"].endswith("/check-report/v1") and data["target"] == base
    assert set(data["summary"]) >= {"total", "pass", "fail", "warn", "na", "required_failed", "compliant", "exit_code"}
    assert data["summary"]["compliant"] is False and data["summary"]["exit_code"] == 1
    for entry in data["checks"]:
        assert set(entry) >= {"id", "obligation", "status", "evidence", "fix", "target", "required"}
        assert entry["status"] in ("pass", "fail", "warn", "n/a")
    (notice,) = [c for c in data["checks"] if c["id"] == "page.notice.present"]
    assert notice["status"] == "fail" and notice["obligation"] == "Art. 50(1)" and notice["fix"]


def test_unreachable_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = main_check([f"http://127.0.0.1:{free_port()}", "--timeout", "3"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "cannot be reached: cannot connect" in err and "UNREACHABLE" in out


def test_a_name_that_does_not_resolve_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_check(["http://check.invalid", "--json", "--timeout", "3"]) == 2  # .invalid never resolves (RFC 2606)
    data = json.loads(capsys.readouterr().out)
    assert data["unreachable"].startswith("http://check.invalid cannot be reached") and data["checks"] == []


def test_bad_options_exit_2_naming_the_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main_check(["ftp://example.org"]) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err
    assert main_check(["http://127.0.0.1:1", "--stream", "/s", "--stream-body", "{not json"]) == 2
    assert "--stream-body is not JSON" in capsys.readouterr().err
    probes = tmp_path / "probes.yaml"
    probes.write_text("pages: /only-a-string\n")
    assert main_check(["http://127.0.0.1:1", "--probes", str(probes)]) == 2
    assert "pages must be a list of paths" in capsys.readouterr().err


def test_the_yaml_probe_list_and_the_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probes = tmp_path / "probes.yaml"
    probes.write_text(f"pages: [/, /page/2]\nmedia: [{apps.MEDIA[1]}]\nstreams:\n  - path: {apps.STREAM}\n"
                      f"    body: {STREAM_BODY}\nlang: [pl]\n")
    report = tmp_path / "report.html"
    with serve(apps.demo()) as base:
        code = main_check([base, "--probes", str(probes), "--html", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and f"HTML report: {report}" in out
    page = report.read_text(encoding="utf-8")
    tree = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False)
    assert tree.find(".//script") is None and "http" not in "".join(
        el.get("src", "") for el in tree.iter() if el.tag in ("img", "link"))  # self-contained: nothing fetched
    summary, checks = tree.findall(".//table")
    obligations = [row.find("td").text for row in summary.findall(".//tbody/tr")]  # type: ignore[union-attr]
    assert {"Art. 50(1)", "Art. 50(2)", "Art. 50(5)", "Code Commitment 1", "Code Commitment 2"} <= set(obligations)
    rows = checks.findall(".//tbody/tr")
    assert len(rows) > 20
    text = " ".join("".join(tree.itertext()).split())
    assert "Compliant: every required check passes" in text and "page.notice.language" in text
    assert f"{base}/page/2 [pl]" in text and f"{base}{apps.MEDIA[1]}" in text


def test_the_html_report_embeds_screenshots(tmp_path: Path) -> None:
    from tests.tools import require_tool

    require_tool("chromium")
    report = tmp_path / "report.html"
    with serve(apps.demo()) as base:
        assert main_check([base, "--browser", "--html", str(report), "--json"]) == 0
    tree: ET.Element = html5lib.parse(report.read_text(), treebuilder="etree", namespaceHTMLElements=False)
    images = [img.get("src", "") for img in tree.iter("img")]
    assert images and all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in images)


def test_the_html_report_shows_what_the_deployment_said_as_text_never_as_markup(tmp_path: Path) -> None:
    # Another library's notice whose text is markup-like (escaped in its page, so its text holds "<script>").
    notice = ('<aside role="region" aria-label="AI notice">An AI system answers here '
              '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;</aside>')
    report = tmp_path / "report.html"
    with serve(apps.demo(banner={"enabled": False}, top=notice)) as base:
        assert main_check([base, "--html", str(report), "--json"]) == 0
    tree = html5lib.parse(report.read_text(), treebuilder="etree", namespaceHTMLElements=False)
    assert tree.find(".//script") is None and tree.find(".//img") is None
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in "".join(tree.itertext())


def test_the_terminal_never_writes_what_the_deployment_sent_as_control_sequences() -> None:
    from aiact_transparency.check import CheckResult, Evidence, Report
    from aiact_transparency.check.render_terminal import render_terminal

    report = Report(target="http://x", started_at="now")
    report.add(CheckResult(id="page.notice.present", obligation="Art. 50(1)", status="fail", target="http://x/\x1b]0;t",
                           title="t", evidence=Evidence("AI \x1b[2J\x1b[31mcleared\x07"), fix="fix \x1b[0m"))
    out = render_terminal(report)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J\\x1b[31mcleared\\x07" in out
    assert "Art. 50(1)     0     1     0     0" in out  # the per-obligation summary table


def test_the_main_cli_runs_check(capsys: pytest.CaptureFixture[str]) -> None:
    from aiact_transparency.cli import main

    # The console script's own parser: --json before or after the command, as for every other command.
    with serve(apps.demo()) as base:
        assert main(["--json", "check", base]) == 0
        assert json.loads(capsys.readouterr().out)["summary"]["compliant"] is True
        assert main(["check", base, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["summary"]["compliant"] is True
        assert main(["check", base]) == 0
    assert "COMPLIANT" in capsys.readouterr().out
    assert main(["check", "http://127.0.0.1:9"]) == 2  # nothing listens on the discard port: unreachable
