"""Event streams and streamed HTML through a real uvicorn server: nothing is held back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

from ..servers import serve


def streaming_app(config: TransparencyConfig, gate: threading.Event | None = None) -> TransparencyMiddleware:
    async def events() -> AsyncIterator[bytes]:
        yield b'data: {"token": "Hel"}\n\n'
        # Hold the generator open until the test has seen the first event (a thread-safe flag, polled).
        for _ in range(200):
            if gate is None or gate.is_set():
                break
            await asyncio.sleep(0.025)
        yield b'data: {"token": "lo"}\n\n'
        yield b"data: [DONE]\n\n"

    async def chat(request: Request) -> Response:
        return StreamingResponse(events(), media_type="text/event-stream")

    async def page(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"<html><head><title>t</title></head><body><p>first</p>"
            for _ in range(200):
                if gate is None or gate.is_set():
                    break
                await asyncio.sleep(0.025)
            yield b"<p>second</p></body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    return TransparencyMiddleware(Starlette(routes=[Route("/chat", chat), Route("/page", page)]), config=config)


def test_sse_comment_comes_first_and_events_arrive_before_the_generator_ends(config: TransparencyConfig) -> None:
    gate = threading.Event()
    app = streaming_app(config, gate)
    with (
        serve(app) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/chat") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in response.headers
        assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
        received = b""
        chunks = response.iter_raw()
        started = time.monotonic()
        while b'"Hel"' not in received:
            received += next(chunks)
        elapsed = time.monotonic() - started
        # The generator is still parked on the gate (5 s max): the first event got out without it.
        assert elapsed < 4
        first_line = received.split(b"\n", 1)[0]
        assert first_line.startswith(b": AI-Disclosure: ")
        assert b"Acme Studio" in first_line
        gate.set()
        rest = b"".join(chunks)
    whole = received + rest
    assert whole.count(b": AI-Disclosure:") == 1
    assert whole.index(b": AI-Disclosure:") < whole.index(b"data:")
    assert whole.endswith(b'data: {"token": "lo"}\n\ndata: [DONE]\n\n')


def test_sse_is_parsed_by_a_real_sse_client_without_extra_events(config: TransparencyConfig) -> None:
    with serve(streaming_app(config)) as base, httpx.Client(base_url=base) as client:
        text = client.get("/chat").text
    events = [block for block in text.split("\n\n") if block.strip()]
    data_events = [e for e in events if any(line.startswith("data:") for line in e.splitlines())]
    assert len(data_events) == 3
    comments = [e for e in events if e.startswith(":")]
    assert len(comments) == 1 and "data:" not in comments[0]


def test_streamed_html_is_not_held_after_the_body_tag(config: TransparencyConfig) -> None:
    gate = threading.Event()
    with (
        serve(streaming_app(config, gate)) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/page") as response,
    ):
        received = b""
        chunks = response.iter_raw()
        while b"<p>first</p>" not in received:
            received += next(chunks)
        assert b'<body><aside id="aiact-disclosure"' in received
        gate.set()
        received += b"".join(chunks)
    assert received.endswith(b"<p>first</p><p>second</p></body></html>")


def test_disabled_event_stream_notice(config: TransparencyConfig) -> None:
    config = config.model_copy(update={"disclosure": config.disclosure.model_copy(update={"event_stream": False})})
    with serve(streaming_app(config)) as base, httpx.Client(base_url=base) as client:
        text = client.get("/chat").text
    assert text.startswith("data:")
