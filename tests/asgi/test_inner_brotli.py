"""A compressor that prefers br (like brotli-asgi or starlette-compress) INSIDE TransparencyMiddleware, and a
browser's `Accept-Encoding: gzip, deflate, br, zstd`: on media routes the app is offered only the codings we can
undo (prepare_scope), so images are marked, pages get their banner and JSON stays compressed (gzip). The
compressor below is a minimal one written here (no maintained ASGI brotli middleware is installed): real brotli,
real gzip."""

from __future__ import annotations

import gzip
import json
import logging

import brotli
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.asgi.responders.media import decodable_accept_encoding
from aiact_transparency.http_messages import ASGIApp, Message, Receive, Scope, Send
from aiact_transparency.provenance.text.marking import verify_text

from ..samples import image_bytes
from ..tools import require_module
from . import openai_app
from .test_media_content_coding import assert_marked_png, fetch_raw
from .test_media_responder import make_config

pytestmark = pytest.mark.anyio
require_module("brotli")  # gradio's dependency, in the dev extra

CHROME = "gzip, deflate, br, zstd"
PNG = image_bytes("png")
PAYLOAD = {"items": [{"id": i, "text": "generated answer " * 4} for i in range(40)]}
PAGE = "<!DOCTYPE html><html><head><title>t</title></head><body>" + "<p>hi</p>" * 200 + "</body></html>"


class PreferBrotli:
    """Compresses every response in br when the request accepts br, else in gzip when it accepts gzip."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.codings: list[str | None] = []  # the coding of each response it sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fields = [v.decode() for k, v in scope["headers"] if k == b"accept-encoding"]
        accepted = set()
        for member in ",".join(fields).split(","):
            name, _, weight = member.strip().partition(";")
            if weight.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
                accepted.add(name.strip().lower())
        coding = "br" if "br" in accepted else "gzip" if "gzip" in accepted else None
        self.codings.append(coding)
        if coding is None:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def compressing(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(chunks)
            body = brotli.compress(data) if coding == "br" else gzip.compress(data)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [(b"content-encoding", coding.encode()), (b"content-length", b"%d" % len(body))]
            headers.append((b"vary", b"Accept-Encoding"))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, compressing)


def brotli_inside() -> tuple[TransparencyMiddleware, PreferBrotli]:
    async def png(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def api(request: Request) -> Response:
        return JSONResponse(PAYLOAD)

    inner = Starlette(routes=[Route("/images/x.png", png), Route("/page", page), Route("/api", api)])
    compressor = PreferBrotli(inner)
    return TransparencyMiddleware(compressor, config=make_config(routes=["*"])), compressor


async def test_an_image_behind_an_inner_brotli_compressor_is_marked() -> None:
    # It was 500 (fail-closed): the compressor chose br, which cannot be decoded to be marked.
    app, compressor = brotli_inside()
    response, raw = await fetch_raw(app, "/images/x.png", accept_encoding=CHROME)
    assert response.status_code == 200 and compressor.codings == ["gzip"]
    assert_marked_png(response, raw, app.config)


async def test_a_page_behind_an_inner_brotli_compressor_gets_its_banner() -> None:
    # It went out br-encoded without its banner (a warning).
    app, compressor = brotli_inside()
    response, raw = await fetch_raw(app, "/page", accept_encoding=CHROME)
    assert response.headers.get("content-encoding") in (None, "gzip") and compressor.codings == ["gzip"]
    page = gzip.decompress(raw) if response.headers.get("content-encoding") else raw
    assert page.count(b'<aside id="aiact-disclosure"') == 1


async def test_json_behind_an_inner_brotli_compressor_stays_compressed() -> None:
    app, _ = brotli_inside()
    response, raw = await fetch_raw(app, "/api", accept_encoding=CHROME)
    assert response.headers["content-encoding"] == "gzip" and json.loads(gzip.decompress(raw)) == PAYLOAD


async def test_a_client_accepting_only_brotli_gets_identity() -> None:
    # Nothing we can undo is left: the app is told `identity` (no field at all would mean "any coding").
    app, compressor = brotli_inside()
    response, raw = await fetch_raw(app, "/page", accept_encoding="br, zstd")
    assert compressor.codings == [None] and "content-encoding" not in response.headers
    assert raw.count(b'<aside id="aiact-disclosure"') == 1


@pytest.mark.parametrize(("value", "expected"), [
    (b"gzip, deflate, br, zstd", b"gzip, deflate"),
    (b"GZIP;q=0.8, br;q=1", b"GZIP;q=0.8"),
    (b"br, zstd", b"identity"),
    (b"br, identity;q=0", b"identity;q=0"),  # the client's refusal of identity stays
    # `*`: every coding not listed, so each undoable one not listed, with its weight (x-gzip is gzip)
    (b"*", b"gzip, x-gzip, deflate, identity"),
    (b"gzip;q=1.0, br, *;q=0.5", b"gzip;q=1.0, deflate;q=0.5, identity;q=0.5"),
    (b"br;q=1, *;q=0", b"gzip;q=0, x-gzip;q=0, deflate;q=0, identity;q=0"),  # still: nothing but br
    (b"x-gzip, * ; q=0.1", b"x-gzip, deflate; q=0.1, identity; q=0.1"),
    (b"gzip,,br", b"gzip"),
])
def test_accept_encoding_keeps_only_the_codings_we_can_undo(value: bytes, expected: bytes) -> None:
    assert decodable_accept_encoding(value) == expected


@pytest.mark.parametrize("value", [b"gzip, deflate", b"gzip;q=1.0, identity; q=0.5", b"", b"deflate"])
def test_an_undoable_accept_encoding_is_kept_as_it_is(value: bytes) -> None:
    assert decodable_accept_encoding(value) is value


# -- routes that do not mark media (images.routes narrowed) keep the client's Accept-Encoding: a br body there
# is logged, not passed silently


def gap_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "aiact_transparency"]


async def test_a_brotli_json_body_without_its_member_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def api(request: Request) -> Response:
        return JSONResponse(PAYLOAD)

    config = TransparencyConfig(system={"name": "Acme", "provider": "Acme GmbH"}, disclosure={"json": True},
                                images={"routes": ["/images/*"]})
    app = TransparencyMiddleware(PreferBrotli(Starlette(routes=[Route("/api", api)])), config=config)
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        for _ in range(2):
            response, raw = await fetch_raw(app, "/api", accept_encoding=CHROME)
            assert response.headers["content-encoding"] == "br"
            assert json.loads(brotli.decompress(raw)) == PAYLOAD  # passed as the app sent it (no member)
    assert gap_warnings(caplog) == [
        "AI disclosure JSON member not inserted in '/api': the body is Content-Encoding: br; compress outside "
        "TransparencyMiddleware"
    ]


async def test_brotli_texts_without_their_c2pa_wrapper_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = TransparencyConfig(system={"name": "Acme Chat", "provider": "Acme GmbH"},
                                disclosure={"routes": [{"path": "/v1/*", "text": "c2pa"}]},
                                images={"routes": ["/images/*"]})
    app = TransparencyMiddleware(PreferBrotli(openai_app.app), config=config)
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            answer = await client.post("/v1/chat/completions", json={"model": "m"}, headers={"Accept-Encoding": CHROME})
            plain = await client.get("/v1/plain", headers={"Accept-Encoding": CHROME})
    assert answer.headers["content-encoding"] == plain.headers["content-encoding"] == "br"
    assert not verify_text(plain.text).valid  # (httpx decoded the br: the app's text, unmarked)
    fix = ": the body is Content-Encoding: br; compress outside TransparencyMiddleware"
    assert gap_warnings(caplog) == [
        "C2PA text wrapper not inserted in '/v1/chat/completions'" + fix,
        "C2PA text wrapper not inserted in '/v1/plain'" + fix,
    ]
