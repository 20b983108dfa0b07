"""The apps bench_wrk.py serves under uvicorn: one Starlette app, bare and wrapped two ways.

    uvicorn --app-dir bench apps:bare | apps:wrapped | apps:basehttp | apps:floor

`wrapped` uses the embedded default config (banner, event-stream notice and image routes all on), so /json
takes the same body-watching path a real deployment does. `basehttp` is the comparison the issue measured:
Starlette's BaseHTTPMiddleware adding a single header, i.e. the least such a middleware can do. `floor` is the
least any middleware can cost: the bare app sending, from its own routes, the bytes the wrapped side sends (the
two header fields, and on the page Vary plus the banner already in it), so the server parses, validates and
writes the same response; what the wrapped side costs beyond it is the middleware's own work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from bench_wrk import ACCEPT_LANGUAGE  # what the load sends: the floor's page carries the banner picked for it
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.asgi.html_scanner import HtmlInjector
from aiact_transparency.config import ModelConfig, SystemConfig
from aiact_transparency.disclosure import Disclosure

SSE_EVENTS = 20


def _page(size: int = 20 * 1024) -> bytes:
    # A rendered template's shape: a real <head>, then a long body; sent whole with Content-Length, as
    # template responses are, so the wrapped side has to inject and fix the length.
    head = (
        b"<!DOCTYPE html>\n<html lang='en'>\n<head><meta charset='utf-8'>"
        b"<meta name='viewport' content='width=device-width, initial-scale=1'><title>Bench</title>"
        b"<link rel='stylesheet' href='/static/app.css'></head>\n<body class='app'>\n"
    )
    tail = b"</main>\n</body>\n</html>\n"
    para = b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n"
    body = b"<main>\n" + para * ((size - len(head) - len(tail)) // len(para) + 1)
    return head + body[: size - len(head) - len(tail)] + tail


PAGE = _page()


async def json_route(request: Request) -> Response:
    return JSONResponse({"answer": 42, "tokens": ["a", "b"], "model": "bench/model"})


async def html_route(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def sse_route(request: Request) -> Response:
    async def events() -> AsyncIterator[bytes]:
        for i in range(SSE_EVENTS):
            yield b'data: {"i": %d, "token": "word"}\n\n' % i

    return StreamingResponse(events(), media_type="text/event-stream")


def build_app() -> Starlette:
    return Starlette(routes=[Route("/json", json_route), Route("/html", html_route), Route("/sse", sse_route)])


class OneHeader(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["AI-Disclosure"] = "mode=ai-originated"
        return response


# Typed sections rather than plain dicts only for mypy; the same embedded default config as bench_middleware.
CONFIG = TransparencyConfig(
    system=SystemConfig(name="Bench", provider="Bench GmbH"), model=ModelConfig(id="bench/model")
)


def build_floor() -> Starlette:
    """The bare app with the wrapped side's response bytes built in: the same responses, plus the header field
    lines (fixed at start-up: the date member has the same length all day) appended to Starlette's raw list,
    the least Python work adding them can take; the page has the banner in it already."""
    disclosure = Disclosure(CONFIG)
    fields = disclosure.header_fields(disclosure.default_policy)
    injector = HtmlInjector(head_snippet=disclosure.meta_tag, body_snippet=disclosure.styled_banner(ACCEPT_LANGUAGE))
    page = injector.feed(PAGE) + injector.finish()
    page_fields = [*fields, (b"vary", b"Accept-Language")]

    async def floor_json(request: Request) -> Response:
        response = await json_route(request)
        response.raw_headers.extend(fields)
        return response

    async def floor_html(request: Request) -> Response:
        response = HTMLResponse(page)
        response.raw_headers.extend(page_fields)
        return response

    async def floor_sse(request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield disclosure.event_stream_notice
            for i in range(SSE_EVENTS):
                yield b'data: {"i": %d, "token": "word"}\n\n' % i

        response = StreamingResponse(events(), media_type="text/event-stream")
        response.raw_headers.extend(fields)
        return response

    return Starlette(routes=[Route("/json", floor_json), Route("/html", floor_html), Route("/sse", floor_sse)])


# Separate app instances (not one shared router) so each server imports exactly what it measures.
bare = build_app()
wrapped = TransparencyMiddleware(build_app(), config=CONFIG)
basehttp = OneHeader(build_app())
floor = build_floor()
