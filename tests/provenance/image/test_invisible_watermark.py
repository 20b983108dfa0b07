"""Compatibility with the real invisible-watermark 0.2.0 package (imwatermark), both ways.

The watermark module claims its `dwtDctSvd` decoder reads our marks and that we read marks its encoder
writes. These tests run that library itself (with OpenCV and PyWavelets), not a re-implementation of it.
It is installed by `make install` (`pip install --no-deps invisible-watermark==0.2.0`, OpenCV from the dev
extra); in CI a missing package fails these tests instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from aiact_transparency.provenance.image.watermark import WatermarkPayload, detect_watermark, embed_watermark

from ...tools import require_module
from .test_watermark import PAYLOAD, _jpeg, _varied

# imwatermark's __init__ imports its rivaGan module, whose first lines `import torch` for the rivaGan method
# only (a 5 GB install); dwtDctSvd never touches it. An empty module stands in while imwatermark is imported.
_TORCH_ONLY = "torch"
_SCALES = [36, 0, 0]  # luminance at step 36: the scheme's reading (the library's default marks U instead)


@pytest.fixture(scope="module")
def imwatermark() -> Iterator[ModuleType]:
    require_module("cv2")
    with pytest.MonkeyPatch.context() as patch:
        if importlib.util.find_spec(_TORCH_ONLY) is None:
            patch.setitem(sys.modules, _TORCH_ONLY, ModuleType(_TORCH_ONLY))
        yield require_module("imwatermark")


def _bgr(image: Image.Image) -> Any:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _their_reading(imwatermark: ModuleType, image: Image.Image) -> WatermarkPayload:
    bits = imwatermark.WatermarkDecoder("bits", 81).decode(_bgr(image), "dwtDctSvd", scales=_SCALES)
    return WatermarkPayload.from_bits([int(bit) for bit in bits])  # raises when the checksum fails


_NATURAL = ("plasma", "marble", "photo", "photo-gray", "sky", "vignette-portrait", "dark-photo", "cartoon")


def _natural(seed: int) -> list[tuple[str, Image.Image]]:
    return [(name, image) for name, image in _varied(seed) if name.startswith(_NATURAL)]


def test_the_library_reads_our_marks(imwatermark: ModuleType) -> None:
    images = _natural(seed=5)
    assert len(images) >= 8
    for name, original in images:
        marked = embed_watermark(original, PAYLOAD)
        assert _their_reading(imwatermark, marked) == PAYLOAD, name
        assert _their_reading(imwatermark, _jpeg(marked, 75)) == PAYLOAD, name


def test_the_library_does_not_read_a_mark_into_unmarked_images(imwatermark: ModuleType) -> None:
    for name, original in _natural(seed=6):
        bits = imwatermark.WatermarkDecoder("bits", 81).decode(_bgr(original), "dwtDctSvd", scales=_SCALES)
        assert [int(bit) for bit in bits] != list(PAYLOAD.to_bits()), name


def test_we_read_the_librarys_marks(imwatermark: ModuleType) -> None:
    encoder = imwatermark.WatermarkEncoder()
    encoder.set_watermark("bits", list(PAYLOAD.to_bits()))
    for name, original in _natural(seed=7):
        bgr = encoder.encode(_bgr(original), "dwtDctSvd", scales=_SCALES)
        theirs = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
        result = detect_watermark(theirs)
        assert result.found and result.payload == PAYLOAD, (name, result.based_on)
        assert detect_watermark(_jpeg(theirs, 75)).payload == PAYLOAD, name
