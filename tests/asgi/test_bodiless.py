"""HEAD on routes whose body the middleware changes: no length that GET would not have."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Receive, Scope, Send

from ..tools import headers_of, http_scope, run_app

pytestmark = pytest.mark.anyio

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


# -- HEAD on body-changing routes --------------------------------------------------------------------------


def html_app(body: bytes) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"etag", b'"v1"'),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


async def test_head_on_a_banner_route_does_not_announce_the_unbannered_length() -> None:
    # RFC 9110 §8.6: a HEAD response's Content-Length, if sent, must equal what GET would send. GET adds the
    # banner, so the app's length (of the page without it) must not go out on HEAD; nor its strong ETag.
    page = b"<html><head><title>t</title></head><body><p>hi</p></body></html>"
    app = TransparencyMiddleware(html_app(page), config=TransparencyConfig(system=SYSTEM))
    get = headers_of((await run_app(app, http_scope("/")))[0])
    head = headers_of((await run_app(app, http_scope("/", "HEAD")))[0])
    assert int(get[b"content-length"][0]) > len(page)
    assert head.get(b"content-length", get[b"content-length"]) == get[b"content-length"]
    assert head[b"etag"] == get[b"etag"] == [b'W/"v1"']
    assert b"Accept-Language" in b",".join(head.get(b"vary", []))
