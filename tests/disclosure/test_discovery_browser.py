"""What a visitor sees after the banner's "About this AI system" link: headless Chromium renders the discovery
page in German, French and Bulgarian (screenshots in artifacts/), with no JavaScript involved."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiact_transparency import TransparencyMiddleware
from aiact_transparency.disclosure import i18n
from aiact_transparency.disclosure.discovery_page import PAGE_STRINGS
from tests.servers import serve
from tests.tools import require_module, require_tool

from .test_discovery_page import _app, _config

require_module("html5lib")

import html5lib  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app: TransparencyMiddleware = _app(_config())
    with serve(app) as url:
        yield url


def _chromium(tmp_path: Path, language: str, *args: str) -> str:
    command = [
        require_tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / ('profile-' + language)}", f"--lang={language}",
        f"--accept-lang={language}", "--window-size=1000,1600", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("language", ["de", "fr", "bg"])
def test_chromium_renders_the_page_in_the_visitors_language(base: str, tmp_path: Path, language: str) -> None:
    url = f"{base}/.well-known/ai-disclosure"
    dom = _chromium(tmp_path, language, "--dump-dom", url)
    tree: ET.Element = html5lib.parse(dom, treebuilder="etree", namespaceHTMLElements=False)
    assert tree.get("lang") == language
    h1 = tree.find(".//h1")
    assert h1 is not None and "".join(h1.itertext()) == i18n.get_messages(language).link
    text = " ".join("".join(tree.itertext()).split())
    assert " ".join(PAGE_STRINGS[language]["h_check"].split()) in text
    assert sum(1 for node in tree.iter() if node.get("id") == "aiact-disclosure") == 1
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"discovery-{language}.png"
    _chromium(tmp_path, language, f"--screenshot={shot}", url)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
