from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace
from typing import Any

import http_sf
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.disclosure import (
    MEASURE_BANNER,
    MEASURE_EVENT_STREAM,
    MEASURE_IMAGES,
    MEASURE_JSON_BODY,
    MEASURE_TEXT_C2PA,
    Disclosure,
    i18n,
)
from aiact_transparency.disclosure import disclosure as disclosure_module

pytestmark = pytest.mark.anyio


def make_app(config: TransparencyConfig, endpoint: Any = None) -> TransparencyMiddleware:
    async def default(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [Route("/{path:path}", endpoint or default, methods=["GET", "HEAD", "POST"])]
    return TransparencyMiddleware(Starlette(routes=routes), config=config)


async def get(app: Any, path: str = "/", method: str = "GET", **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


async def test_header_is_a_valid_rfc9651_dictionary(config: TransparencyConfig) -> None:
    before = int(time.time())
    response = await get(make_app(config), "/api")
    parsed = http_sf.parse(response.headers["ai-disclosure"].encode(), tltype="dictionary")
    assert parsed["mode"][0] == http_sf.Token("ai-originated")
    assert parsed["model"][0] == "acme/studio-xl"
    assert parsed["provider"][0] == "Acme GmbH"
    assert before <= parsed["date"][0].timestamp() <= time.time() + 1
    assert all(params == {} for _, params in parsed.values()), "members must not turn into parameters"
    assert response.json() == {"ok": True}


async def test_reviewed_by_and_escaping_survive_a_real_parser() -> None:
    config = TransparencyConfig(
        system={"provider": 'Say "hi" \\ GmbH'}, model={"name": "m"}, disclosure={"reviewed_by": "Desk A"}
    )
    response = await get(make_app(config))
    parsed = http_sf.parse(response.headers["ai-disclosure"].encode(), tltype="dictionary")
    assert parsed["provider"][0] == 'Say "hi" \\ GmbH'
    assert parsed["reviewed-by"][0] == "Desk A"
    assert list(parsed) == ["mode", "model", "provider", "reviewed-by", "date"]


async def test_link_is_appended_to_existing_values(config: TransparencyConfig) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("x", headers={"Link": '</style.css>; rel="preload"'})

    response = await get(make_app(config, endpoint))
    links = response.headers.get_list("link")
    assert links == ['</style.css>; rel="preload"', '</.well-known/ai-disclosure>; rel="describedby"']


async def test_app_set_disclosure_wins(config: TransparencyConfig) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("x", headers={"AI-Disclosure": "mode=machine-generated"})

    response = await get(make_app(config, endpoint))
    assert response.headers.get_list("ai-disclosure") == ["mode=machine-generated"]


async def test_route_rules_first_match_wins() -> None:
    config = TransparencyConfig(
        disclosure={"routes": [{"path": "/health", "mode": "none"}, {"path": "/h*", "mode": "ai-modified"}]}
    )
    app = make_app(config)
    assert (await get(app, "/health")).headers["ai-disclosure"].startswith("mode=none, date=@")
    assert (await get(app, "/hello")).headers["ai-disclosure"].startswith("mode=ai-modified, ")
    assert (await get(app, "/other")).headers["ai-disclosure"].startswith("mode=ai-originated, ")


@pytest.mark.parametrize("method", ["HEAD", "POST"])
async def test_every_method_gets_headers(config: TransparencyConfig, method: str) -> None:
    response = await get(make_app(config), "/x", method=method)
    assert "ai-disclosure" in response.headers
    assert response.headers["link"].endswith('rel="describedby"')


async def test_error_responses_get_headers_too(config: TransparencyConfig) -> None:
    app = TransparencyMiddleware(Starlette(routes=[]), config=config)
    response = await get(app, "/missing")
    assert response.status_code == 404
    assert "ai-disclosure" in response.headers


async def test_non_http_scopes_pass_through(config: TransparencyConfig) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = TransparencyMiddleware(app, config=config)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "websocket", "path": "/ws"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]


async def test_raw_asgi_header_tuples_are_accepted(config: TransparencyConfig) -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": ((b"content-type", b"text/plain"),)})
        await send({"type": "http.response.body", "body": b"hi"})

    async def send(message: Any) -> None:
        sent.append(message)

    await TransparencyMiddleware(app, config=config)(
        {"type": "http", "method": "GET", "path": "/", "headers": []}, None, send
    )  # type: ignore[arg-type]
    names = [name for name, _ in sent[0]["headers"]]
    assert names == [b"content-type", b"ai-disclosure", b"link"]
    assert sent[1]["body"] == b"hi"


# -- the app's own header list is never changed ----------------------------------------------------------------


@pytest.mark.parametrize("banner", [False, True], ids=["headers-only", "banner-route"])
async def test_a_reused_response_object_is_not_changed(banner: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # A module-level response object is sent again for every request, with the same raw_headers list: changing
    # that list in place added one more Link per request and kept the first request's AI-Disclosure date.
    # Without banner, SSE notice and media marking no route changes bodies: the headers-only path.
    config = TransparencyConfig(
        system={"provider": "Acme GmbH"},
        banner={"enabled": banner},
        disclosure={"event_stream": banner},
        images={"enabled": banner},
        audio={"enabled": banner},
        video={"enabled": banner},
    )
    assert Disclosure(config).policy_for("/text").changes_body is banner
    shared_text = PlainTextResponse("pong", headers={"ETag": '"t1"'})
    shared_page = HTMLResponse("<html><body><p>hi</p></body></html>", headers={"ETag": '"p1"'})
    originals = (list(shared_text.raw_headers), list(shared_page.raw_headers))

    async def endpoint(request: Request) -> Response:
        return shared_page if request.url.path == "/page" else shared_text

    app = make_app(config, endpoint)
    clock = iter([1_800_000_000.0, 1_800_000_100.0, 1_800_000_200.0, 1_800_000_300.0])
    # Only the middleware's clock moves on (patching time.time itself would move every library's clock).
    monkeypatch.setattr(disclosure_module, "time", SimpleNamespace(time=lambda: next(clock)))
    dates: list[Any] = []
    for path in ("/text", "/text", "/page", "/page"):
        response = await get(app, path)
        assert response.headers.get_list("link") == ['</.well-known/ai-disclosure>; rel="describedby"']
        assert len(response.headers.get_list("ai-disclosure")) == 1
        dates.append(http_sf.parse(response.headers["ai-disclosure"].encode(), tltype="dictionary")["date"][0])
    assert len(set(dates)) == 4, dates  # every response has its own date
    assert (shared_text.raw_headers, shared_page.raw_headers) == originals


# -- what is derived once and remembered ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["banner", "json_body", "event_stream", "images", "text_c2pa"])
def test_route_policy_measures_follow_its_flags_also_after_replace(field: str) -> None:
    # The middleware tests a response's type against these bits instead of the flags: they must agree, also for
    # the copies dataclasses.replace makes (images routes).
    bits = {"banner": MEASURE_BANNER, "json_body": MEASURE_JSON_BODY, "event_stream": MEASURE_EVENT_STREAM,
            "images": MEASURE_IMAGES, "text_c2pa": MEASURE_TEXT_C2PA}  # fmt: skip
    config = TransparencyConfig(system={"provider": "Acme GmbH"}, banner={"enabled": False},
                                disclosure={"event_stream": False}, images={"enabled": False})  # fmt: skip
    none = Disclosure(config).default_policy
    assert none.measures == 0 and not none.changes_body
    one = dataclasses.replace(none, **{field: True})
    assert one.measures == bits[field] and one.changes_body
    assert dataclasses.replace(one, **{field: False}).measures == 0


def test_negotiated_languages_are_remembered_within_bounds() -> None:
    disclosure = Disclosure(TransparencyConfig(system={"provider": "Acme GmbH"}))
    values = [f"xx-{i},de;q=0.{i % 9 + 1},fr;q=0.5" for i in range(3000)] + ["de-AT", "x" * 300 + ",de", None]
    for value in values * 2:
        assert disclosure.negotiate(value) == i18n.negotiate(value, disclosure.languages, disclosure.default_language)
    assert 0 < len(disclosure._negotiated) <= disclosure_module._CACHED_ACCEPT_LANGUAGES


def test_the_date_member_follows_the_clock_also_backwards(monkeypatch: pytest.MonkeyPatch) -> None:
    # The value is cached for the current second; a clock set back (NTP) must not keep a later second's date.
    disclosure = Disclosure(TransparencyConfig(system={"provider": "Acme GmbH"}))
    clock = iter([1_800_000_000.2, 1_800_000_000.9, 1_799_999_999.5, 1_800_000_001.0])
    monkeypatch.setattr(disclosure_module, "time", SimpleNamespace(time=lambda: next(clock)))
    dates = [
        http_sf.parse(disclosure.header_value(disclosure.default_policy), tltype="dictionary")["date"][0]
        for _ in range(4)
    ]
    assert [int(d.timestamp()) for d in dates] == [1_800_000_000, 1_800_000_000, 1_799_999_999, 1_800_000_001]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("content_type", [b"application/json", b"text/html; charset=utf-8"])
async def test_an_app_that_sends_one_start_message_object_every_time_gets_the_headers_once(
    method: str, content_type: bytes, config: TransparencyConfig
) -> None:
    # A module-level constant message, as hand-written ASGI apps have: the middleware must not add to it.
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}
    body = b"<!DOCTYPE html><html><head></head><body><p>hi</p></body></html>"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    middleware = TransparencyMiddleware(app, config=config)
    for _ in range(3):
        response = await get(middleware, "/", method=method)
        assert len(response.headers.get_list("ai-disclosure")) == 1
        assert len(response.headers.get_list("link")) == 1
    assert start["headers"] == [(b"content-type", content_type)]
