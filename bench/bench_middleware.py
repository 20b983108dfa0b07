"""In-process cost of TransparencyMiddleware, side by side with the bare app in the same run.

Targets (issue #2): non-HTML responses <= 2 us added per request over a bare Starlette app; a 100 KB HTML
page <= 50 us added; event streams <= 0.5 us added per chunk. Interleaved rounds, medians: the machine is
shared and noisy, so only the differences and ratios measured together mean anything.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

PAGE = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Bench</title></head><body class='x'>"
    + b"<p>"
    + b"lorem ipsum dolor sit amet " * 3700
    + b"</p></body></html>"
)[: 100 * 1024]
SSE_CHUNKS = 200


async def _json(request: Request) -> Response:
    return JSONResponse({"answer": 42, "tokens": ["a", "b"]})


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


def build() -> tuple[Any, Any]:
    bare = Starlette(routes=[Route("/json", _json), Route("/html", _html), Route("/sse", _sse)])
    config = TransparencyConfig(system={"name": "Bench", "provider": "Bench GmbH"}, model={"id": "bench/model"})
    return bare, TransparencyMiddleware(bare, config=config)


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
    s = scope(path)
    start = time.perf_counter_ns()
    for _ in range(n):
        await app(dict(s), receive, send)
    return (time.perf_counter_ns() - start) / n / 1000


async def compare(path: str, n: int, rounds: int = 15) -> tuple[float, float]:
    bare, wrapped = build()
    await timed(bare, path, n)
    await timed(wrapped, path, n)
    bare_t, wrapped_t = [], []
    for _ in range(rounds):
        bare_t.append(await timed(bare, path, n))
        wrapped_t.append(await timed(wrapped, path, n))
    return statistics.median(bare_t), statistics.median(wrapped_t)


def report(name: str, bare: float, wrapped: float, per: int = 1, target: str = "") -> None:
    added = (wrapped - bare) / per
    unit = "per chunk" if per > 1 else "per request"
    print(
        f"{name:<28} bare {bare:8.2f} us  wrapped {wrapped:8.2f} us  added {added:6.2f} us {unit}"
        f"  ratio {wrapped / bare:5.3f}  {target}"
    )


async def main() -> None:
    print("In-process middleware cost (median of interleaved rounds)")
    bare, wrapped = await compare("/json", 2000)
    report("JSON (headers only)", bare, wrapped, target="target: <= 2 us added")
    bare, wrapped = await compare("/html", 200)
    report("HTML 100 KB, 16 chunks", bare, wrapped, target="target: <= 50 us added")
    bare, wrapped = await compare("/sse", 50)
    report(f"SSE {SSE_CHUNKS} chunks", bare, wrapped, per=SSE_CHUNKS, target="target: <= 0.5 us added per chunk")


if __name__ == "__main__":
    asyncio.run(main())
