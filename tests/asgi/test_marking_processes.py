"""images.executor = process: marking in worker processes, through a real server."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify

from ..servers import serve


def _png() -> bytes:
    x = np.linspace(0, 255, 256)
    pixels = np.stack([np.add.outer(x, x) / 2, np.outer(x, np.ones(256)), np.full((256, 256), 90.0)], -1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _app(config: TransparencyConfig) -> TransparencyMiddleware:
    picture = _png()

    async def image(request: Request) -> Response:
        return Response(picture, media_type="image/png")

    return TransparencyMiddleware(Starlette(routes=[Route("/image.png", image)]), config=config)


def test_images_are_marked_in_worker_processes() -> None:
    config = TransparencyConfig(system={"name": "Proc"}, images={"executor": "process", "workers": 2})
    app = _app(config)
    assert app.images is not None and app.images._pool is not None
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            bodies = [client.get("/image.png").content for _ in range(3)]
        for body in bodies:
            report = verify(body, config=config)
            assert report.c2pa["valid"] and report.xmp["ai_generated"] and report.watermark["found"]
            assert report.watermark["system_matches"]
        worker_pids = {p.pid for p in app.images._pool._processes.values()}  # type: ignore[union-attr]
        assert worker_pids and os.getpid() not in worker_pids
    finally:
        app.images.close()


def test_a_dead_worker_process_fails_one_image_per_policy_then_recovers() -> None:
    config = TransparencyConfig(images={"executor": "process", "workers": 1})
    app = _app(config)
    assert app.images is not None and app.images._pool is not None
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/image.png").status_code == 200  # the worker is up
            for pid in list(app.images._pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            failed = client.get("/image.png")
            assert failed.status_code == 500
            assert failed.headers["content-type"] == "application/problem+json"
            assert "worker process died" in failed.json()["detail"]
            recovered = client.get("/image.png")
            assert recovered.status_code == 200 and verify(recovered.content).c2pa["valid"]
    finally:
        app.images.close()


def test_worker_processes_stop_at_lifespan_shutdown() -> None:
    # MarkingService.close() was never called: the worker processes outlived the server.
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    config = TransparencyConfig(system={"name": "Proc"}, images={"executor": "process", "workers": 1})
    picture = _png()

    async def image(request: Request) -> Response:
        return Response(picture, media_type="image/png")

    app = TransparencyMiddleware(Starlette(routes=[Route("/image.png", image)], lifespan=lifespan), config=config)
    assert app.images is not None and app.images._pool is not None
    pool = app.images._pool
    try:
        with serve(app, lifespan="on") as base, httpx.Client(base_url=base, timeout=60) as client:
            assert verify(client.get("/image.png").content).c2pa["valid"]
            workers = list(pool._processes.values())  # type: ignore[union-attr]
            assert workers and all(worker.is_alive() for worker in workers)
        assert events == ["startup", "shutdown"]  # the app's own lifespan ran as before
        for worker in workers:
            worker.join(timeout=30)  # a bound, not a timing assert: exiting takes a moment
            assert worker.exitcode is not None, "a marking worker process outlived the server"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_an_app_without_lifespan_support_still_serves() -> None:
    async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("only HTTP here")  # uvicorn's lifespan=auto then carries on without it
        await Response(b"ok", media_type="text/plain")(scope, receive, send)

    config = TransparencyConfig(system={"name": "Proc"}, images={"executor": "process", "workers": 1})
    app = TransparencyMiddleware(no_lifespan, config=config)
    assert app.images is not None
    try:
        with serve(app, lifespan="auto") as base, httpx.Client(base_url=base, timeout=60) as client:
            response = client.get("/")
        assert response.text == "ok" and "ai-disclosure" in response.headers
    finally:
        app.images.close()
