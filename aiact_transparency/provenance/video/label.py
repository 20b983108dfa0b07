"""The EU "AI" icon on video frames: the images' badge (image/label.py), composited into the frame's own YUV
planes, so no frame is converted to RGB and back.

The badge is greys only (a dark plate, white letters, a light outline), so its chroma is neutral: only its
luminance and its alpha matter, and the chroma planes are pulled towards neutral under the (subsampled) alpha.
White letters on the plate keep a contrast ratio above 4.5:1 on any background (the plate is 82% opaque:
over pure white it is still grey 59, which white letters exceed 11:1); the badge scales with the frame (7% of
its shorter side). Shown from the start for `label_seconds`, then for as long every `label_every_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..image.label import badge_for
from .codec import PIXEL_FORMATS

__all__ = ["FrameLabel", "label_for_mode", "shown_at"]

_F32 = npt.NDArray[np.float32]


def label_for_mode(mode: str) -> str:
    """The icon variant `disclosure.mode` calls for: AI-originated content "AI GENERATED", AI-modified "AI
    MODIFIED", anything else the plain "AI"."""
    return {"ai-originated": "AI GENERATED", "machine-generated": "AI GENERATED",
            "ai-modified": "AI MODIFIED"}.get(mode, "AI")


def shown_at(seconds: float, duration: float, every: float | None) -> bool:
    """Whether the icon is on screen at `seconds` into the video."""
    if seconds < duration:
        return True
    return every is not None and seconds % every < duration


@dataclass(frozen=True)
class _Plane:
    box: tuple[int, int, int, int]  # left, top, right, bottom in this plane's samples
    alpha: _F32
    value: _F32  # the badge's sample values in this plane's range


class FrameLabel:
    """Built once per video (frame size and pixel format); `apply(frame)` composites the badge in place."""

    def __init__(self, width: int, height: int, pixel_format: str, text: str) -> None:
        badge, (left, top) = badge_for((width, height), text=text)
        left -= left % 2  # whole chroma samples: 4:2:0 and 4:2:2 halve the width
        top -= top % 2
        rgba = np.asarray(badge, dtype=np.float32)
        depth = PIXEL_FORMATS[pixel_format]
        full_range = pixel_format.startswith("yuvj")
        unit = float(1 << (depth - 8))
        grey = rgba[:, :, 0]  # R = G = B: the badge is greys only
        luma = grey if full_range else 16.0 + grey * (219.0 / 255.0)
        alpha = rgba[:, :, 3] / 255.0
        self.text = text
        self._planes = [_Plane((left, top, left + badge.width, top + badge.height), alpha, luma * unit)]
        self._chroma = (128.0 * unit, pixel_format)
        self._size = (badge.width, badge.height, left, top)

    def _chroma_plane(self, plane: Any, width: int, height: int) -> _Plane:
        bw, bh, left, top = self._size
        sx, sy = width // plane.width, height // plane.height
        alpha = self._planes[0].alpha
        pad = np.zeros((-(-bh // sy) * sy, -(-bw // sx) * sx), dtype=np.float32)
        pad[:bh, :bw] = alpha
        small = pad.reshape(pad.shape[0] // sy, sy, pad.shape[1] // sx, sx).mean(axis=(1, 3))
        x0, y0 = left // sx, top // sy
        box = (x0, y0, x0 + small.shape[1], y0 + small.shape[0])
        return _Plane(box, small, np.full(small.shape, self._chroma[0], dtype=np.float32))

    def apply(self, frame: Any) -> None:
        if len(self._planes) == 1:  # chroma geometry is known once the first frame shows its planes
            self._planes += [self._chroma_plane(frame.planes[i], frame.width, frame.height) for i in (1, 2)]
        dtype = np.uint16 if PIXEL_FORMATS[frame.format.name] > 8 else np.uint8
        for plane, spec in zip(frame.planes, self._planes, strict=False):
            rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // np.dtype(dtype).itemsize)
            left, top, right, bottom = spec.box
            region = rows[top:bottom, left:right]
            alpha = spec.alpha[: region.shape[0], : region.shape[1]]
            value = spec.value[: region.shape[0], : region.shape[1]]
            region[...] = np.rint(region * (1.0 - alpha) + value * alpha).astype(dtype)
