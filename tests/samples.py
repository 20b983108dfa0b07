"""Test images: smooth, photo-like pictures with noise, encoded once per format, seed and size."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}


def picture(size: tuple[int, int] = (256, 192), seed: int = 0) -> Image.Image:
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    r = 128 + 90 * np.sin(x / 19.0 + seed) * np.cos(y / 27.0)
    g = 40 + 160 * (x + y) / (width + height)
    b = 128 + 80 * np.cos((x - y) / 13.0 + seed)
    arr = np.stack([r, g, b], axis=-1) + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, quality=90, **params)
    return buf.getvalue()


@cache
def image_bytes(fmt: str = "png", seed: int = 0, size: tuple[int, int] = (256, 192)) -> bytes:
    return encode(picture(size, seed), FORMATS[fmt][0])
