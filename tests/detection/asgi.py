"""Drive an ASGI app by hand: a scripted receive stream, the sent messages recorded."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from tests.tools import http_scope

PATH = "/.well-known/ai-disclosure/detect"


@dataclass
class Exchange:
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0  # how many times the app called receive()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def json(self) -> Any:
        return json.loads(self.body)


async def call(app: Callable[..., Awaitable[None]], chunks: Sequence[bytes] = (), *, method: str = "POST",
               headers: Sequence[tuple[bytes, bytes]] = (), delay: float = 0.0, **scope: Any) -> Exchange:
    """Send `chunks` as the body (more_body until the last), sleeping `delay` before each one."""
    exchange = Exchange()
    queue = list(chunks) or [b""]

    async def receive() -> dict[str, Any]:
        exchange.received += 1
        if not queue:
            await anyio.sleep_forever()
        if delay:
            await anyio.sleep(delay)
        chunk = queue.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(message: dict[str, Any]) -> None:
        exchange.sent.append(message)

    await app(http_scope(PATH, method, list(headers), **scope), receive, send)
    return exchange


def app_with_own_route(detector: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The detector at PATH in front of an app whose own routes answer "app ok"."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == PATH:
            await detector(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"app ok"})

    return app
