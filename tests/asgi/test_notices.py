"""The notice responders: SSE comment and JSON member, and the validators they change."""

from __future__ import annotations

import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Receive, Scope, Send

from ..tools import headers_of, http_scope, run_app

pytestmark = pytest.mark.anyio

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


# -- event streams -----------------------------------------------------------------------------------------


async def test_event_stream_with_a_strong_etag_is_weakened() -> None:
    # The notice line changes the body, so a strong validator of the app's bytes cannot stay (RFC 9110 §8.8.3).
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"etag", b'"s1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: x\n\n"})

    middleware = TransparencyMiddleware(app, config=TransparencyConfig(system=SYSTEM))
    sent = await run_app(middleware, http_scope("/chat"))
    assert headers_of(sent[0])[b"etag"] == [b'W/"s1"']


# -- JSON member -------------------------------------------------------------------------------------------


async def test_json_member_is_not_spliced_into_a_utf16_body() -> None:
    # json.loads(bytes) auto-detects UTF-16; splicing ASCII bytes into it would corrupt the document.
    body = '{"a": 1}'.encode("utf-16-le")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json; charset=utf-16le")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = TransparencyConfig(system=SYSTEM, disclosure={"json": True})
    sent = await run_app(TransparencyMiddleware(app, config=config), http_scope("/api"))
    assert b"".join(m.get("body", b"") for m in sent[1:]) == body
