"""An image API whose "generator" is procedural (no model download), marked by the middleware.

Run: ``python examples/image_api.py`` then open http://127.0.0.1:8002/generate?prompt=sunset (or ``make demo``).
Every image it returns carries an invisible watermark, IPTC/XMP "trainedAlgorithmicMedia" metadata and a
signed C2PA manifest; check one with ``aiact-transparency verify FILE``.
"""

from __future__ import annotations

import hashlib
import io
from typing import Literal

import numpy as np
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response
from PIL import Image

from aiact_transparency import TransparencyMiddleware, load_config

router = APIRouter()
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def generate(prompt: str, size: int) -> Image.Image:
    """A deterministic 'painting' of the prompt: waves and gradients seeded by its hash."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (fx * x + fy * y * y) + phase)
        channels.append(127 + 80 * wave + 40 * (x - y))
    pixels = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@router.get("/generate", response_class=Response)
async def generate_image(
    prompt: str = Query("a sunset over the sea", max_length=500),
    size: int = Query(512, ge=128, le=2048),
    format: Literal["png", "jpeg", "webp"] = "png",
) -> Response:
    buffer = io.BytesIO()
    generate(prompt, size).save(buffer, format.upper(), quality=92)
    # The app returns plain pixels; the middleware marks and signs them on the way out.
    return Response(buffer.getvalue(), media_type=MEDIA_TYPES[format])


def create_app() -> FastAPI:
    app = FastAPI(title="Procedural image API")
    app.include_router(router)
    app.add_middleware(TransparencyMiddleware, config=load_config())
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8002)
