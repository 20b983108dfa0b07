"""Image marking in TransparencyMiddleware: real Starlette routes, real marking, real uvicorn where it matters."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify
from aiact_transparency.http_messages import Message, Receive, Scope, Send

from ..samples import FORMATS, encode, image_bytes, picture
from ..servers import raw_get, serve
from ..tools import http_scope, require_module

pytestmark = pytest.mark.anyio
brotli = require_module("brotli")  # gradio's dependency, in the dev extra

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example"}


def make_config(**images: Any) -> TransparencyConfig:
    return TransparencyConfig(
        system=SYSTEM,
        model={"id": "acme/studio-xl"},
        # A mode=none rule inside the image routes: nothing there is AI-generated, so nothing is marked.
        disclosure={"routes": [{"path": "/images/public/*", "mode": "none"}]},
        images={"routes": ["/images/*"], **images},
    )


def build_app(config: TransparencyConfig, file_path: Path | None = None) -> TransparencyMiddleware:
    png = image_bytes("png")

    async def by_format(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        headers = {"ETag": '"v1"', "Accept-Ranges": "bytes", "Cache-Control": "public, max-age=60"}
        return Response(image_bytes(fmt), media_type=FORMATS[fmt][1], headers=headers)

    async def generated(request: Request) -> Response:
        n = int(request.path_params["n"])
        fmt = ("png", "jpeg", "webp")[n % 3]
        return Response(image_bytes(fmt, seed=n), media_type=FORMATS[fmt][1])

    async def from_file(request: Request) -> Response:
        assert file_path is not None
        return FileResponse(file_path, media_type="image/png")

    async def streamed(request: Request) -> Response:
        data = image_bytes("jpeg")
        size = int(request.query_params.get("chunk", "1000"))
        delay = float(request.query_params.get("delay", "0"))

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), size):
                await asyncio.sleep(delay)
                yield data[start : start + size]

        return StreamingResponse(chunks(), media_type="image/jpeg")

    async def plain(request: Request) -> Response:
        return Response(png, media_type="image/png", headers={"ETag": '"v1"'})

    async def gif(request: Request) -> Response:
        return Response(encode(picture((64, 48)), "GIF"), media_type="image/gif", headers={"ETag": '"g"'})

    async def corrupt(request: Request) -> Response:
        return Response(png[: len(png) // 2], media_type="image/png")

    async def lying(request: Request) -> Response:
        return Response(png, media_type="image/jpeg")

    async def no_transform_already(request: Request) -> Response:
        return Response(png, media_type="image/png", headers={"Cache-Control": "No-Transform, max-age=5"})

    async def brotli_encoded(request: Request) -> Response:
        # A coding the responder cannot decode (gzip and deflate it can: test_media_content_coding.py)
        return Response(brotli.compress(png), media_type="image/png", headers={"Content-Encoding": "br"})

    async def partial(request: Request) -> Response:
        # An app that always answers with a slice, whatever the request asked for.
        headers = {"Content-Range": f"bytes 0-99/{len(png)}"}
        return Response(png[:100], status_code=206, media_type="image/png", headers=headers)

    async def not_modified(request: Request) -> Response:
        return Response(status_code=304, headers={"ETag": '"v1"'})

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    routes = [
        Route("/images/bytes/{fmt}", by_format, methods=["GET", "HEAD"]),
        Route("/images/gen/{n}", generated),
        Route("/images/file", from_file, methods=["GET", "HEAD"]),
        Route("/images/stream", streamed),
        Route("/images/gif", gif),
        Route("/images/corrupt", corrupt),
        Route("/images/lying", lying),
        Route("/images/no-transform", no_transform_already),
        Route("/images/br", brotli_encoded, methods=["GET", "HEAD"]),
        Route("/images/partial", partial, methods=["GET", "HEAD"]),
        Route("/images/not-modified", not_modified),
        Route("/images/public/png", plain),
        Route("/other/png", plain),
        Route("/other/file", from_file),
        Route("/ping", ping),
    ]
    return TransparencyMiddleware(Starlette(routes=routes), config=config)


@pytest.fixture(scope="module")
def png_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "picture.png"
    path.write_bytes(image_bytes("png", seed=5))
    return path


@pytest.fixture
def config() -> TransparencyConfig:
    return make_config()


@pytest.fixture
def app(config: TransparencyConfig, png_file: Path) -> TransparencyMiddleware:
    return build_app(config, png_file)


async def fetch(app: Any, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


def assert_marked(response: httpx.Response, config: TransparencyConfig, media_type: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == media_type
    assert int(response.headers["content-length"]) == len(response.content)
    report = verify(response.content, config=config)
    assert report.media_type == media_type
    assert report.c2pa["found"] and report.c2pa["valid"], report.c2pa
    assert report.xmp["ai_generated"]
    assert report.watermark["found"] and report.watermark["system_matches"], report.watermark
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    return report.to_dict()


# -- marked responses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
async def test_bytes_response_is_marked_with_fresh_headers(
    fmt: str, app: TransparencyMiddleware, config: TransparencyConfig
) -> None:
    response = await fetch(app, f"/images/bytes/{fmt}")
    assert_marked(response, config, FORMATS[fmt][1])
    assert response.content != image_bytes(fmt)
    assert "etag" not in response.headers and "accept-ranges" not in response.headers
    # An existing Cache-Control is kept and merged, not replaced.
    assert response.headers["cache-control"] == "public, max-age=60, no-transform"
    assert response.headers.get_list("link") == ['</.well-known/ai-disclosure>; rel="describedby"']


async def test_file_response_is_marked(app: TransparencyMiddleware, config: TransparencyConfig) -> None:
    response = await fetch(app, "/images/file")
    assert_marked(response, config, "image/png")
    assert "etag" not in response.headers and "accept-ranges" not in response.headers
    assert response.headers["cache-control"] == "no-transform"
    assert "last-modified" in response.headers  # describes the source, harmless


@pytest.mark.parametrize("chunk", [1, 1000, 65536])
async def test_streamed_response_is_collected_and_marked(
    chunk: int, app: TransparencyMiddleware, config: TransparencyConfig
) -> None:
    response = await fetch(app, f"/images/stream?chunk={chunk}")
    assert_marked(response, config, "image/jpeg")
    assert "transfer-encoding" not in response.headers


@pytest.mark.parametrize(
    "range_headers",
    [
        {"Range": "bytes=0-99"},
        {"Range": "bytes=100-"},
        {"Range": "bytes=0-9, 20-29"},
        {"Range": "bytes=0-99", "If-Range": 'W/"whatever"'},
    ],
)
async def test_range_request_gets_the_whole_marked_image(
    range_headers: dict[str, str], app: TransparencyMiddleware, config: TransparencyConfig
) -> None:
    response = await fetch(app, "/images/file", headers=range_headers)
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert_marked(response, config, "image/png")


async def test_range_on_an_unmarked_route_still_works(app: TransparencyMiddleware, png_file: Path) -> None:
    response = await fetch(app, "/other/file", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == png_file.read_bytes()[:100]


@pytest.mark.parametrize("path", ["/images/bytes/png", "/images/file"])
async def test_head_on_an_image_route_has_no_length_or_validator(path: str, app: TransparencyMiddleware) -> None:
    response = await fetch(app, path, method="HEAD")
    assert response.status_code == 200
    assert response.content == b""
    for name in ("content-length", "etag", "accept-ranges"):
        assert name not in response.headers, name
    assert "no-transform" in response.headers["cache-control"]
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")


@pytest.mark.parametrize("path", ["/images/bytes/png", "/images/file"])
async def test_head_with_range_on_an_image_route_answers_like_get(path: str, app: TransparencyMiddleware) -> None:
    # The app saw the Range on HEAD (only GET lost it) and answered 206, whose Content-Range was then stripped.
    response = await fetch(app, path, method="HEAD", headers={"Range": "bytes=0-9"})
    assert response.status_code == 200
    assert "content-range" not in response.headers and "content-length" not in response.headers


async def test_declared_type_that_lies_is_corrected(app: TransparencyMiddleware, config: TransparencyConfig) -> None:
    response = await fetch(app, "/images/lying")
    assert_marked(response, config, "image/png")


async def test_no_transform_is_not_added_twice(app: TransparencyMiddleware, config: TransparencyConfig) -> None:
    response = await fetch(app, "/images/no-transform")
    assert_marked(response, config, "image/png")
    assert response.headers["cache-control"] == "No-Transform, max-age=5"


# -- untouched responses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/other/png", "/images/public/png"])
async def test_routes_outside_images_or_with_mode_none_are_untouched(path: str, app: TransparencyMiddleware) -> None:
    response = await fetch(app, path)
    assert response.status_code == 200
    assert response.content == image_bytes("png")  # byte-identical
    assert response.headers["etag"] == '"v1"'
    assert int(response.headers["content-length"]) == len(image_bytes("png"))
    assert "cache-control" not in response.headers
    assert not verify(response.content).marked
    expected_mode = "none" if "public" in path else "ai-originated"
    assert response.headers["ai-disclosure"].startswith(f"mode={expected_mode}")


async def test_head_outside_image_routes_keeps_its_headers(app: TransparencyMiddleware) -> None:
    response = await fetch(app, "/other/png", method="HEAD")
    assert response.headers["etag"] == '"v1"' and "content-length" in response.headers


async def test_unsupported_image_type_passes_through(app: TransparencyMiddleware) -> None:
    response = await fetch(app, "/images/gif")
    assert response.status_code == 200
    assert response.content == encode(picture((64, 48)), "GIF")
    assert response.headers["content-type"] == "image/gif" and response.headers["etag"] == '"g"'
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")


@pytest.mark.parametrize("path", ["/images/br", "/images/partial"])
async def test_encoded_or_partial_image_fails_closed(
    path: str, app: TransparencyMiddleware, caplog: pytest.LogCaptureFixture
) -> None:
    # The app encodes or slices whatever the request says: these bytes cannot be marked, so under fail-closed
    # the image is not served (it used to pass through unmarked, without a log line).
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(app, path)
    body = assert_problem(response)
    assert ("Content-Encoding: br" if "br" in path else "206") in body["detail"]
    assert any("fail-closed" in r.getMessage() and path in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ["/images/br", "/images/partial"])
async def test_encoded_or_partial_image_fails_open_with_a_warning(
    path: str, png_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(make_config(on_error="fail-open"), png_file)
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(app, path)
    png = image_bytes("png")
    if "br" in path:
        assert response.status_code == 200 and response.content == png  # httpx decoded the brotli
    else:
        assert response.status_code == 206 and response.content == png[:100]
        assert response.headers["content-range"] == f"bytes 0-99/{len(png)}"
    assert not verify(response.content).marked
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "UNMARKED" in r.getMessage()]
    assert len(warnings) == 1 and path in warnings[0].getMessage()


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
@pytest.mark.parametrize("path", ["/images/br", "/images/partial"])
async def test_head_of_an_encoded_or_partial_image_answers_like_get(path: str, policy: str, png_file: Path) -> None:
    app = build_app(make_config(on_error=policy), png_file)
    get, head = await fetch(app, path), await fetch(app, path, method="HEAD")
    assert head.status_code == get.status_code == (500 if policy == "fail-closed" else 200 if "br" in path else 206)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["ai-disclosure"].startswith("mode=ai-originated")


async def test_not_modified_image_passes_through(app: TransparencyMiddleware) -> None:
    not_modified = await fetch(app, "/images/not-modified")
    assert not_modified.status_code == 304 and not_modified.content == b""


async def test_marking_can_be_disabled(png_file: Path) -> None:
    app = build_app(make_config(enabled=False), png_file)
    response = await fetch(app, "/images/bytes/png")
    assert response.content == image_bytes("png") and response.headers["etag"] == '"v1"'


# -- failure policy ------------------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int = 500) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status and body["title"] and body["detail"]
    assert "etag" not in response.headers
    return body


async def test_fail_closed_answers_500_problem_json(
    app: TransparencyMiddleware, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(app, "/images/corrupt")
    body = assert_problem(response)
    assert body["title"] == "The image data is corrupt"
    assert "image/png" in body["detail"] and "trunc" in body["detail"]
    assert any("fail-closed" in record.getMessage() for record in caplog.records)


async def test_fail_open_serves_the_original_with_a_warning(png_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(make_config(on_error="fail-open"), png_file)
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(app, "/images/corrupt")
    png = image_bytes("png")
    assert response.status_code == 200
    assert response.content == png[: len(png) // 2]
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    assert not verify(response.content).marked  # no mark claimed it lacks
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "UNMARKED" in r.getMessage()]
    assert len(warnings) == 1 and "/images/corrupt" in warnings[0].getMessage()


@pytest.mark.parametrize("policy", ["fail-open", "fail-closed"])
async def test_streamed_body_over_max_bytes(policy: str, png_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(make_config(on_error=policy, max_bytes=2048), png_file)
    original = image_bytes("jpeg")
    assert len(original) > 3 * 2048  # the limit is crossed mid-stream, with chunks still to come
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(app, "/images/stream?chunk=700")
    if policy == "fail-open":
        assert response.status_code == 200
        assert response.content == original  # all of it, in order, nothing truncated or repeated
        assert "UNMARKED" in caplog.text and "max_bytes" in caplog.text
    else:
        body = assert_problem(response)
        assert "images.max_bytes = 2048" in body["detail"]


async def test_fixed_body_over_max_bytes_fail_closed(png_file: Path) -> None:
    app = build_app(make_config(max_bytes=4096), png_file)
    body = assert_problem(await fetch(app, "/images/bytes/png"))
    assert "max_bytes" in body["detail"]


class BrokenSigner:
    """A signer whose key service is down: it has a certificate chain but every signature fails."""

    def __init__(self, real: Any) -> None:
        self.alg = real.alg
        self.certificate_chain_pem = real.certificate_chain_pem
        self.tsa_url = None

    def sign(self, data: bytes) -> bytes:
        raise ConnectionError("signing service unreachable")


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_signing_failure_follows_the_policy(
    policy: str, png_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(make_config(on_error=policy), png_file)
    assert app.images is not None
    app.images.marker.markers["image"].signer = BrokenSigner(app.images.marker.markers["image"].signer)
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(app, "/images/bytes/png")
    if policy == "fail-closed":
        body = assert_problem(response)
        assert body["title"] == "The content credentials could not be signed"
        assert "signing service unreachable" in body["detail"]
    else:
        assert response.status_code == 200 and response.content == image_bytes("png")
        assert response.headers["etag"] == '"v1"'  # the original's headers describe the original bytes
        assert "UNMARKED" in caplog.text


async def test_an_unexpected_error_is_a_problem_not_a_crash(
    app: TransparencyMiddleware, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.images is not None

    def explode(data: bytes, media_type: str | None = None) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.images.marker, "mark", explode)
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(app, "/images/bytes/jpeg")
    body = assert_problem(response)
    assert body["detail"] == "unexpected RuntimeError"  # internals go to the log, not to the client
    assert "secret internals" in caplog.text


# -- the scope the app sees ----------------------------------------------------------------------------------


async def _record(app: TransparencyMiddleware, scope: Scope, reply: list[Message]) -> tuple[Scope, list[Message]]:
    seen: list[Scope] = []
    sent: list[Message] = []

    async def inner(inner_scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(inner_scope)
        for message in reply:
            await send(dict(message))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = TransparencyMiddleware(inner, config=app.config)
    await middleware(scope, receive, send)
    return seen[0], sent


def raw_scope(path: str, method: str = "GET") -> Scope:
    headers = [(b"host", b"t"), (b"range", b"bytes=0-9"), (b"if-range", b'"v1"'), (b"accept", b"image/*")]
    headers.append((b"accept-encoding", b"gzip, br"))
    extensions = {"http.response.pathsend": {}, "http.response.zerocopysend": {}, "http.response.trailers": {}}
    return http_scope(path, method, headers, extensions=extensions)


TEXT_REPLY: list[Message] = [
    {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]},
    {"type": "http.response.body", "body": b"ok"},
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_image_route_scope_loses_direct_send_and_range(method: str, app: TransparencyMiddleware) -> None:
    scope = raw_scope("/images/anything", method)
    seen, _ = await _record(app, scope, TEXT_REPLY)
    assert set(seen["extensions"]) == {"http.response.trailers"}
    names = [name for name, _ in seen["headers"]]
    assert b"range" not in names and b"if-range" not in names
    # Accept-Encoding stays, cut down to what we can undo: a compression middleware inside keeps compressing.
    assert seen["headers"][1:] == [(b"accept", b"image/*"), (b"accept-encoding", b"gzip")]
    # The server's scope itself is not modified.
    assert "http.response.pathsend" in scope["extensions"] and len(scope["headers"]) == 5


async def test_a_request_on_an_image_route_is_copied_only_when_it_must_change(app: TransparencyMiddleware) -> None:
    # No Range, no direct-send extension, an Accept-Encoding of codings we can undo: the app gets the server's
    # scope itself (no copy per request).
    headers = [(b"host", b"t"), (b"accept", b"text/html"), (b"accept-encoding", b"gzip, deflate")]
    scope = http_scope("/images/page", "GET", headers)
    for _ in range(2):  # (the second time from the cache)
        seen, _ = await _record(app, scope, TEXT_REPLY)
        assert seen is scope
    # A browser's asks for br and zstd too, which a compressor inside would use and we could not undo: cut down.
    headers = [(b"host", b"t"), (b"accept", b"text/html"), (b"accept-encoding", b"gzip, deflate, br, zstd")]
    scope = http_scope("/images/page", "GET", headers)
    seen, _ = await _record(app, scope, TEXT_REPLY)
    assert seen is not scope and seen["headers"][2] == (b"accept-encoding", b"gzip, deflate")
    assert scope["headers"][2] == (b"accept-encoding", b"gzip, deflate, br, zstd")  # the server's is unchanged


@pytest.mark.parametrize(("path", "method"), [("/other/x", "GET"), ("/images/public/x", "GET")])
async def test_other_routes_see_the_scope_unchanged(path: str, method: str, app: TransparencyMiddleware) -> None:
    scope = raw_scope(path, method)
    seen, _ = await _record(app, scope, TEXT_REPLY)
    assert seen is scope
    assert "http.response.pathsend" in seen["extensions"]
    assert (b"range", b"bytes=0-9") in seen["headers"]


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_an_app_that_pathsends_anyway_is_not_served_unmarked(policy: str, png_file: Path) -> None:
    app = build_app(make_config(on_error=policy), png_file)
    reply: list[Message] = [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]},
        {"type": "http.response.pathsend", "path": str(png_file)},
    ]
    _, sent = await _record(app, raw_scope("/images/x"), reply)
    if policy == "fail-closed":
        assert sent[0]["status"] == 500
        body = json.loads(sent[1]["body"])
        assert "http.response.pathsend" in body["detail"]
    else:
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
        assert sent[0]["status"] == 200


class PathsendServer:
    """Emulates a server offering `http.response.pathsend` (as Granian and Hypercorn do) in front of `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pathsends = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "http.response.pathsend": {}}}

        async def server_send(message: Message) -> None:
            if message["type"] == "http.response.pathsend":
                self.pathsends += 1
                data = Path(message["path"]).read_bytes()
                await send({"type": "http.response.body", "body": data, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, server_send)


async def test_file_response_under_a_pathsend_server(
    app: TransparencyMiddleware, config: TransparencyConfig, png_file: Path
) -> None:
    server = PathsendServer(app)
    marked = await fetch(server, "/images/file")
    assert_marked(marked, config, "image/png")
    assert server.pathsends == 0  # the file came through the middleware, not around it
    untouched = await fetch(server, "/other/file")
    assert untouched.content == png_file.read_bytes() and server.pathsends == 1


# -- under a real server -------------------------------------------------------------------------------------


def ping_probe(base: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get("/ping")
            latencies.append(time.perf_counter() - started)
            if response.text != "pong":
                failures.append(response.text)
            time.sleep(0.002)


def test_50_concurrent_images_are_all_marked_and_other_requests_keep_flowing(png_file: Path) -> None:
    config = make_config()
    app = build_app(config, png_file)
    count = 50
    for n in range(count):
        image_bytes(("png", "jpeg", "webp")[n % 3], seed=n)  # encode up front: time only the server

    async def burst(base: str) -> list[tuple[httpx.Response, float]]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

            async def one(n: int) -> tuple[httpx.Response, float]:
                started = time.perf_counter()
                response = await client.get(f"/images/gen/{n}")
                return response, time.perf_counter() - started

            return await asyncio.gather(*(one(n) for n in range(count)))

    latencies: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    with serve(app, log_config=None) as base:
        probe = threading.Thread(target=ping_probe, args=(base, stop, latencies, failures), daemon=True)
        probe.start()
        time.sleep(0.05)  # the probe is running before the burst starts
        try:
            results = asyncio.run(burst(base))
        finally:
            stop.set()
            probe.join(timeout=30)
    assert not failures
    image_ids = set()
    for n, (response, _) in enumerate(results):
        fmt = ("png", "jpeg", "webp")[n % 3]
        report = assert_marked(response, config, FORMATS[fmt][1])
        image_ids.add(report["watermark"]["payload"]["image_id"])
    assert len(image_ids) == count  # every response is its own marked image, none mixed up or repeated
    image_times = sorted(elapsed for _, elapsed in results)
    median_image = statistics.median(image_times)
    assert len(latencies) >= 5, latencies
    p99_ping = sorted(latencies)[max(0, int(len(latencies) * 0.99) - 1)]
    # Marking runs in worker threads: the event loop keeps answering while images wait or are signed.
    assert p99_ping < median_image, (p99_ping, median_image, len(latencies))


def test_saturation_answers_503_with_retry_after(png_file: Path) -> None:
    config = make_config(workers=1, max_queue=0)
    app = build_app(config, png_file)
    count = 24
    for n in range(count):
        image_bytes(("png", "jpeg", "webp")[n % 3], seed=n)

    async def burst(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.get(f"/images/gen/{n}") for n in range(count)))

    with serve(app, log_config=None) as base:
        responses = asyncio.run(burst(base))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses and 503 in statuses, statuses
        for n, response in enumerate(responses):
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                assert_problem(response, 503)
            else:
                assert_marked(response, config, FORMATS[("png", "jpeg", "webp")[n % 3]][1])
        # Once the burst is over, the service is free again.
        with httpx.Client(base_url=base, timeout=30) as client:
            assert_marked(client.get("/images/gen/1"), config, "image/jpeg")
    assert app.images is not None and app.images.waiting == 0


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    # uvicorn's loggers do not propagate to the root logger caplog listens on: attach its handler directly
    # (the servers run with log_config=None, or uvicorn would replace the handlers of uvicorn.error).
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(caplog.handler)
    try:
        yield caplog.records
    finally:
        logger.removeHandler(caplog.handler)


def test_client_disconnects_do_not_break_the_server(png_file: Path, server_errors: list[logging.LogRecord]) -> None:
    config = make_config()
    app = build_app(config, png_file)
    with serve(app, log_config=None) as base:
        # 1. Gone while the app is still streaming the image body.
        sock = raw_get(base, "/images/stream?chunk=2000&delay=0.01")
        time.sleep(0.03)
        sock.close()
        # 2. Gone before the marked image is ready (marking takes tens of milliseconds).
        sock = raw_get(base, "/images/gen/0")
        sock.close()
        # 3. Gone after reading part of the marked response.
        sock = raw_get(base, "/images/bytes/webp")
        sock.recv(100)
        sock.close()
        time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert_marked(client.get("/images/bytes/png"), config, "image/png")
            assert client.get("/ping").text == "pong"
        deadline = time.monotonic() + 5
        while app.images is not None and app.images.waiting and time.monotonic() < deadline:
            time.sleep(0.02)
    assert app.images is not None and app.images.waiting == 0  # no slot leaked
    errors = [r for r in server_errors if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
