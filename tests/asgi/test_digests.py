"""Integrity digests of the app's bytes (RFC 9530 Content-Digest and Repr-Digest, RFC 1864 Content-MD5, RFC 3230
Digest) leave with a response only while they match it: every responder that changes the body removes them,
and a response passed through unchanged keeps them, still correct (checked here, Content-Digest read with
http-sf). Real Starlette routes through TransparencyMiddleware; trailers: test_digest_trailers.py."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

from ..samples import image_bytes
from ..tools import require_module
from .openai_app import answer, chat_stream_events

pytestmark = pytest.mark.anyio
http_sf = require_module("http_sf")

FIELDS = ("content-digest", "repr-digest", "content-md5", "digest")
PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Prices in \xe2\x82\xac</p></body></html>"
FRAGMENT = b"<p>An htmx fragment: no body tag, so no banner</p>"
PNG = image_bytes("png")
COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_576_000, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": answer(0)}, "logprobs": None,
                           "finish_reason": "stop"}]}


def digest_fields(body: bytes) -> dict[str, str]:
    """The four fields as an app computes them for `body`: a 200's content is its whole representation, so
    Content-Digest and Repr-Digest have the same value (RFC 9530 §2, §3)."""
    sha256 = hashlib.sha256(body).digest()
    structured = http_sf.ser({"sha-256": (sha256, {})})  # RFC 9530: a Dictionary of Byte Sequences
    return {"Content-Digest": structured, "Repr-Digest": structured,
            "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
            "Digest": "sha-256=" + base64.b64encode(sha256).decode()}


def assert_digests_match(headers: httpx.Headers, body: bytes) -> None:
    """All four fields are there, and each is the digest of the bytes received."""
    sha256 = hashlib.sha256(body).digest()
    for name in ("content-digest", "repr-digest"):
        parsed = http_sf.parse(headers[name].encode(), tltype="dictionary")
        assert parsed["sha-256"][0] == sha256, name
    assert base64.b64decode(headers["content-md5"]) == hashlib.md5(body).digest()
    algorithm, _, value = headers["digest"].partition("=")
    assert algorithm.lower() == "sha-256" and base64.b64decode(value) == sha256


def with_digests(response: Response) -> Response:
    response.headers.update(digest_fields(bytes(response.body)))
    return response


def streamed(chunks: list[bytes], media_type: str) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type=media_type, headers=digest_fields(b"".join(chunks)))


ROUTES = {
    "/page": lambda: with_digests(HTMLResponse(PAGE)),  # the banner, the page whole (`_page`)
    "/streamed-page": lambda: streamed([PAGE[:30], PAGE[30:70], PAGE[70:]], "text/html"),  # streamed injector
    "/fragment": lambda: with_digests(HTMLResponse(FRAGMENT)),  # the banner responder, nothing inserted
    "/api/object": lambda: with_digests(JSONResponse({"total": 3})),  # the JSON member
    "/api/list": lambda: with_digests(JSONResponse([1, 2, 3])),  # the member responder, not an object: unchanged
    "/events": lambda: streamed([b"data: one\n\n", b"data: two\n\n"], "text/event-stream"),  # the SSE notice
    "/files/style.css": lambda: with_digests(Response(b"p { color: red }", media_type="text/css")),  # no responder
    "/v1/chat/stream": lambda: streamed(chat_stream_events({"model": "m"}), "text/event-stream"),  # chat.py
    "/v1/chat/json": lambda: with_digests(JSONResponse(COMPLETION)),  # chat_json.py
    "/v1/text": lambda: with_digests(PlainTextResponse(answer(0))),  # text_plain.py
    "/v1/latin1": lambda: with_digests(Response("café".encode("latin-1"), media_type="text/plain; charset=latin-1")),
    "/images/picture.png": lambda: with_digests(Response(PNG, media_type="image/png")),  # media.py
    "/images/style.css": lambda: with_digests(Response(b"img { width: 100% }", media_type="text/css")),
}


def inner_app() -> Starlette:
    def endpoint(path: str) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            return ROUTES[path]()

        return route

    return Starlette(routes=[Route(path, endpoint(path), methods=["GET", "HEAD"]) for path in ROUTES])


def config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme", "provider": "Acme GmbH"},
                              disclosure={"json": True, "routes": [{"path": "/v1/*", "text": "c2pa"}]},
                              images={"routes": ["/images/*"]})


async def get(app: Any, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, headers=headers)


# Per responder: a response it changes, and one on the same kind of route it passes on as the app sent it.
CASES = [
    ("/page", "/fragment"),
    ("/streamed-page", "/fragment"),
    ("/api/object", "/api/list"),
    ("/events", "/files/style.css"),
    ("/v1/chat/stream", "/v1/latin1"),
    ("/v1/chat/json", "/v1/latin1"),
    ("/v1/text", "/v1/latin1"),
    ("/images/picture.png", "/images/style.css"),
]


@pytest.mark.parametrize(("changed", "kept"), CASES)
async def test_a_changed_body_goes_without_the_apps_digests_an_unchanged_one_keeps_them(changed: str,
                                                                                         kept: str) -> None:
    inner = inner_app()
    app = TransparencyMiddleware(inner, config=config())
    original = await get(inner, changed)
    assert set(FIELDS) <= set(original.headers)  # the app sent them, and they were right for its bytes
    assert_digests_match(original.headers, original.content)

    response = await get(app, changed)
    assert response.status_code == 200 and response.content != original.content  # marked, banner, notice...
    assert not set(FIELDS) & set(response.headers)

    unchanged = await get(app, kept)
    assert unchanged.content == (await get(inner, kept)).content
    assert_digests_match(unchanged.headers, unchanged.content)


@pytest.mark.parametrize(("changed", "kept"), [("/page", "/files/style.css"),
                                               ("/images/picture.png", "/images/style.css")])
async def test_a_head_describes_the_changed_get_without_the_apps_digests(changed: str, kept: str) -> None:
    # RFC 9530 §3: a HEAD's Repr-Digest is of what the GET would send, and that is not the app's bytes.
    inner = inner_app()
    assert set(FIELDS) <= set((await get(inner, changed, "HEAD")).headers)  # the app's HEAD carries them
    app = TransparencyMiddleware(inner, config=config())
    assert not set(FIELDS) & set((await get(app, changed, "HEAD")).headers)
    head = await get(app, kept, "HEAD")
    assert_digests_match(head.headers, (await get(app, kept)).content)


async def test_a_304_for_a_changed_200_does_not_put_the_apps_digests_back_into_a_cache() -> None:
    # A cache freshens its stored 200 with the 304's fields (RFC 9111 §4.3.4): the app's digests would describe
    # the page without its banner. A 304 for a 200 that went out unchanged (its strong tag) keeps them.
    async def cached(request: Request) -> Response:
        return Response(status_code=304, headers={"ETag": '"v1"', **digest_fields(PAGE)})

    app = TransparencyMiddleware(Starlette(routes=[Route("/page", cached)]), config=config())
    after_banner = await get(app, "/page", headers={"If-None-Match": 'W/"v1"'})
    assert after_banner.status_code == 304 and after_banner.headers["etag"] == 'W/"v1"'
    assert not set(FIELDS) & set(after_banner.headers)
    unchanged = await get(app, "/page", headers={"If-None-Match": '"v1"'})
    assert unchanged.headers["etag"] == '"v1"' and set(FIELDS) <= set(unchanged.headers)
