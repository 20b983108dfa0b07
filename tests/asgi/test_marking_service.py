"""The marking service's queue bound: memory held is bounded, and every place is given back."""

from __future__ import annotations

import io
import tracemalloc

import anyio
import numpy as np
import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify
from aiact_transparency.http_messages import Message, Receive, Scope, Send

from ..tools import http_scope, run_app

pytestmark = pytest.mark.anyio

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


# -- image queue bound -------------------------------------------------------------------------------------


async def test_image_bodies_held_are_bounded_by_workers_and_queue() -> None:
    # Responses were counted only once their whole body was in: 40 streamed images with workers=1, max_queue=0
    # were all buffered (31.5 MB) before 39 got 503. Now a response holds its slot from its first message, so
    # at most (workers + max_queue) bodies are ever held. Real streaming, real marking, memory measured.
    config = TransparencyConfig(system=SYSTEM, images={"workers": 1, "max_queue": 0})
    image = _noise_png(512)  # ~0.8 MB that PNG cannot compress
    count, chunk = 6, 64 * 1024
    parked = 0
    gate = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal parked
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        last = len(image) - chunk
        for offset in range(0, last, chunk):  # slices are fresh bytes objects: tracemalloc sees what is kept
            body = image[offset : min(offset + chunk, last)]
            await send({"type": "http.response.body", "body": body, "more_body": True})
        parked += 1
        await gate.wait()
        await send({"type": "http.response.body", "body": image[last:]})

    middleware = TransparencyMiddleware(app, config=config)
    results: list[list[Message]] = []

    async def one() -> None:
        results.append(await run_app(middleware, http_scope("/gen.png")))

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
            while parked < count:  # every app has sent all but its last chunk
                await anyio.sleep(0.01)
            held = tracemalloc.get_traced_memory()[0] - baseline
            tracemalloc.stop()
            gate.set()
    finally:
        tracemalloc.stop()
    assert held < 2 * len(image), f"{held} bytes held for {count} images of {len(image)} bytes"
    statuses = sorted(sent[0]["status"] for sent in results)
    assert statuses == [200] + [503] * (count - 1)
    marked = next(sent for sent in results if sent[0]["status"] == 200)
    assert verify(b"".join(m.get("body", b"") for m in marked[1:]), config=config).marked
    assert middleware.images is not None and middleware.images.waiting == 0


async def test_an_app_that_fails_mid_image_gives_its_place_back() -> None:
    config = TransparencyConfig(system=SYSTEM, images={"workers": 1, "max_queue": 0})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        await send({"type": "http.response.body", "body": b"\x89PNG", "more_body": True})
        raise RuntimeError("the generator crashed")

    middleware = TransparencyMiddleware(app, config=config)
    assert middleware.images is not None
    for _ in range(2):  # the second would get 503 if the first had kept the only place
        with pytest.raises(RuntimeError, match="crashed"):
            await run_app(middleware, http_scope("/gen.png"))
        assert middleware.images.waiting == 0


def _noise_png(side: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()
