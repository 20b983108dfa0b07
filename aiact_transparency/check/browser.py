"""Headless Chromium (the system's, e.g. Debian's /usr/bin/chromium) driven over the DevTools protocol.

The protocol over one websocket is all --browser needs (navigate, evaluate, screenshot): lighter than a
browser-automation package, and it never downloads a browser of its own. websockets is imported lazily; a
missing package or browser raises BrowserUnavailable naming the fix.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*")
VIEWPORT = (1280, 800)


class BrowserUnavailable(RuntimeError):
    """No browser to run --browser with: the message names the fix."""


def chromium_path() -> str:
    configured = os.environ.get("AIACT_CHROMIUM")
    found = shutil.which(configured) if configured else shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        where = f"AIACT_CHROMIUM={configured!r} is not an executable" if configured else "no chromium on PATH"
        raise BrowserUnavailable(f"--browser needs Chromium ({where}). Fix: apt-get install chromium, or set "
                                 "AIACT_CHROMIUM to the browser's path")
    return found


class Chromium:
    def __init__(self, timeout_s: float = 20.0) -> None:
        try:
            from websockets.sync.client import connect
        except ImportError as exc:
            raise BrowserUnavailable("--browser needs websockets: pip install 'aiact-transparency[check]'") from exc
        self.timeout_s = timeout_s
        executable = chromium_path()  # before the profile exists: a missing browser leaves nothing behind
        self._profile = tempfile.mkdtemp(prefix="aiact-check-chromium-")
        try:
            self._process = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={self._profile}",
                 f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise BrowserUnavailable(f"Chromium {executable} cannot be started: {exc.strerror or exc}") from exc
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._targets: dict[str, str] = {}
        self._stack = contextlib.ExitStack()
        self._agent: str | None = None
        try:
            port, path = self._devtools_address()
            # As a context manager: websockets 16+ deprecates a bare connect().
            self._ws = self._stack.enter_context(
                connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=timeout_s))
        except BaseException:
            self._stop()
            raise

    def _devtools_address(self) -> tuple[str, str]:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserUnavailable(f"Chromium exited at start (code {self._process.returncode})")
            lines = marker.read_text().split() if marker.exists() else []
            if len(lines) >= 2:
                return lines[0], lines[1]
            time.sleep(0.05)
        raise BrowserUnavailable(f"Chromium did not open its DevTools port within {self.timeout_s:.0f} s")

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        deadline = time.monotonic() + self.timeout_s
        outgoing: dict[str, Any] | None = message
        while True:
            reply = self._receive(outgoing, deadline)
            outgoing = None
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.append(reply)

    def _receive(self, send: dict[str, Any] | None, deadline: float) -> dict[str, Any]:
        """One message from the browser (after sending `send`); a closed connection (the browser died) becomes
        a RuntimeError, a silent one a TimeoutError, the only errors callers handle."""
        from websockets.exceptions import WebSocketException

        try:
            if send is not None:
                self._ws.send(json.dumps(send))
            reply: dict[str, Any] = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except WebSocketException as exc:
            raise RuntimeError(f"the browser connection closed ({exc})") from exc
        return reply

    def wait_event(self, method: str, session: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    del self._events[: index + 1]
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                self._events.append(self._receive(None, deadline))
            except TimeoutError:
                return False

    def open(self, url: str, language: str | None) -> str:
        """A new tab at `url` (Accept-Language set), loaded; returns its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = str(self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"])
        self._targets[session] = target
        self.call("Page.enable", session=session)
        self.call("Network.enable", session=session)
        if language:
            # The header on every request the page makes (fetch included) and navigator.languages alike.
            self.call("Emulation.setUserAgentOverride", {"userAgent": self._user_agent(), "acceptLanguage": language},
                      session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                          "deviceScaleFactor": 1, "mobile": False}, session=session)
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session, self.timeout_s)
        return session

    def _user_agent(self) -> str:
        if self._agent is None:
            self._agent = str(self.call("Browser.getVersion")["userAgent"]).replace("HeadlessChrome", "Chrome")
        return self._agent

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def screenshot(self, session: str) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"])

    def close_tab(self, session: str) -> None:
        self.call("Target.closeTarget", {"targetId": self._targets.pop(session)})

    def _stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        shutil.rmtree(self._profile, ignore_errors=True)

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self._stop()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
