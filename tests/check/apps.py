"""The correct demo and the deliberately broken apps: real Starlette apps, most behind the real
TransparencyMiddleware, each broken in exactly one way."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import ASGIApp, Message, Receive, Scope, Send

from .detector_stub import detector_route

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example"}
LANGUAGES = ("fr", "de", "pl")
PAGES = tuple(f"/page/{i}" for i in range(10))
MEDIA = tuple(f"/images/{i}.png" for i in range(5))
STREAM = "/v1/chat"
STREAM_BODY = {"stream": True, "messages": [{"role": "user", "content": "hi"}]}


def config(**changes: Any) -> TransparencyConfig:
    images = {"routes": ["/images/*"], "visible_label": True, **changes.pop("images", {})}
    return TransparencyConfig(system=SYSTEM, model={"id": "acme/studio-xl"}, images=images, **changes)


def page_html(title: str, before_body: str = "", inside: str = "", top: str = "") -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>{before_body}"
            f"</head><body>{top}<main><h1>{title}</h1><p>Ask the assistant anything.</p>{inside}</main></body></html>")


@cache
def picture_png(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([128 + 90 * np.sin(x / 19.0 + seed) * np.cos(y / 27.0), 40 + 160 * (x + y) / (width + height),
                    128 + 80 * np.cos((x - y) / 13.0 + seed)], axis=-1)
    rgb += np.random.default_rng(seed).normal(0, 3, rgb.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(out, "PNG")
    return out.getvalue()


async def _events(first: str | None) -> AsyncIterator[bytes]:
    if first is not None:
        yield first.encode()
    for word in ("Hello", " there", "!"):
        await asyncio.sleep(0.02)
        yield f"data: {json.dumps({'delta': word})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def inner_app(*, head: str = "", body: str = "", top: str = "", stream_first: str | None = None,
              signed: bool | None = None, extra: list[Route] | None = None) -> Starlette:
    """`signed`: add the stand-in detector of detector_stub.py (signed=False: one that ignores the request for a
    signed result); by default the middleware's own detector answers at the detection path."""
    async def page(request: Request) -> Response:
        return HTMLResponse(page_html(f"Page {request.path_params.get('n', 0)}", head, body, top))

    async def stream(request: Request) -> Response:
        await request.body()
        return StreamingResponse(_events(stream_first), media_type="text/event-stream")

    async def image(request: Request) -> Response:
        return Response(picture_png(int(request.path_params["n"])), media_type="image/png")

    routes = [*(extra or []), Route("/", page), Route("/page/{n:int}", page), Route(STREAM, stream, methods=["POST"]),
              Route("/images/{n:int}.png", image)]
    if signed is not None:
        routes.append(detector_route(signed=signed))
    return Starlette(routes=routes)


def with_cors(app: ASGIApp) -> ASGIApp:
    return CORSMiddleware(app, allow_origins=["*"], expose_headers=["AI-Disclosure", "Link"])


def demo(**changes: Any) -> ASGIApp:
    """The correct demo: the real middleware over HTML pages, an SSE stream, images it marks, and the detector
    it serves."""
    app_keys = ("head", "body", "top", "stream_first", "signed", "extra")
    app_options = {k: changes.pop(k) for k in app_keys if k in changes}
    return with_cors(TransparencyMiddleware(inner_app(**app_options), config=config(**changes)))


def fixed_header(app: ASGIApp, value: bytes) -> ASGIApp:
    """Sets AI-Disclosure on every response of the inner app, as a vendor's own code would."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"ai-disclosure", value)]
            await send(message)

        await app(scope, receive, send_with)

    return wrapped


def with_inner(wrap: Callable[[ASGIApp], ASGIApp], **changes: Any) -> ASGIApp:
    return with_cors(TransparencyMiddleware(wrap(inner_app()), config=config(**changes)))


def discovery_without_provider() -> ASGIApp:
    """The app serves its own discovery document (the middleware's moved aside), lacking the provider."""
    document = {"system": {"name": "Acme Studio", "contact": "mailto:ai@acme.example"},
                "model": {"id": "acme/studio-xl"}}

    async def discovery(request: Request) -> Response:
        return JSONResponse(document)

    inner = inner_app(extra=[Route("/.well-known/ai-disclosure", discovery)])
    moved = config(disclosure={"discovery_path": "/.well-known/ai-disclosure-internal"})
    return with_cors(TransparencyMiddleware(inner, config=moved))


def banner_after_content() -> ASGIApp:
    """Another library's banner, placed after 20 KB of the page's content (our banner off)."""
    filler = "".join(f"<p>Paragraph {i}: {'lorem ipsum dolor sit amet ' * 6}</p>" for i in range(120))
    banner = '<aside role="region" aria-label="AI notice">This answer was written by an AI system.</aside>'
    return demo(banner={"enabled": False}, body=filler + banner)


def vendor_app() -> Starlette:
    """Another vendor's deployment, no middleware: an ad-hoc X-AI-Generated header, a banner of its own, no
    discovery document, no detector, and a route that fails with a 500."""
    html = ('<!DOCTYPE html><html lang="de"><head><title>Bot</title></head><body>'
            '<div class="ai-banner" role="alert" aria-label="Hinweis" style="background:#222;color:#eee">'
            "Dieser Chat wird von einer KI beantwortet.</div><main><h1>Bot</h1></main></body></html>")

    async def page(request: Request) -> Response:
        return HTMLResponse(html, headers={"X-AI-Generated": "true"})

    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    async def image(request: Request) -> Response:
        return Response(b"GIF89a not really", media_type="image/gif", headers={"X-AI-Generated": "true"})

    return Starlette(routes=[Route("/", page), Route("/broken", broken), Route("/img", image)])
