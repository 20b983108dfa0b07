"""Pages, JSON and event streams compressed INSIDE the middleware (Starlette's real GZipMiddleware, or an app
that encodes its body itself) keep their disclosure: the body is decoded, rewritten and encoded again in the
same coding (responders/coded.py). Each response is compared with the one the same app sends unencoded."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import tracemalloc
import zlib
from typing import Any

import anyio.to_thread
import html5lib
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.asgi.responders.content_coding import ContentDecodingError, Decoder
from aiact_transparency.http_messages import Message, Receive, Scope, Send

from ..servers import serve
from ..tools import require_module

pytestmark = pytest.mark.anyio
brotli = require_module("brotli")

PAGE = "<!DOCTYPE html><html><head><title>t</title></head><body><main>" + "<p>generated text</p>" * 300
PAGE += "</main></body></html>"
PAYLOAD = {"items": [{"id": i, "text": "generated answer " * 4} for i in range(40)]}
BANNER = b'<aside id="aiact-disclosure"'
GZIP, ZLIB, RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


def config(**disclosure: Any) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"}, disclosure=disclosure)


def encode(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def gzip_inside(cfg: TransparencyConfig) -> TransparencyMiddleware:
    """The ordering mistake: GZipMiddleware inside TransparencyMiddleware (added first with add_middleware)."""

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"ETag": '"p1"'})

    async def streamed(request: Request) -> Response:
        async def chunks() -> Any:
            for i in range(0, len(PAGE), 700):
                yield PAGE[i:i + 700]

        return StreamingResponse(chunks(), media_type="text/html")

    async def api(request: Request) -> Response:
        return JSONResponse(PAYLOAD)

    inner = Starlette(routes=[Route("/page", page), Route("/streamed", streamed), Route("/api", api)])
    return TransparencyMiddleware(GZipMiddleware(inner, minimum_size=100), config=cfg)


def encoding_app(cfg: TransparencyConfig) -> TransparencyMiddleware:
    """An app that sends the page encoded itself: /page/<case> in the coding the case names."""
    bodies = {
        "identity": (None, PAGE.encode()),
        "zlib": ("deflate", encode(PAGE.encode(), ZLIB)),
        "raw": ("deflate", encode(PAGE.encode(), RAW)),  # what some servers send as deflate (RFC 1951 only)
        "x-gzip": ("x-gzip", gzip.compress(PAGE.encode())),
        "br": ("br", brotli.compress(PAGE.encode())),
        "corrupt": ("gzip", corrupt(gzip.compress(PAGE.encode(), mtime=0))),
        "truncated": ("gzip", gzip.compress(PAGE.encode(), mtime=0)[:-20]),
    }

    async def page(request: Request) -> Response:
        coding, body = bodies[request.path_params["case"]]
        headers = {"ETag": '"p1"', **({"Content-Encoding": coding} if coding else {})}
        return Response(body, media_type="text/html", headers=headers)

    return TransparencyMiddleware(Starlette(routes=[Route("/page/{case}", page, methods=["GET", "HEAD"])]), config=cfg)


def corrupt(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[-8] ^= 0xFF  # the CRC-32 in the gzip trailer: the deflate data is intact, the check fails
    return bytes(damaged)


async def fetch_raw(app: Any, path: str, coding: str | None = "gzip, deflate",
                    method: str = "GET") -> tuple[httpx.Response, bytes]:
    """The response as sent (httpx would undo its Content-Encoding) and its body's bytes as they were sent."""
    headers = {"Accept-Encoding": coding or "identity"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.send(client.build_request(method, path, headers=headers), stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
    return response, raw


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "aiact_transparency"]


def assert_one_banner(page: bytes) -> None:
    """html5lib (the WHATWG parser) finds exactly one disclosure banner, inside <body>."""
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    asides = tree.findall(".//body//aside[@id='aiact-disclosure']")
    assert len(asides) == 1 and "AI" in "".join(asides[0].itertext())


# -- a page ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/page", "/streamed"])
async def test_a_page_gzipped_inside_gets_the_banner_and_stays_gzipped(path: str) -> None:
    app = gzip_inside(config())
    plain, plain_raw = await fetch_raw(app, path, coding=None)
    response, raw = await fetch_raw(app, path)
    assert "content-encoding" not in plain.headers and plain_raw.count(BANNER) == 1
    assert response.headers["content-encoding"] == "gzip"
    decoded = gzip.decompress(raw)
    assert decoded == plain_raw  # the same page, banner included, as without compression
    assert_one_banner(decoded)
    assert response.headers.get_list("vary") == ["Accept-Encoding", "Accept-Language"]
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    if path == "/page":  # one body message: its new length; a strong ETag cannot describe other bytes
        assert int(response.headers["content-length"]) == len(raw)
        assert response.headers["etag"] == 'W/"p1"'
    else:
        assert "content-length" not in response.headers


async def test_each_chunk_of_a_streamed_page_leaves_decodable_at_once() -> None:
    # Sync-flushed per message: a client decodes every chunk as it arrives, never waiting for the next one.
    app = gzip_inside(config())
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    # ASGI 2.4: Starlette's StreamingResponse then does not poll receive() for a disconnect.
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "method": "GET", "path": "/streamed",
             "query_string": b"", "headers": [(b"host", b"t"), (b"accept-encoding", b"gzip")]}
    await app(scope, receive, send)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    unpacker = zlib.decompressobj(GZIP)
    pieces = [unpacker.decompress(m["body"]) for m in bodies]
    chunks = [PAGE[i:i + 700].encode() for i in range(0, len(PAGE), 700)]
    assert len(bodies) == len(chunks) + 1 and unpacker.eof  # one message per app message (its last is empty)
    assert BANNER in pieces[0] and pieces[0].endswith(chunks[0][-100:])  # <body> is in the first chunk
    assert pieces[1:-1] == chunks[1:]  # each chunk whole, in its own message, as soon as it came
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1]["more_body"]


@pytest.mark.parametrize(("case", "wbits"), [("zlib", ZLIB), ("raw", RAW), ("x-gzip", GZIP)])
async def test_a_page_the_app_deflated_itself_gets_the_banner_in_the_same_coding(case: str, wbits: int) -> None:
    app = encoding_app(config())
    _, plain = await fetch_raw(app, "/page/identity")
    response, raw = await fetch_raw(app, f"/page/{case}")
    assert response.headers["content-encoding"] == ("x-gzip" if case == "x-gzip" else "deflate")
    assert zlib.decompress(raw, wbits) == plain and plain.count(BANNER) == 1  # re-encoded as the app encoded it
    if case == "raw":
        with pytest.raises(zlib.error):
            zlib.decompress(raw)  # no zlib header: raw deflate, as the app sent it
    assert int(response.headers["content-length"]) == len(raw) and response.headers["etag"] == 'W/"p1"'


async def test_head_of_a_gzipped_page_answers_like_its_get() -> None:
    app = encoding_app(config())
    get, _ = await fetch_raw(app, "/page/x-gzip")
    head, body = await fetch_raw(app, "/page/x-gzip", method="HEAD")
    assert body == b"" and head.headers["etag"] == get.headers["etag"] == 'W/"p1"'
    assert head.headers.get_list("vary") == get.headers.get_list("vary") == ["Accept-Language"]
    assert "content-length" not in head.headers  # GET's differs from the app's (RFC 9110 §9.3.2)


@pytest.mark.parametrize("case", ["corrupt", "truncated"])
async def test_a_page_that_does_not_decode_passes_as_the_app_sent_it(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = encoding_app(config())
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(app, f"/page/{case}")
    # mtime=0 here and in the app: gzip.compress writes the current second into the header
    expected = {"corrupt": corrupt(gzip.compress(PAGE.encode(), mtime=0)),
                "truncated": gzip.compress(PAGE.encode(), mtime=0)[:-20]}
    assert raw == expected[case]  # byte for byte: never re-encoded into something that decodes
    assert response.headers["content-encoding"] == "gzip" and response.headers["etag"] == '"p1"'
    assert int(response.headers["content-length"]) == len(raw) and "ai-disclosure" in response.headers
    warnings = our_warnings(caplog)
    assert len(warnings) == 1 and f"gzip data is {case}" in warnings[0] and "/page/" in warnings[0]
    assert "passed unchanged" in warnings[0]


async def test_a_stream_that_breaks_after_its_start_is_cut_off_not_completed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first chunk decodes (the banner goes out re-encoded); the second is garbage: nothing may claim the
    # response complete, as when the app itself raises after the start.
    packer = zlib.compressobj(6, zlib.DEFLATED, GZIP)
    first = packer.compress(PAGE[:2000].encode()) + packer.flush(zlib.Z_SYNC_FLUSH)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        await send({"type": "http.response.body", "body": b"\xff" * 64, "more_body": False})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = TransparencyMiddleware(app, config=config())
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"), pytest.raises(ContentDecodingError,
                                                                                     match="gzip data is corrupt"):
        await middleware(scope, receive, send)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies and all(m["more_body"] for m in bodies)
    assert BANNER in zlib.decompressobj(GZIP).decompress(b"".join(m["body"] for m in bodies))
    assert any("cut off" in r.getMessage() for r in caplog.records)


async def test_a_gzip_bomb_page_is_streamed_through_in_bounded_memory() -> None:
    # 32 MiB of page in ~32 KiB of gzip, in one message: decoded and re-encoded in pieces, never whole.
    size = 32 << 20
    packer = zlib.compressobj(9, zlib.DEFLATED, GZIP)
    bomb = packer.compress(b"<html><head></head><body>") + b"".join(
        packer.compress(b" " * (1 << 20)) for _ in range(size >> 20)) + packer.flush()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": bomb, "more_body": False})

    unpacker = zlib.decompressobj(GZIP)
    state = {"size": 0, "head": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            data = unpacker.decompress(message["body"])
            state["size"] += len(data)
            state["head"] = state["head"] or data

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = TransparencyMiddleware(app, config=config())
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
    tracemalloc.start()
    try:
        await middleware(scope, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert BANNER in state["head"] and unpacker.eof
    assert state["size"] > size
    assert peak < 8 << 20, peak  # a few pieces of 128 KiB, far from the 32 MiB the body expands to


# -- JSON, event streams ------------------------------------------------------------------------------------


async def test_json_gzipped_inside_gets_its_disclosure_member() -> None:
    app = gzip_inside(config(json=True))
    _, plain = await fetch_raw(app, "/api", coding=None)
    response, raw = await fetch_raw(app, "/api")
    assert response.headers["content-encoding"] == "gzip"
    document = json.loads(gzip.decompress(raw))
    assert gzip.decompress(raw) == plain and document["items"] == PAYLOAD["items"]
    assert document["ai_disclosure"]["mode"] == "ai-originated"
    assert int(response.headers["content-length"]) == len(raw)


def test_a_gzipped_event_stream_gets_its_notice_and_each_event_arrives_at_once() -> None:
    # Starlette's GZipMiddleware leaves event streams alone; a server that compresses them sync-flushes every
    # event, and so must we: event i+1 is sent only once the client has decoded event i (else it never is).
    decoded_events = [threading.Event() for _ in range(3)]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        packer = zlib.compressobj(6, zlib.DEFLATED, GZIP)
        headers = [(b"content-type", b"text/event-stream"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, seen in enumerate(decoded_events):
            event = packer.compress(b"data: {\"i\": %d}\n\n" % i) + packer.flush(zlib.Z_SYNC_FLUSH)
            await send({"type": "http.response.body", "body": event, "more_body": True})
            if not await anyio.to_thread.run_sync(seen.wait, 10):
                raise AssertionError(f"event {i} did not reach the client before the next one was sent")
        await send({"type": "http.response.body", "body": packer.flush(), "more_body": False})

    unpacker = zlib.decompressobj(GZIP)
    decoded = b""
    with (
        serve(TransparencyMiddleware(app, config=config())) as base,
        httpx.Client(base_url=base, timeout=20) as client,
        client.stream("GET", "/events", headers={"Accept-Encoding": "gzip"}) as response,
    ):
        assert response.headers["content-encoding"] == "gzip" and "content-length" not in response.headers
        for chunk in response.iter_raw():
            decoded += unpacker.decompress(chunk)
            for i, seen in enumerate(decoded_events):
                if b"data: {\"i\": %d}\n\n" % i in decoded:
                    seen.set()
    assert unpacker.eof
    assert decoded.startswith(b": AI-Disclosure:")  # the notice first, then every event unchanged
    assert decoded.count(b"data: ") == 3 and decoded.endswith(b"data: {\"i\": 2}\n\n")


# -- codings we cannot decode: unchanged --------------------------------------------------------------------


async def test_a_brotli_page_passes_unchanged_with_the_gap_logged(caplog: pytest.LogCaptureFixture) -> None:
    # Unchanged behaviour (compression belongs outside): guarded beside the codings that now get the banner.
    app = encoding_app(config())
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(app, "/page/br")
        _, gzipped_raw = await fetch_raw(app, "/page/x-gzip")
    assert raw == brotli.compress(PAGE.encode()) and response.headers["etag"] == '"p1"'
    assert BANNER in gzip.decompress(gzipped_raw)
    warnings = our_warnings(caplog)
    assert len(warnings) == 1 and "Content-Encoding: br; compress outside TransparencyMiddleware" in warnings[0]


# -- the incremental decoder ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["gzip", "two-members", "zlib", "raw"])
@pytest.mark.parametrize("step", [1, 2, 333, 1 << 20])
def test_the_decoder_undoes_any_split_in_capped_pieces(case: str, step: int) -> None:
    data = PAGE.encode() * 20 + bytes(range(256)) * 50
    coding, encoded = {
        "gzip": ("gzip", gzip.compress(data)),
        "two-members": ("gzip", gzip.compress(data[:999]) + gzip.compress(data[999:])),
        "zlib": ("deflate", encode(data, ZLIB)),
        "raw": ("deflate", encode(data, RAW)),
    }[case]
    decoder = Decoder(coding)
    pieces = []
    for i in range(0, len(encoded), step):
        pieces.append(decoder.feed(encoded[i:i + step], 4096))
        while decoder.pending:
            pieces.append(decoder.feed(b"", 4096))
    decoder.finish()
    assert b"".join(pieces) == data and max(map(len, pieces)) <= 4096
    if step > 4096:  # a piece of input that expands past the cap came out in capped pieces
        assert max(map(len, pieces)) == 4096
    with pytest.raises(ContentDecodingError, match="bytes after its end" if coding == "deflate" else "corrupt"):
        decoder.feed(b"xy", 4096)  # trailing bytes: zlib and raw deflate are one stream; gzip, not a member


def test_the_decoder_knows_a_truncated_stream() -> None:
    decoder = Decoder("deflate")
    decoder.feed(encode(PAGE.encode(), ZLIB)[:1], 100)  # one byte: zlib or raw cannot be told yet
    assert not decoder.pending
    with pytest.raises(ContentDecodingError, match="deflate data is truncated"):
        decoder.finish()
