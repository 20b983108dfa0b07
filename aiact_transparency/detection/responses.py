"""Sending the endpoint's answers: JSON, problem+json (RFC 9457), JWS and HTML, never cached anywhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..http_messages import Send

__all__ = ["Headers", "respond", "respond_json", "respond_problem"]

Headers = list[tuple[bytes, bytes]]
# Results describe one submission: no shared cache may keep them (zero retention applies there too).
_COMMON: Headers = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                    (b"ai-disclosure", b"mode=none"), (b"referrer-policy", b"no-referrer")]
CORS: Headers = [(b"access-control-allow-origin", b"*")]


async def respond(send: Send, status: int, kind: bytes, body: bytes, extra: Sequence[tuple[bytes, bytes]] = (), *,
                  head: bool = False) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *_COMMON, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def respond_json(send: Send, status: int, value: Any, extra: Sequence[tuple[bytes, bytes]] = (), *,
                       kind: bytes = b"application/json", head: bool = False) -> None:
    body = json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    await respond(send, status, kind, body, [*CORS, *extra], head=head)


async def respond_problem(send: Send, status: int, title: str, detail: str, code: str,
                          extra: Sequence[tuple[bytes, bytes]] = (), **members: Any) -> None:
    # "about:blank": the status says what went wrong (RFC 9457 §4.2.1); `code` is this detector's own name for it.
    problem = {"type": "about:blank", "code": code, "title": title,
               "status": status, "detail": detail, **members}
    await respond_json(send, status, problem, extra, kind=b"application/problem+json")
