"""Edges of the decode-rewrite-encode path (responders/coded.py, content_coding.py) behind real Starlette apps:
a large body re-encoded without holding the event loop, digests of the app's bytes removed, zero padding after
a gzip member and an empty gzip body."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import zlib
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.asgi.responders import coded
from aiact_transparency.asgi.responders.content_coding import ContentDecodingError, Decoder

from ..samples import image_bytes
from .test_coded_responses import PAGE, assert_one_banner, fetch_raw, our_warnings
from .test_media_content_coding import assert_marked_png

pytestmark = pytest.mark.anyio


def config(**disclosure: Any) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme", "provider": "Acme GmbH"}, disclosure=disclosure,
                              images={"routes": ["/images/*"]})


class CompressorSpy:
    """zlib as coded.py uses it, each compress() call's input size recorded with the ticker's count then."""

    def __init__(self, ticks: list[int]) -> None:
        self.calls: list[tuple[int, int]] = []  # (bytes given, ticks so far)
        self._ticks = ticks

    def __getattr__(self, name: str) -> Any:
        return getattr(zlib, name)

    def compressobj(self, *args: Any) -> Any:
        real = zlib.compressobj(*args)
        spy = self

        class Wrapped:
            def compress(self, data: Any) -> bytes:
                spy.calls.append((len(data), spy._ticks[0]))
                return real.compress(data)

            def flush(self, mode: int = zlib.Z_FINISH) -> bytes:
                return real.flush(mode)

        return Wrapped()


async def test_a_large_json_body_is_encoded_again_in_pieces_between_which_the_loop_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The JSON responder sends the whole body at once (1.3 MB here, up to 4 MiB): compressed in one call, it held
    # the event loop for 220-350 ms at 4 MiB.
    payload = {"items": [f"generated answer {i} " * 3 for i in range(20000)]}

    async def api(request: Request) -> Response:
        return JSONResponse(payload)

    app = TransparencyMiddleware(GZipMiddleware(Starlette(routes=[Route("/api", api)])), config=config(json=True))
    ticks = [0]
    spy = CompressorSpy(ticks)
    monkeypatch.setattr(coded, "zlib", spy)

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        response, raw = await fetch_raw(app, "/api")
        tasks.cancel_scope.cancel()
    body = json.loads(gzip.decompress(raw))
    assert body["items"] == payload["items"] and body["ai_disclosure"]["ai_generated"] is True
    sizes = [size for size, _ in spy.calls]
    assert sum(sizes) > 8 * coded._PIECE and max(sizes) <= coded._PIECE
    seen = [tick for _, tick in spy.calls]
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))  # the loop ran between
    assert response.headers["content-length"] == str(len(raw))


# -- two Content-Encoding field lines: one list of codings, applied in order (RFC 9110 §5.3, §8.4)


def two_lines_app(body: bytes, media_type: str, path: str) -> Starlette:
    async def endpoint(request: Request) -> Response:
        response = Response(body, media_type=media_type)
        response.raw_headers += [(b"content-encoding", b"gzip"), (b"content-encoding", b"gzip")]
        return response

    return Starlette(routes=[Route(path, endpoint)])


async def test_a_page_gzipped_twice_on_two_field_lines_passes_with_its_gap_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Only the last line was read: the page was decoded once, the inner gzip member found no <body> (an INFO),
    # and the response re-encoded once under two `gzip` lines (undone twice by the client: garbage).
    twice = gzip.compress(gzip.compress(PAGE.encode()))
    app = TransparencyMiddleware(two_lines_app(twice, "text/html", "/page"), config=config())
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(app, "/page")
    assert raw == twice and response.headers.get_list("content-encoding") == ["gzip", "gzip"]
    assert our_warnings(caplog) == [
        "AI banner not inserted in '/page': the body is Content-Encoding: gzip, gzip; compress outside "
        "TransparencyMiddleware"
    ]


async def test_an_image_gzipped_twice_on_two_field_lines_is_decoded_twice_and_marked() -> None:
    png = image_bytes("png")
    app = TransparencyMiddleware(two_lines_app(gzip.compress(gzip.compress(png)), "image/png", "/images/x.png"),
                                 config=config())
    response, raw = await fetch_raw(app, "/images/x.png")
    assert response.status_code == 200 and "content-encoding" not in response.headers  # it was a 500
    assert_marked_png(response, raw, app.config)


DIGESTS = {"Content-Digest": "sha-256=:AAAA:", "Repr-Digest": "sha-256=:BBBB:",
           "Content-MD5": "Q2hlY2sgSW50ZWdyaXR5IQ==", "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="}


@pytest.mark.parametrize("path", ["/page", "/api"])  # the body changed (a banner), and a JSON array unchanged
async def test_digests_of_the_apps_bytes_are_removed_when_they_are_encoded_again(path: str) -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers=DIGESTS)

    async def api(request: Request) -> Response:
        return JSONResponse([1, 2, 3], headers=DIGESTS)  # not an object: no member, the same JSON re-encoded

    inner = Starlette(routes=[Route("/page", page), Route("/api", api)])
    app = TransparencyMiddleware(GZipMiddleware(inner, minimum_size=1), config=config(json=True))
    response, raw = await fetch_raw(app, path)
    assert response.headers["content-encoding"] == "gzip" and gzip.decompress(raw)
    assert not {name.lower() for name in DIGESTS} & set(response.headers)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=inner), base_url="http://t") as client:
        assert {name.lower() for name in DIGESTS} <= set((await client.get(path)).headers)  # the app's were there


# -- what gzip -d accepts: NUL padding after the last member; and an empty body


def encoded_page_app(body: bytes) -> TransparencyMiddleware:
    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html", headers={"Content-Encoding": "gzip"})

    return TransparencyMiddleware(Starlette(routes=[Route("/page", page)]), config=config())


async def test_a_gzip_page_padded_with_nul_bytes_gets_its_banner(caplog: pytest.LogCaptureFixture) -> None:
    # It passed without its banner, as "corrupt" (a warning); gzip -d decodes it ("trailing zero bytes ignored").
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(encoded_page_app(gzip.compress(PAGE.encode()) + bytes(512)), "/page")
    assert response.headers["content-encoding"] == "gzip"
    assert_one_banner(gzip.decompress(raw)) and not our_warnings(caplog)


async def test_an_empty_gzip_body_stays_empty(caplog: pytest.LogCaptureFixture) -> None:
    # It was "truncated" (a warning, the app's bytes passed).
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response, raw = await fetch_raw(encoded_page_app(b""), "/page")
    assert response.status_code == 200 and raw == b"" and response.headers["content-length"] == "0"
    assert not our_warnings(caplog)


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_the_decoder_ignores_nul_padding_after_gzip_members_split_anywhere(step: int) -> None:
    data = PAGE.encode()
    encoded = gzip.compress(data[:500]) + gzip.compress(data[500:]) + bytes(100)
    decoder = Decoder("gzip")
    out = b"".join(decoder.feed(encoded[i:i + step], 1 << 20) for i in range(0, len(encoded), step))
    decoder.finish()
    assert out == data


@pytest.mark.parametrize("after", [b"\0\0x", b"\0" + gzip.compress(b"more")])
def test_the_decoder_refuses_anything_after_the_padding(after: bytes) -> None:
    decoder = Decoder("gzip")
    with pytest.raises(ContentDecodingError, match="gzip data has bytes after its end"):
        decoder.feed(gzip.compress(b"x") + after, 100)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_an_empty_input_is_empty_and_padding_alone_is_not(coding: str) -> None:
    decoder = Decoder(coding)
    assert decoder.feed(b"", 100) == b""
    decoder.finish()
    with pytest.raises(ContentDecodingError, match="corrupt"):  # NUL bytes with no member before them
        Decoder("gzip").feed(bytes(8), 100)
