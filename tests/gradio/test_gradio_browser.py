"""What a person sees: headless Chromium loads the example Gradio demo in German; one German banner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiact_transparency import TransparencyConfig
from tests.tools import close_leaked_event_loops, require_module, require_tool

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
require_module("gradio")  # fails in CI (the dev extra installs it), skips locally

from tests.gradio.served import launched  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module", autouse=True)
def _collect_gradio_garbage() -> Iterator[None]:
    # Gradio's App and Queue each set a new event loop as the main thread's current one, never closed
    # (gradio.utils.safe_get_lock). Close and collect them while this module's warning filters apply,
    # not in a later module or at exit.
    yield
    close_leaked_event_loops()


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    try:
        from gradio_app import build_demo
    finally:
        sys.path.pop(0)
    demo = build_demo(TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"}))
    with launched(demo) as base:
        yield base + "/"


def _chromium(tmp_path: Path, *args: str) -> str:
    browser = require_tool("chromium")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--lang=de",
        "--accept-lang=de-DE,de",
        "--window-size=1280,800",
        "--virtual-time-budget=8000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _banners(dom: str, *, scripting: bool) -> int:
    import html5lib

    tree = html5lib.parse(dom, treebuilder="etree", namespaceHTMLElements=False, scripting=scripting)
    return sum(1 for node in tree.iter() if node.get("id") == "aiact-disclosure")


def test_the_banner_is_rendered_once_in_german(demo_url: str, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", demo_url)
    assert _banners(dom, scripting=True) == 1, "exactly one banner (the <noscript> copy is inert text)"
    assert "Sie interagieren mit einem KI-System." in dom
    assert 'lang="de"' in dom and 'aria-label="KI-Hinweis"' in dom
    assert 'href="/.well-known/ai-disclosure"' in dom
    assert '<meta name="ai-disclosure"' in dom  # Gradio puts the launch() head into the document
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "gradio-banner-de.png"
    _chromium(tmp_path, f"--screenshot={shot}", demo_url)
    assert shot.stat().st_size > 10_000
