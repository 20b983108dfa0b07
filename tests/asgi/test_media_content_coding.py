"""Compression inside the middleware on media routes: Starlette's real GZipMiddleware (and apps that encode
themselves) behind TransparencyMiddleware. Non-media responses keep their coding (pages, JSON and texts with
their disclosure: test_coded_responses.py); gzip and deflate media are
decoded, marked (checked with verify and c2pa-python's Reader) and sent unencoded; what cannot be decoded
(br, corrupt data, a decompression bomb) goes to the failure policy."""

from __future__ import annotations

import gzip
import io
import json
import logging
import tracemalloc
import zlib
from typing import Any

import c2pa
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import ASGIApp, Message, Receive, Scope, Send
from aiact_transparency.provenance.c2pa.manifest import TRAINED_ALGORITHMIC_MEDIA
from aiact_transparency.provenance.text.c2pa_text import strip_c2pa_text
from aiact_transparency.provenance.text.marking import verify_text

from ..provenance.test_document import pdf
from ..samples import image_bytes
from ..tools import require_module
from . import openai_app
from .test_media_responder import assert_marked, assert_problem, build_app, fetch, make_config

pytestmark = pytest.mark.anyio
brotli = require_module("brotli")  # gradio's dependency, in the dev extra

PAYLOAD = {"items": [{"id": i, "text": "generated answer " * 4} for i in range(40)]}
PNG = image_bytes("png")


def bomb(size: int = 64 << 20) -> bytes:
    """A gzip member of `size` zero bytes (about a thousandth of that), compressed without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(size >> 20)) + packer.flush()


def corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(PNG))
    data[-8] ^= 0xFF  # the CRC-32 in the trailer: the deflate stream is intact, the check fails
    return bytes(data)


# (Content-Encoding, body) for a PNG an app encoded itself
DECODABLE = {
    "gzip": ("gzip", gzip.compress(PNG)),
    "x-gzip": ("x-gzip", gzip.compress(PNG)),
    "two-members": ("gzip", gzip.compress(PNG[:5000]) + gzip.compress(PNG[5000:])),
    "zlib-deflate": ("deflate", zlib.compress(PNG)),
    "raw-deflate": ("deflate", zlib.compress(PNG)[2:-4]),  # what some servers send as deflate (RFC 1951 only)
    "stacked": ("deflate, gzip", gzip.compress(zlib.compress(PNG))),
}
# (Content-Encoding, body, what the problem detail and the log line say)
UNDECODABLE = " body, which cannot be decoded to be marked (br;"
REFUSED = {
    "br": ("br", brotli.compress(PNG), "Content-Encoding: br" + UNDECODABLE),
    "stacked-br": ("gzip, br", brotli.compress(gzip.compress(PNG)), "Content-Encoding: gzip, br" + UNDECODABLE),
    "corrupt": ("gzip", corrupt_gzip(), "gzip data is corrupt"),
    "truncated": ("gzip", gzip.compress(PNG)[:-100], "gzip data is truncated"),
    "bomb": ("gzip", bomb(), "decoded from Content-Encoding: gzip is larger than images.max_bytes = 1048576"),
}


async def encoded_png(request: Request) -> Response:
    coding, body = (DECODABLE | {k: v[:2] for k, v in REFUSED.items()})[request.path_params["case"]]
    headers = {"Content-Encoding": coding, "ETag": '"v1"', "Vary": "Accept-Encoding"}
    return Response(body, media_type="image/png", headers=headers)


class CodingRecorder:
    """Between TransparencyMiddleware and the app: the Content-Encoding each response left the app with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                codings = [v.decode() for k, v in message["headers"] if k.lower() == b"content-encoding"]
                self.seen.append(codings[0] if codings else None)
            await send(message)

        await self.app(scope, receive, recording)


def gzipped_app(config: TransparencyConfig, **gzip_options: Any) -> tuple[TransparencyMiddleware, CodingRecorder]:
    """The media test app (images under /images/*) plus JSON, a page and a PDF, behind a real GZipMiddleware."""

    async def api(request: Request) -> Response:
        return JSONResponse(PAYLOAD)

    async def page(request: Request) -> Response:
        return HTMLResponse("<!DOCTYPE html><html><head><title>t</title></head><body>" + "<p>hi</p>" * 200)

    async def report(request: Request) -> Response:
        return Response(pdf(2), media_type="application/pdf", headers={"ETag": '"r1"'})

    inner = Starlette(routes=[
        Route("/images/api.json", api),
        Route("/images/page", page),
        Route("/images/report.pdf", report, methods=["GET", "HEAD"]),
        Route("/images/encoded/{case}", encoded_png, methods=["GET", "HEAD"]),
        Mount("", app=build_app(config).app),
    ])
    recorder = CodingRecorder(GZipMiddleware(inner, minimum_size=100, **gzip_options))
    return TransparencyMiddleware(recorder, config=config), recorder


async def fetch_raw(
    app: Any, path: str, method: str = "GET", *, accept_encoding: str = "gzip, deflate, br"
) -> tuple[httpx.Response, bytes]:
    """The response as sent (httpx would undo its Content-Encoding) and its body's bytes on the wire."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        request = client.build_request(method, path, headers={"Accept-Encoding": accept_encoding})
        response = await client.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
    return response, raw


def assert_unencoded(response: httpx.Response, raw: bytes) -> httpx.Response:
    """Sent without Content-Encoding, with the fresh headers of a marked file: the response with its body read."""
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(raw)
    assert "etag" not in response.headers and "no-transform" in response.headers["cache-control"]
    return httpx.Response(response.status_code, headers=response.headers, content=raw)


def manifest_of(data: bytes, media_type: str) -> dict[str, Any]:
    """The active manifest as c2pa-python reads it, its validation state checked."""
    with c2pa.Reader(media_type, io.BytesIO(data)) as reader:
        store: dict[str, Any] = json.loads(reader.json())
    assert store["validation_state"] in ("Valid", "Trusted"), store.get("validation_status")
    manifest: dict[str, Any] = store["manifests"][store["active_manifest"]]
    return manifest


def assert_marked_png(response: httpx.Response, raw: bytes, config: TransparencyConfig) -> None:
    # C2PA valid, XMP, and our watermark detector finds our system
    assert_marked(assert_unencoded(response, raw), config, "image/png")
    manifest = manifest_of(raw, "image/png")
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert any(action.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA for action in actions)


# -- what is not media keeps its coding ----------------------------------------------------------------------


async def test_json_on_a_media_route_stays_gzip_encoded() -> None:
    # Media routes are every route by default: an API behind an inner GZipMiddleware was sent uncompressed.
    app, recorder = gzipped_app(make_config(routes=["*"]))
    response, raw = await fetch_raw(app, "/images/api.json")
    assert response.headers["content-encoding"] == "gzip" and recorder.seen == ["gzip"]
    assert json.loads(gzip.decompress(raw)) == PAYLOAD
    assert "Accept-Encoding" in response.headers["vary"]
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        decoded = await client.get("/images/api.json")  # httpx asks for gzip and decodes it
    assert decoded.json() == PAYLOAD


async def test_a_page_on_a_media_route_stays_compressed_and_gets_its_banner() -> None:
    # The page is decoded around the banner responder and encoded again (responders/coded.py): both survive.
    app, recorder = gzipped_app(make_config(routes=["*"]))
    response, raw = await fetch_raw(app, "/images/page")
    assert response.headers["content-encoding"] == "gzip" and recorder.seen == ["gzip"]
    page = gzip.decompress(raw)
    assert page.startswith(b"<!DOCTYPE html>") and page.count(b'<aside id="aiact-disclosure"') == 1


async def test_texts_on_a_text_c2pa_media_route_are_compressed_and_marked() -> None:
    # The app now gets the client's Accept-Encoding on a `text: c2pa` route too: the answers leave it gzipped,
    # are decoded around the text responders, and reach the client gzipped, their wrappers inside.
    config = TransparencyConfig(system={"name": "Acme Chat", "provider": "Acme GmbH"},
                                disclosure={"routes": [{"path": "/v1/*", "text": "c2pa"}]})
    recorder = CodingRecorder(GZipMiddleware(openai_app.app, minimum_size=1))
    app = TransparencyMiddleware(recorder, config=config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/v1/chat/completions", json={"model": "m", "n": 3})
        plain = await client.get("/v1/plain")
    assert recorder.seen == ["gzip", "gzip"]
    assert answer.headers["content-encoding"] == plain.headers["content-encoding"] == "gzip"
    for choice in answer.json()["choices"]:  # (httpx decoded them)
        content = choice["message"]["content"]
        assert verify_text(content).valid and strip_c2pa_text(content) == openai_app.answer(choice["index"])
    assert verify_text(plain.text).valid


# -- media encoded inside: decoded, marked, sent unencoded ---------------------------------------------------


@pytest.mark.parametrize("path", ["/images/bytes/png", "/images/stream?chunk=700"])
async def test_an_image_compressed_by_an_inner_gzip_middleware_is_marked(path: str) -> None:
    # exclude_content_types=(): a GZipMiddleware that compresses images (Starlette's did before 0.47); the streamed
    # JPEG arrives as 700-byte chunks, each sync-flushed by gzip.
    config = make_config()
    app, recorder = gzipped_app(config, exclude_content_types=())
    response, raw = await fetch_raw(app, path)
    assert recorder.seen == ["gzip"]  # the app did compress it: the client's Accept-Encoding reached it
    media_type = "image/png" if "png" in path else "image/jpeg"
    assert_marked(assert_unencoded(response, raw), config, media_type)
    manifest_of(raw, media_type)
    assert "Accept-Encoding" in response.headers["vary"]  # a client that sends none gets other bytes


async def test_a_pdf_compressed_by_default_gzip_settings_is_signed() -> None:
    # Starlette's default exclude list names images, audio and video, not PDF: a real deployment's case.
    config = make_config()
    app, recorder = gzipped_app(config)
    response, raw = await fetch_raw(app, "/images/report.pdf")
    assert recorder.seen == ["gzip"] and response.status_code == 200
    assert_unencoded(response, raw)
    assert raw.startswith(b"%PDF-") and response.headers["content-type"] == "application/pdf"
    assert "Accept-Encoding" in response.headers["vary"]
    manifest = manifest_of(raw, "application/pdf")
    assert any(a["label"].startswith("c2pa.actions") for a in manifest["assertions"])


@pytest.mark.parametrize("case", list(DECODABLE))
async def test_an_image_the_app_encoded_itself_is_decoded_and_marked(case: str) -> None:
    config = make_config()
    app, recorder = gzipped_app(config)  # GZip passes an already encoded body on untouched
    response, raw = await fetch_raw(app, f"/images/encoded/{case}")
    assert recorder.seen == [DECODABLE[case][0]]
    assert_marked_png(response, raw, config)
    assert response.headers["vary"] == "Accept-Encoding"


async def test_head_of_a_gzipped_image_answers_like_its_get() -> None:
    app, _ = gzipped_app(make_config())
    get, _ = await fetch_raw(app, "/images/encoded/gzip")
    head, body = await fetch_raw(app, "/images/encoded/gzip", method="HEAD")
    assert head.status_code == get.status_code == 200 and body == b""
    for name in ("content-encoding", "content-length", "etag"):
        assert name not in head.headers, name
    assert head.headers["content-type"] == "image/png" and "no-transform" in head.headers["cache-control"]


# -- what cannot be decoded: the failure policy --------------------------------------------------------------


@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_undecodable_image_fails_closed_naming_why(case: str, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = gzipped_app(make_config(max_bytes=1 << 20))
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(app, f"/images/encoded/{case}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "content-encoding" not in response.headers
    detail = assert_problem(response)["detail"]
    expected = REFUSED[case][2]
    assert expected in detail
    if "br" in case:  # the coding and the fix are named
        assert "(br; only gzip and deflate are)" in detail and "compression outside" in detail
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "fail-closed" in errors[0] and expected in errors[0]


@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_undecodable_image_fails_open_as_the_app_sent_it(case: str, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = gzipped_app(make_config(max_bytes=1 << 20, on_error="fail-open"))
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(app, f"/images/encoded/{case}")
    coding, body, expected = REFUSED[case]
    assert response.status_code == 200 and raw == body  # byte for byte: not truncated, not re-encoded
    assert response.headers["content-encoding"] == coding and response.headers["etag"] == '"v1"'
    assert int(response.headers["content-length"]) == len(body)
    warnings = [r.getMessage() for r in caplog.records if "UNMARKED" in r.getMessage()]
    assert len(warnings) == 1 and expected in warnings[0] and "/images/encoded/" in warnings[0]


async def test_a_decompression_bomb_is_never_expanded_in_memory() -> None:
    app, _ = gzipped_app(make_config(max_bytes=1 << 20))
    assert len(REFUSED["bomb"][1]) < 128 << 10  # 64 MiB of zeros in about 64 KiB
    tracemalloc.start()
    try:
        response = await fetch(app, "/images/encoded/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "is larger than images.max_bytes" in assert_problem(response)["detail"]
    assert peak < 8 << 20, peak  # about the 1 MiB cap, far from the 64 MiB the body expands to
