"""A banner that cannot be inserted is a compliance gap: a WARNING, once per route, never silence."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

from ..tools import require_module

pytestmark = pytest.mark.anyio
brotli = require_module("brotli")

LONG_HEAD = "<html><head>" + "<meta name='x' content='y'>" * 1000 + "</head><body><p>hi</p></body></html>"
FRAGMENT = "<p>fragment for htmx</p>"


@pytest.fixture
def config() -> TransparencyConfig:
    # Images only under /images (on media routes the app sees Accept-Encoding too: the same gaps)
    return TransparencyConfig(system={"provider": "Acme GmbH"}, images={"routes": ["/images/*"]})


def app_for(config: TransparencyConfig, *, coding: str | None = None) -> TransparencyMiddleware:
    async def endpoint(request: Request) -> Response:
        page = {"long": LONG_HEAD, "fragment": FRAGMENT}.get(request.path_params["kind"], LONG_HEAD)
        if coding == "br":  # a coding the middleware cannot decode: the body stays as it is
            return Response(brotli.compress(page.encode()), media_type="text/html", headers={"Content-Encoding": "br"})
        return HTMLResponse(page)

    inner: Any = Starlette(routes=[Route("/{kind}/{n}", endpoint)])
    if coding == "gzip":  # compression inside the middleware: the body arrives encoded, and is decoded
        inner = GZipMiddleware(inner, minimum_size=1)
    return TransparencyMiddleware(inner, config=config)


async def fetch_all(app: Any, paths: list[str], **headers: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return [await client.get(path, headers=headers) for path in paths]


def gap_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "aiact_transparency" and "banner not inserted" in r.getMessage()
    ]


@pytest.mark.parametrize("coding", [None, "gzip", "br"], ids=["head-over-lookahead", "gzip-decoded", "br-encoded"])
async def test_a_missing_banner_is_a_warning_once_per_route(
    coding: str | None, config: TransparencyConfig, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(config, coding=coding)
    with caplog.at_level(logging.INFO, logger="aiact_transparency"):
        responses = await fetch_all(app, ["/long/1", "/long/1", "/long/1", "/long/2"], **{"Accept-Encoding": "gzip"})
    assert all(r.status_code == 200 and "aiact-disclosure" not in r.text for r in responses)
    assert all(r.headers.get("content-encoding") == coding for r in responses)
    warnings = gap_warnings(caplog)
    assert len(warnings) == 2, warnings  # one per route, not one per response
    assert "/long/1" in warnings[0] and "/long/2" in warnings[1]
    # A gzip page is decoded: its gap is the page's own (the head is too long), as without compression.
    fix = "Content-Encoding: br; compress outside TransparencyMiddleware"
    assert (fix if coding == "br" else "lookahead") in warnings[0]


async def test_a_fragment_without_body_is_not_a_warning(
    config: TransparencyConfig, caplog: pytest.LogCaptureFixture
) -> None:
    # htmx-style fragments land inside a page that has the banner: no gap, so no warning.
    with caplog.at_level(logging.INFO, logger="aiact_transparency"):
        (response,) = await fetch_all(app_for(config), ["/fragment/1"])
    assert response.text == FRAGMENT
    assert gap_warnings(caplog) == []
