"""In-process cost of TransparencyMiddleware, side by side with the bare app in the same run.

Goals (issue 17): headers-only responses (JSON) <= 1.5 us added per request over a bare Starlette app; an
HTML page of 20 KB whose <body> is in the first KB <= 8 us added, and a 100 KB page streamed in 16 chunks
<= 2x that; (issue 2) event streams <= 0.5 us added per chunk. A do-nothing pure ASGI wrapper is timed too:
the least any middleware costs.

Interleaved rounds, medians of the per-round differences. Time is this process's CPU time
(time.process_time_ns), not the wall clock: on a shared machine the wall clock also counts the time other
processes ran, which changes from one round to the next; CPU time counts only the work done here.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from typing import Any

from apps import PAGE as PAGE_20K
from apps import html_route
from results import record
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

PAGE = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Bench</title></head><body class='x'>"
    + b"<p>"
    + b"lorem ipsum dolor sit amet " * 3700
    + b"</p></body></html>"
)[: 100 * 1024]
SSE_CHUNKS = 200
JSON_GOAL_US = 1.5
HTML_GOAL_US = 8.0


async def _json(request: Request) -> Response:
    return JSONResponse({"answer": 42, "tokens": ["a", "b"]})


_FRESH = itertools.count()


async def _fresh_page(request: Request) -> Response:
    # The 20 KB page with a head never served before (a per-request token in it, as CSRF-protected pages have):
    # no whole-head HeadCache hit, the first-chunk match every time, from the start the heads share (the bytes
    # before the token). Both sides build the page, so the copy cancels out.
    return HTMLResponse(PAGE_20K.replace(b"<title>Bench</title>", b"<title>Bench %08d</title>" % next(_FRESH), 1))


async def _unshared_page(request: Request) -> Response:
    # The same with the token in the <html> tag: the heads share too little (the DOCTYPE) to keep a start, so
    # the first-chunk match reads the whole head every time.
    token = b"<html lang='en' data-n='%08d'>" % next(_FRESH)
    return HTMLResponse(PAGE_20K.replace(b"<html lang='en'>", token, 1))


async def _html(request: Request) -> Response:
    async def chunks() -> Any:
        step = len(PAGE) // 16 + 1
        for i in range(0, len(PAGE), step):
            yield PAGE[i : i + step]

    return StreamingResponse(chunks(), media_type="text/html")


async def _sse(request: Request) -> Response:
    async def events() -> Any:
        for i in range(SSE_CHUNKS):
            yield b'data: {"i": %d}\n\n' % i

    return StreamingResponse(events(), media_type="text/event-stream")


def build() -> dict[str, Any]:
    bare = Starlette(
        routes=[
            Route("/json", _json),
            Route("/html", _html),
            Route("/page", html_route),
            Route("/fresh", _fresh_page),
            Route("/unshared", _unshared_page),
            Route("/sse", _sse),
        ]
    )
    config = TransparencyConfig(system={"name": "Bench", "provider": "Bench GmbH"}, model={"id": "bench/model"})

    async def do_nothing(scope: Any, receive: Any, send: Any) -> None:
        async def passing(message: Any) -> None:
            await send(message)

        await bare(scope, receive, passing)

    return {"bare": bare, "do-nothing": do_nothing, "wrapped": TransparencyMiddleware(bare, config=config)}


def scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"accept-language", b"de-DE,de;q=0.9,en;q=0.8")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def timed(app: Any, path: str, n: int) -> float:
    """CPU microseconds per request, over n requests."""
    s = scope(path)
    start = time.process_time_ns()
    for _ in range(n):
        await app(dict(s), receive, send)
    return (time.process_time_ns() - start) / n / 1000


async def compare(path: str, n: int, rounds: int = 21) -> tuple[float, dict[str, float]]:
    """The bare app's median, and each side's median per-round difference to it."""
    sides = build()
    for app in sides.values():  # warm-up: imports, caches
        await timed(app, path, n)
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, app in sides.items():
            runs[name].append(await timed(app, path, n))
    added = {
        name: statistics.median(t - b for t, b in zip(runs[name], runs["bare"], strict=True))
        for name in sides
        if name != "bare"
    }
    return statistics.median(runs["bare"]), added


def report(name: str, bare: float, added: dict[str, float], per: int = 1, goal: float | None = None) -> float:
    unit = "per chunk" if per > 1 else "per request"
    wrapped = added["wrapped"] / per
    print(
        f"{name:<36} bare {bare:8.2f} us  do-nothing wrapper +{added['do-nothing'] / per:5.2f} us"
        f"  wrapped +{wrapped:6.2f} us {unit}" + (f"  goal <= {goal:g} us" if goal is not None else "")
    )
    return wrapped


async def main() -> None:
    print("In-process middleware cost, CPU time (median of interleaved rounds' differences to the bare app)")
    baseline = "bare {:.1f} us; a do-nothing ASGI wrapper adds {:.2f} us"
    bare, added = await compare("/json", 2000)
    wrapped = report("JSON (headers only)", bare, added, goal=JSON_GOAL_US)
    record("headers only (JSON): added in-process", wrapped, "us/request", goal=f"<= {JSON_GOAL_US:g} us",
           baseline=baseline.format(bare, added["do-nothing"]), passed=wrapped <= JSON_GOAL_US, issue="17")
    body_at = PAGE_20K.index(b"<body")
    bare, added = await compare("/page", 1000)
    wrapped = report(f"HTML 20 KB, <body> at byte {body_at}", bare, added, goal=HTML_GOAL_US)
    record(f"HTML 20 KB page (<body> at byte {body_at}): added in-process", wrapped, "us/request",
           goal=f"<= {HTML_GOAL_US:g} us", baseline=baseline.format(bare, added["do-nothing"]),
           passed=wrapped <= HTML_GOAL_US, issue="17")  # fmt: skip
    bare, added = await compare("/fresh", 1000)
    wrapped = report("HTML 20 KB, head never seen before", bare, added, goal=HTML_GOAL_US)
    record("HTML 20 KB page, head never seen before (a token in its <title>): added in-process", wrapped, "us/request",
           goal=f"<= {HTML_GOAL_US:g} us", baseline=baseline.format(bare, added["do-nothing"]),
           passed=wrapped <= HTML_GOAL_US, issue="17")  # fmt: skip
    bare, added = await compare("/unshared", 1000)
    wrapped = report("HTML 20 KB, head shares no start", bare, added, goal=HTML_GOAL_US)
    record("HTML 20 KB page, new head sharing no start with earlier ones (the whole head matched): added in-process",
           wrapped, "us/request", goal="(context)", baseline=baseline.format(bare, added["do-nothing"]),
           passed=None, issue="17")  # fmt: skip
    bare, added = await compare("/html", 200)
    wrapped = report("HTML 100 KB, 16 chunks", bare, added, goal=2 * HTML_GOAL_US)
    record("HTML 100 KB page in 16 chunks: added in-process", wrapped, "us/request",
           goal=f"<= {2 * HTML_GOAL_US:g} us (2x the 20 KB goal)", baseline=baseline.format(bare, added["do-nothing"]),
           passed=wrapped <= 2 * HTML_GOAL_US, issue="17")  # fmt: skip
    bare, added = await compare("/sse", 50)
    wrapped = report(f"SSE {SSE_CHUNKS} chunks", bare, added, per=SSE_CHUNKS, goal=0.5)
    record("event stream: added per chunk in-process", wrapped, "us/chunk", goal="<= 0.5 us",
           baseline=f"bare {bare / SSE_CHUNKS:.2f} us/chunk", passed=wrapped <= 0.5, issue="2")


if __name__ == "__main__":
    asyncio.run(main())
