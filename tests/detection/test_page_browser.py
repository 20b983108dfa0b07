"""The page in headless Chromium (driven over the DevTools pipe): upload through the form with and without
JavaScript, drop a file, read the verdict; screenshots in artifacts/; no console errors (CSP included)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiact_transparency.detection.page import MESSAGES
from tests.detection.asgi import PATH, app_with_own_route
from tests.detection.cdp import Cdp
from tests.detection.conftest import ARTIFACTS
from tests.servers import serve
from tests.tools import require_tool


@pytest.fixture(scope="module")
def base(ours_signer: Any) -> Iterator[str]:
    from tests.detection.conftest import endpoint_for, ours_config

    with serve(app_with_own_route(endpoint_for(ours_config(), ours_signer))) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[Cdp, str]]:
    cdp = Cdp(require_tool("chromium"), tmp_path / "profile", "--lang=fr", "--accept-lang=fr-FR,fr",
              "--window-size=1000,1400")
    try:
        target = cdp.send("Target.createTarget", url="about:blank")["targetId"]
        session = cdp.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "DOM"):
            cdp.send(f"{domain}.enable", session)
        cdp.send("Emulation.setDeviceMetricsOverride", session, width=1000, height=1400, deviceScaleFactor=1,
                 mobile=False)
        yield cdp, session
    finally:
        cdp.close()


def _errors(cdp: Cdp) -> list[dict[str, Any]]:
    bad = []
    for event in cdp.events:
        method, params = event.get("method"), event.get("params", {})
        console_error = method == "Runtime.consoleAPICalled" and params.get("type") == "error"
        log_error = method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error"
        if method == "Runtime.exceptionThrown" or console_error or log_error:
            bad.append(event)
    return bad


def _open(cdp: Cdp, session: str, url: str) -> None:
    mark = len(cdp.events)
    cdp.send("Page.navigate", session, url=url)
    cdp.wait_event("Page.loadEventFired", mark)


def _node(cdp: Cdp, session: str, selector: str) -> int:
    root = cdp.send("DOM.getDocument", session, depth=-1)["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", session, nodeId=root, selector=selector)["nodeId"]
    assert node, selector
    return int(node)


def _centre(cdp: Cdp, session: str, selector: str) -> tuple[float, float]:
    quad = cdp.send("DOM.getBoxModel", session, nodeId=_node(cdp, session, selector))["model"]["content"]
    return (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2


def _click(cdp: Cdp, session: str, selector: str) -> None:
    x, y = _centre(cdp, session, selector)
    for kind in ("mousePressed", "mouseReleased"):
        cdp.send("Input.dispatchMouseEvent", session, type=kind, x=x, y=y, button="left", clickCount=1)


def _verdict(cdp: Cdp, session: str, timeout: float = 30) -> tuple[str, str]:
    """(data-verdict, the page's HTML) once the result region holds a verdict."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        root = cdp.send("DOM.getDocument", session, depth=-1)["root"]["nodeId"]
        found = cdp.send("DOM.querySelector", session, nodeId=root, selector="#result #verdict")["nodeId"]
        if found:
            attributes = cdp.send("DOM.getAttributes", session, nodeId=found)["attributes"]
            html = cdp.send("DOM.getOuterHTML", session, nodeId=root)["outerHTML"]
            return dict(zip(attributes[::2], attributes[1::2], strict=True))["data-verdict"], html
        time.sleep(0.1)
    raise TimeoutError("no verdict shown")


def _screenshot(cdp: Cdp, session: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = cdp.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)["data"]
    (ARTIFACTS / name).write_bytes(base64.b64decode(shot))
    assert (ARTIFACTS / name).stat().st_size > 20_000


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_upload_through_the_form_shows_the_verdict(base: str, browser: tuple[Cdp, str], tmp_path: Path,
                                                   marked_jpeg: bytes, javascript: bool) -> None:
    cdp, session = browser
    if not javascript:
        cdp.send("Emulation.setScriptExecutionDisabled", session, value=True)
    _open(cdp, session, base + PATH)
    upload = tmp_path / "marked.jpg"
    upload.write_bytes(marked_jpeg)
    cdp.send("DOM.setFileInputFiles", session, files=[str(upload)], nodeId=_node(cdp, session, "#file"))
    mark = len(cdp.events)
    _click(cdp, session, "button[type=submit]")
    if not javascript:  # a plain form POST: the endpoint answers with the result page
        cdp.wait_event("Page.loadEventFired", mark)
    verdict, html = _verdict(cdp, session)
    assert verdict == "generated-by-this-system"
    assert MESSAGES["fr"]["verdict_ours"].format(system="Acme Studio") in html  # the DOM holds decoded text
    if javascript:  # the page stayed: only the result region was replaced
        assert not any(e.get("method") == "Page.loadEventFired" for e in cdp.events[mark:])
    _screenshot(cdp, session, f"detection-{'js' if javascript else 'nojs'}-fr.png")
    assert [e["params"] for e in _errors(cdp)] == []


def test_dropping_a_file_checks_it(base: str, browser: tuple[Cdp, str], tmp_path: Path,
                                   other_marked_png: bytes) -> None:
    cdp, session = browser
    _open(cdp, session, base + PATH)
    dropped = tmp_path / "other.png"
    dropped.write_bytes(other_marked_png)
    x, y = _centre(cdp, session, "#drop")
    data = {"items": [], "files": [str(dropped)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", session, type=kind, x=x, y=y, data=data)
    verdict, _ = _verdict(cdp, session)
    assert verdict == "marked-by-another-system"
    _screenshot(cdp, session, "detection-drop-fr.png")
    assert [e["params"] for e in _errors(cdp)] == []
