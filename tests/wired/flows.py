"""What the wiring tests share: an image app behind the middleware, and what strips marks from an output."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

from ..fingerprints.images import photo

DETECT = "/.well-known/ai-disclosure/detect"
SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example"}


def photo_png(name: str = "astronaut") -> bytes:
    out = io.BytesIO()
    photo(name).save(out, "PNG")
    return out.getvalue()


def image_app(config: TransparencyConfig) -> TransparencyMiddleware:
    """GET /generate/{name}: a photograph as PNG, marked by the middleware (query strings are ignored)."""

    async def generate(request: Request) -> Response:
        return Response(photo_png(request.path_params["name"]), media_type="image/png")

    return TransparencyMiddleware(Starlette(routes=[Route("/generate/{name}", generate)]), config)


def stripped(data: bytes, *, quality: int = 95, turn: bool = False) -> bytes:
    """Only the pixels, as JPEG at `quality` (no XMP, no C2PA): optionally turned 90 degrees first."""
    with Image.open(io.BytesIO(data)) as image:
        pixels = image.convert("RGB")
    if turn:
        pixels = pixels.transpose(Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=quality)
    return out.getvalue()


def layers_found(result: dict[str, Any]) -> dict[str, bool]:
    return {name: bool(layer.get("found")) for name, layer in result["layers"].items()}
