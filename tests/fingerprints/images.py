"""Real photographs that ship inside scikit-image (no download), and varied images made from them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from ..tools import require_module

# Colour and greyscale photographs and scans bundled with scikit-image; the others it lists need a download.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "moon", "coins", "clock", "horse", "page", "text", "cell", "brick", "grass", "gravel",
          "colorwheel", "logo", "microaneurysms", "shepp_logan_phantom", "checkerboard", "binary_blobs")


@cache
def photo(name: str) -> Image.Image:
    """The photograph as RGB (cached: callers must not change it in place)."""
    data = require_module("skimage.data")
    array = np.asarray(getattr(data, name)())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = (255 * (array - array.min()) / max(float(np.ptp(array)), 1e-9)).astype(np.uint8)
    if array.ndim == 2:
        return Image.fromarray(array, "L").convert("RGB")
    return Image.fromarray(array[:, :, :3], "RGB")


def variants(image: Image.Image, seed: int) -> Iterator[Image.Image]:
    """Crops, scales and colour changes of one photograph: unrelated enough to each other's source only
    when the source differs, so callers compare variants of one photo only against other photos."""
    rng = np.random.default_rng(seed)
    width, height = image.size
    for fraction in (0.5, 0.6, 0.7):
        for _ in range(2):
            w, h = int(width * fraction), int(height * fraction)
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            yield image.crop((x, y, x + w, y + h))
    yield image.resize((max(8, width // 3), max(8, height // 3)), Image.Resampling.LANCZOS)
    yield ImageOps.grayscale(image).convert("RGB")
    yield ImageEnhance.Contrast(image).enhance(0.5)
    yield ImageOps.posterize(image, 3)


@cache
def procedural(seed: int, size: int = 256) -> Image.Image:
    """Smooth random fields, gradients and shapes: image-like content no photograph shares."""
    rng = np.random.default_rng(seed)
    grid = int(rng.integers(2, 24))
    small = (rng.random((grid, grid, 3)) * 255).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    base += 60 * np.cos(angle) * xx[..., None] + 60 * np.sin(angle) * yy[..., None]
    base += rng.normal(0, rng.uniform(0, 12), base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def crops(image: Image.Image, seed: int, count: int) -> Iterator[Image.Image]:
    """`count` crops of random size (a quarter to nine tenths of each side, aspect varied) and position."""
    rng = np.random.default_rng(seed)
    width, height = image.size
    for _ in range(count):
        fraction = rng.uniform(0.25, 0.9)
        w = min(width, max(16, int(width * fraction)))
        h = min(height, max(16, int(height * fraction * rng.uniform(0.7, 1.3))))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        yield image.crop((x, y, x + w, y + h))
