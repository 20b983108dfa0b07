"""What embedding and detection share: the constants, the capacity check and the transform (luma, the
haar approximation band, its dominant singular vectors)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..payload import CRC_BITS

SCHEME = "aiact-dwtsvd-y81/v1"
DEFAULT_STRENGTH = 36.0
MIN_BLOCKS = 256  # about 3 copies of the 81-bit word: fewer and JPEG errors stop averaging out
FALSE_POSITIVE_LIMIT = 1e-6
BLOCK_PX = 8
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Offsets added to s0 at detection, as fractions of the step, nearest to "no edit" first: 1/16 apart, so the
# worst residual shift (2.25 units at step 36) leaves most of the 9-unit margin for other damage.
_OFFSETS = tuple(sorted((n / 16 for n in range(16)), key=lambda f: min(f, 1 - f)))
_CHECK_BITS = CRC_BITS + 1  # CRC-32 + parity: a word not from our embedder passes with probability 2**-33
# The most sizes whose readings keep the checksum bound under the limit: 536 x 16 x 2**-33 = 9.98e-7.
MAX_SIZES = int(FALSE_POSITIVE_LIMIT * 2**_CHECK_BITS) // len(_OFFSETS)

_F64 = npt.NDArray[np.float64]
_U8 = npt.NDArray[np.uint8]


class WatermarkCapacityError(ValueError):
    """The image has too few 8x8 blocks to carry (or be read for) the watermark."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.min_blocks = MIN_BLOCKS
        blocks = (size[0] // BLOCK_PX) * (size[1] // BLOCK_PX)
        super().__init__(
            f"image {size[0]}x{size[1]} is too small for the watermark: it needs at least {MIN_BLOCKS} "
            f"blocks of {BLOCK_PX}x{BLOCK_PX} pixels (e.g. 128x128 pixels) and has {blocks}"
        )


def _working_image(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if "A" in image.getbands() or image.has_transparency_data:
        return image.convert("RGBA")
    if len(image.getbands()) == 1 and image.mode != "P":
        return image.convert("L")
    return image.convert("RGB")


def _split(image: Image.Image) -> tuple[Image.Image, _U8, _U8 | None]:
    """Working image, its colour planes (H x W x 3 or 1) and its alpha plane if any."""
    work = _working_image(image)
    arr = np.asarray(work, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    colour = 3 if work.mode in ("RGB", "RGBA") else 1
    alpha = arr[:, :, colour] if arr.shape[2] > colour else None
    return work, arr[:, :, :colour], alpha


def _luma(colour: _U8) -> npt.NDArray[np.float32]:
    # float32: a uint8 @ float64 product is several times slower and the precision is not needed
    if colour.shape[2] == 1:
        return colour[:, :, 0].astype(np.float32)
    result: npt.NDArray[np.float32] = colour.astype(np.float32) @ _LUMA
    return result


def _grid(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[0] // BLOCK_PX, shape[1] // BLOCK_PX


def _approx_band(y: npt.NDArray[np.float32]) -> _F64:
    """Haar approximation band of y, shaped (hb, 4, wb, 4): [i, :, j, :] is the 4x4 block of row i, column j."""
    hb, wb = _grid(y.shape)
    crop = y[: hb * BLOCK_PX, : wb * BLOCK_PX]
    pairs = crop[:, 0::2] + crop[:, 1::2]
    approx = (pairs[0::2] + pairs[1::2]).astype(np.float64) * 0.5  # (a + b + c + d) / 2, as pywt's haar
    return approx.reshape(hb, 4, wb, 4)


def _dot4(a: Sequence[_F64], b: Sequence[_F64]) -> _F64:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]


@dataclass(frozen=True)
class _Dominant:
    """Per block (arrays shaped (hb, wb[, 4])): largest singular value s0 and its singular vectors."""

    s0: _F64
    rest: _F64  # sqrt(s1^2 + s2^2 + s3^2) >= s1: a cheap, safe stand-in for the second singular value
    u: _F64
    v: _F64


def _dominant(approx: _F64, iterations: int = 12) -> _Dominant:
    """Largest singular value and vectors of every 4x4 block, by power iteration on B^T B.

    Blocks are handled as 16 planes of shape (hb, wb), one per matrix entry: numpy's batched eigh or svd
    pays a LAPACK call per 4x4 block and is 3-4x slower. Blocks of non-negative pixels have a dominant
    singular vector near the constant start vector, so 12 iterations give s0 far more precisely than the
    quantisation margin needs (the error in s0 is second order in the error of the vector).
    """
    cols = [[approx[:, k, :, i] for k in range(4)] for i in range(4)]  # cols[i][k] = B[k, i]
    gram = [[cols[0][0]] * 4 for _ in range(4)]
    for i in range(4):
        for j in range(i, 4):
            gram[i][j] = gram[j][i] = _dot4(cols[i], cols[j])
    v = [np.full(cols[0][0].shape, 0.5) for _ in range(4)]
    for _ in range(iterations):
        w = [_dot4(gram[i], v) for i in range(4)]
        norm = np.maximum(np.sqrt(_dot4(w, w)), 1e-300)
        v = [x / norm for x in w]
    bv = [_dot4([cols[i][k] for i in range(4)], v) for k in range(4)]
    s0 = np.sqrt(_dot4(bv, bv))
    trace = gram[0][0] + gram[1][1] + gram[2][2] + gram[3][3]
    rest = np.sqrt(np.maximum(trace - s0 * s0, 0.0))
    # An all-zero (black) block has no direction of its own: raise it evenly.
    empty = s0 < 1e-9
    safe = np.where(empty, 1.0, s0)
    u = np.stack([np.where(empty, 0.5, x / safe) for x in bv], axis=-1)
    return _Dominant(s0, rest, u, np.stack([np.where(empty, 0.5, x) for x in v], axis=-1))


def _check_strength(strength: float) -> None:
    if not 4.0 <= strength <= 255.0:
        raise ValueError(f"strength (quantisation step) must be in [4, 255], got {strength}")
