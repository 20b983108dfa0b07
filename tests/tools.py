"""What the tests share: system tools (a missing one fails in CI, which installs it, and skips locally) and
small ASGI helpers."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import shutil
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

from aiact_transparency.http_messages import Message, Receive, Scope, Send


def require_tool(name: str) -> str:
    """A system tool the test needs: in CI its absence is a failure (CI installs it), locally a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run must install it")
        pytest.skip(f"{name} is not installed")
    return path


def close_leaked_event_loops() -> None:
    """Gradio's App and Queue set new event loops as the main thread's current one and never close them
    (gradio.utils.safe_get_lock). Close and collect them while the caller's warning filters apply, not in a
    later test module or at exit, where warnings-as-errors would blame an innocent test."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none set (already closed by an earlier call)
        loop = None
    if loop is not None and not loop.is_running():
        loop.close()
    asyncio.set_event_loop(None)
    gc.collect()


def require_module(name: str) -> ModuleType:
    """An optional extra the test needs (gradio): in CI its absence is a failure (the dev extra installs it)."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    module: ModuleType = pytest.importorskip(name)
    return module


def http_scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
               ) -> dict[str, Any]:
    """A raw ASGI HTTP scope, for tests that drive the middleware without a server."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [],
        "server": ("test", 80),
        "client": ("test", 1234),
        **extra,
    }


async def run_app(app: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope) -> list[Message]:
    """Run an ASGI app on one bodiless request; every message it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def headers_of(start: Message) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for key, value in start["headers"]:
        out.setdefault(bytes(key).lower(), []).append(bytes(value))
    return out
