"""--browser: the system's headless Chromium renders each page; the notice measured where the HTML has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiact_transparency.check.browser import Chromium
from tests.tools import require_module, require_tool

from . import apps
from .helpers import check, failing, only

require_module("websockets")

OVERLAY = ('<div class="cookie-wall" style="position:fixed;top:0;left:0;width:100%;height:260px;background:#fff;'
           'z-index:2147483647">We value your privacy</div>')


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_tool("chromium")


def _browser_check(app: Any, **changes: Any) -> Any:
    return check(app, browser=True, media=(), streams=(), **changes)


def test_the_demo_passes_in_the_browser_with_screenshots() -> None:
    report = _browser_check(apps.demo(), pages=("/", "/page/1"), languages=("fr", "de"))
    assert failing(report) == set()
    visible = only(report, "browser.notice.visible")
    assert len(visible) == 4 and {c.status for c in visible} == {"pass"}
    for check_ in visible:
        shot = check_.evidence.screenshot_png
        assert shot is not None and shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 5_000
    assert {c.status for c in only(report, "browser.notice.viewport")} == {"pass"}
    assert {c.status for c in only(report, "browser.notice.covered")} == {"pass"}
    contrast = only(report, "browser.notice.contrast")
    assert {c.status for c in contrast} == {"pass"}
    assert "rgb(255, 255, 255) on rgb(20, 33, 61)" in contrast[0].evidence.text


def test_a_banner_hidden_by_css_is_not_visible() -> None:
    report = _browser_check(apps.demo(head="<style>#aiact-disclosure{display:none !important}</style>"))
    assert failing(report) == {"page.notice.hidden", "browser.notice.visible"}
    (visible,) = only(report, "browser.notice.visible")
    assert "display:none" in visible.evidence.text


def test_a_covered_banner_is_found_only_by_the_browser() -> None:
    report = _browser_check(apps.demo(body=OVERLAY))
    assert failing(report) == {"browser.notice.covered"}
    (covered,) = only(report, "browser.notice.covered")
    assert "div.cookie-wall" in covered.evidence.text


def test_a_banner_after_the_content_is_outside_the_first_viewport() -> None:
    report = _browser_check(apps.banner_after_content())
    assert failing(report) == {"page.notice.position", "browser.notice.viewport"}


def test_chromium_is_stopped_and_its_profile_removed() -> None:
    browser = Chromium()
    process, profile = browser._process, browser._profile
    browser.close()
    assert process.poll() is not None
    import os

    assert not os.path.exists(profile)


def test_no_browser_exits_2_naming_the_fix(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    import tempfile

    from aiact_transparency.check import main_check
    from tests.servers import serve

    # Its own temporary directory: another test run on the machine (another clone, CI beside a developer's run)
    # starts browsers with profiles in the shared /tmp, which a glob there would count as this check's.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("AIACT_CHROMIUM", "/nonexistent/chromium")
    with serve(apps.demo()) as base:
        assert main_check([base, "--browser", "--json"]) == 2
    assert not list(tmp_path.glob("aiact-check-chromium-*"))  # nothing left behind
    assert "--browser needs Chromium (AIACT_CHROMIUM='/nonexistent/chromium' is not an executable)" in \
        capsys.readouterr().err


def test_a_page_the_browser_cannot_render_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiact_transparency.check import browser_checks

    def crashed(*args: object) -> None:  # an injected fault: the tab crashed
        raise RuntimeError("Page.navigate: Target crashed")

    monkeypatch.setattr(browser_checks, "_measure", crashed)
    report = _browser_check(apps.demo())
    assert failing(report) == {"browser.notice.visible"}
    assert "Target crashed" in only(report, "browser.notice.visible")[0].evidence.text


SWAP_TO_ENGLISH = ("<script>setTimeout(() => { const a = document.getElementById('aiact-disclosure'); a.lang = 'en';"
                   " a.querySelector('p').textContent = 'You are interacting with an AI system.'; }, 300)</script>")


def test_a_notice_a_script_turns_into_another_language_is_found_after_the_page_settles() -> None:
    report = _browser_check(apps.demo(body=SWAP_TO_ENGLISH), languages=("fr",))
    assert failing(report) == {"browser.notice.language"}
    (rendered,) = only(report, "browser.notice.language")
    assert "lang='en'" in rendered.evidence.text and only(report, "page.notice.language")[0].status == "pass"


def test_an_unresolved_static_contrast_is_answered_by_the_rendered_one() -> None:
    sheet = '<link rel="stylesheet" href="/missing.css">'
    report = _browser_check(apps.demo(head=sheet))
    (static,) = only(report, "page.notice.contrast")
    assert static.status == "n/a" and "answered by browser.notice.contrast (pass" in static.evidence.text
    without_browser = check(apps.demo(head=sheet), media=(), streams=())
    assert only(without_browser, "page.notice.contrast")[0].status == "warn"
