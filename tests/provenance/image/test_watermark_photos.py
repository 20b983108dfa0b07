"""The watermark on real photographs: unmarked ones are never detected, marked ones are read back.

The generated test images of test_watermark.py are varied but synthetic; the false-positive figure must
hold on natural images, whose block statistics are neither independent nor uniform. The photographs are
the ones scikit-image ships in skimage/data (astronaut, camera, chelsea, coffee, rocket, ...). They are read
as files with Pillow: the package is installed without its dependencies (`make install`) and never
imported. In CI a missing package fails these tests instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import io
import os
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from aiact_transparency.provenance.image.watermark import (
    WatermarkPayload,
    detect_watermark,
    embed_watermark,
    system_id_for,
)

# Photographs only: the drawings, charts and synthetic test patterns of skimage/data are left out.
PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
    "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
    "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg", "text.png",
)
PAYLOAD = WatermarkPayload(system_id_for("photo-desk"), 0x0BEEF1)
CANDIDATES = [(512, 512), (1024, 1024), (768, 512)]


def _data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")  # finds the package without running it (it needs scipy)
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CI"):
            pytest.fail("scikit-image is not installed; `make install` installs it (--no-deps) for its photographs")
        pytest.skip("scikit-image is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def _photo(name: str) -> Image.Image:
    image = Image.open(_data_dir() / name)
    image.load()
    image = image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode)
    if max(image.size) > 800:  # a 1411-pixel retina scan costs time and adds nothing the crops do not
        image = image.resize((image.width * 800 // max(image.size), image.height * 800 // max(image.size)))
    return image


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).copy()


def _variants(image: Image.Image) -> list[Image.Image]:
    """The photo, a centre crop, a half-size copy and a JPEG of it: more natural samples from each."""
    w, h = image.size
    crop = image.crop(((w - 256) // 2, (h - 256) // 2, (w + 256) // 2, (h + 256) // 2)) if min(w, h) >= 256 else image
    half = image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    return [image, crop, half, _jpeg(image, 80)]


def test_unmarked_photographs_are_never_detected() -> None:
    samples = [(name, n, variant) for name in PHOTOS for n, variant in enumerate(_variants(_photo(name)))]
    read = 0
    for name, n, image in samples:
        result = detect_watermark(image, candidate_sizes=CANDIDATES)
        assert not result.found and result.payload is None, (name, n, result.based_on)
        read += bool(result.sizes_tried)  # 0 sizes: too small to carry a mark at any size
    assert read >= 70


@pytest.mark.parametrize("name", ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png"])
def test_marked_photographs_are_read_through_jpeg(name: str) -> None:
    marked = embed_watermark(_photo(name), PAYLOAD)
    result = detect_watermark(_jpeg(marked, 75), candidate_sizes=CANDIDATES)
    assert result.found and result.payload == PAYLOAD, result.based_on
    readings = len(result.sizes_tried) * 16
    assert result.false_positive_probability == readings * 2.0**-33
