"""304 and HEAD answers agree with the 200 they stand for (RFC 9110 §9.3.2, §15.4.5): real StaticFiles, which
answers conditional requests itself, behind the middleware."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify

from ..samples import image_bytes

pytestmark = pytest.mark.anyio

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"
FRAGMENT = "<p>fragment for htmx</p>"


@pytest.fixture
def app(tmp_path: Path) -> TransparencyMiddleware:
    (tmp_path / "page.html").write_text(PAGE)
    (tmp_path / "fragment.html").write_text(FRAGMENT)
    (tmp_path / "picture.png").write_bytes(image_bytes("png"))
    (tmp_path / "style.css").write_text("p { color: teal }")
    # The default images.routes ("*"): every route is an image route and a banner route.
    config = TransparencyConfig(system={"provider": "Acme GmbH"})
    inner = Starlette(routes=[Mount("/static", StaticFiles(directory=tmp_path))])
    return TransparencyMiddleware(inner, config=config)


async def fetch(app: TransparencyMiddleware, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, headers=headers)


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for line in response.headers.get_list("vary") for v in line.split(",")}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_304_of_a_banner_page_has_the_200s_validator_and_vary(method: str, app: TransparencyMiddleware) -> None:
    full = await fetch(app, "/static/page.html")
    assert full.status_code == 200 and "aiact-disclosure" in full.text
    etag = full.headers["etag"]
    assert etag.startswith('W/"') and "accept-language" in vary(full)
    # The client revalidates with the weak tag it got; StaticFiles answers 304 with its own strong one.
    not_modified = await fetch(app, "/static/page.html", method, **{"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    assert "accept-language" in vary(not_modified)
    assert not_modified.headers["ai-disclosure"].startswith("mode=ai-originated")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_304_of_a_marked_image_has_no_strong_validator(method: str, app: TransparencyMiddleware) -> None:
    full = await fetch(app, "/static/picture.png")
    assert verify(full.content).marked and "etag" not in full.headers
    since = full.headers["last-modified"]
    not_modified = await fetch(app, "/static/picture.png", method, **{"If-Modified-Since": since})
    assert not_modified.status_code == 304
    # The app's ETag names the unmarked original's bytes; the 200 sent none, so the 304 may not either.
    assert "etag" not in not_modified.headers
    assert not_modified.headers["cache-control"] == full.headers["cache-control"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_304_of_an_unchanged_asset_keeps_its_validator(method: str, app: TransparencyMiddleware) -> None:
    # StaticFiles' 304 names no Content-Type; the client's If-None-Match shows it holds the app's own strong
    # tag, so the 200 was not changed and its 304 must not be either.
    full = await fetch(app, "/static/style.css")
    etag = full.headers["etag"]
    assert not etag.startswith("W/") and "accept-language" not in vary(full)
    not_modified = await fetch(app, "/static/style.css", method, **{"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    assert "accept-language" not in vary(not_modified)
    assert not_modified.headers.get("cache-control") == full.headers.get("cache-control")


@pytest.mark.parametrize("path", ["/static/page.html", "/static/fragment.html"])
async def test_get_and_head_agree_with_or_without_a_body_tag(path: str, app: TransparencyMiddleware) -> None:
    get, head = await fetch(app, path), await fetch(app, path, "HEAD")
    assert get.status_code == head.status_code == 200 and head.content == b""
    assert get.headers["etag"] == head.headers["etag"]
    assert vary(get) == vary(head)
    assert "content-length" not in head.headers or head.headers["content-length"] == get.headers["content-length"]
