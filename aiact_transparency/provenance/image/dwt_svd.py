"""What embedding and detection share: the constants, the capacity check and the transform (luma, the
haar approximation band, its dominant singular vectors)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..payload import CRC_BITS

SCHEME = "aiact-dwtsvd-y81/v1"
DEFAULT_STRENGTH = 36.0
MIN_BLOCKS = 256  # about 3 copies of the 81-bit word: fewer and JPEG errors stop averaging out
FALSE_POSITIVE_LIMIT = 1e-6
BLOCK_PX = 8
_STRIP_BLOCKS = 16384  # 8x8 blocks per strip: 1 MP
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Offsets added to s0 at detection, as fractions of the step, nearest to "no edit" first: 1/16 apart, so the
# worst residual shift (2.25 units at step 36) leaves most of the 9-unit margin for other damage.
_OFFSETS = tuple(sorted((n / 16 for n in range(16)), key=lambda f: min(f, 1 - f)))
_CHECK_BITS = CRC_BITS + 1  # CRC-32 + parity: a word not from our embedder passes with probability 2**-33
# The most sizes whose readings keep the checksum bound under the limit: 536 x 16 x 2**-33 = 9.98e-7.
MAX_SIZES = int(FALSE_POSITIVE_LIMIT * 2**_CHECK_BITS) // len(_OFFSETS)

_F64 = npt.NDArray[np.float64]
_F32 = npt.NDArray[np.float32]
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
    """Full-resolution luminance, for reading at candidate sizes (the image is resampled as Y)."""
    # float32: a uint8 @ float64 product is several times slower and the precision is not needed
    if colour.shape[2] == 1:
        return colour[:, :, 0].astype(np.float32)
    result: npt.NDArray[np.float32] = colour.astype(np.float32) @ _LUMA
    return result


def _grid(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[0] // BLOCK_PX, shape[1] // BLOCK_PX


def _strips(shape: tuple[int, ...]) -> Iterator[slice]:
    """Pixel rows in strips of whole block rows, about a megapixel each, top to bottom.

    Blocks are independent and numbered in raster order, so a strip is a contiguous run of block numbers.
    Working a strip at a time keeps the temporaries near the cache size: on a 4 MP image at once they
    spill, and every stage gets about twice as slow per pixel (measured, bench/bench_watermark.py).
    """
    hb, wb = _grid(shape)
    rows = max(1, _STRIP_BLOCKS // max(wb, 1))
    for top in range(0, hb, rows):
        yield slice(top * BLOCK_PX, min(hb, top + rows) * BLOCK_PX)


def _approx_band(planes: npt.NDArray[np.uint8] | npt.NDArray[np.float32]) -> _F32:
    """Haar approximation band of the luminance of `planes` (H x W x C colour planes, or an H x W luminance),
    shaped (hb, 4, wb, 4): [i, :, j, :] is the 4x4 block of row i, column j.

    Y is linear in R, G, B and cA is (a + b + c + d) / 2 of each 2x2 group (pywt's haar), so the groups are
    summed first, in integers for 8-bit input, and Y is taken at half the pixels: the full-resolution
    luminance plane is never built.
    """
    px = planes if planes.ndim == 3 else planes[:, :, None]
    hb, wb = _grid(px.shape)
    channels = px.shape[2]
    rows = px[: hb * BLOCK_PX, : wb * BLOCK_PX].reshape(hb * 4, 2, wb * BLOCK_PX * channels)
    # Vertical pairs first: whole contiguous rows, so numpy's vector loops run; uint16 holds 2 x 255. Then
    # luminance, then horizontal pairs (summing pixel pairs across interleaved channels is 3x slower).
    top: npt.NDArray[Any] = rows[:, 0].astype(np.uint16 if px.dtype == np.uint8 else np.float32)
    vertical = (top + rows[:, 1]).reshape(hb * 4, wb * BLOCK_PX, channels)
    if channels == 3:
        half_y: _F32 = vertical.astype(np.float32) @ (_LUMA * np.float32(0.5))
    else:
        half_y = vertical[:, :, 0].astype(np.float32) * np.float32(0.5)
    approx = half_y[:, 0::2] + half_y[:, 1::2]
    return approx.reshape(hb, 4, wb, 4)


def _mat(a: list[list[_F32]], b: list[list[_F32]]) -> list[list[_F32]]:
    """Product of two symmetric 4x4 matrices that commute (powers of one matrix), as planes: symmetric too."""
    out: list[list[_F32]] = [[a[0][0]] * 4 for _ in range(4)]
    for i in range(4):
        for j in range(i, 4):
            out[i][j] = out[j][i] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] + a[i][3] * b[3][j]
    return out


def _apply(m: list[list[_F32]], v: list[_F32]) -> list[_F32]:
    return [m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2] + m[i][3] * v[3] for i in range(4)]


@dataclass(frozen=True)
class _Dominant:
    """Per block (arrays shaped (hb, wb), vectors (4, hb, wb)): largest singular value s0 and its vectors."""

    s0: _F64
    rest: _F64  # sqrt(s1^2 + s2^2 + s3^2) >= s1: a cheap, safe stand-in for the second singular value
    u: _F32
    v: _F32


def _dominant(approx: _F32, *, vectors: bool = True) -> _Dominant:
    """Largest singular value (and, if `vectors`, the singular vectors) of every 4x4 block.

    Power iteration on the Gram matrix G = B^T B, with G^16 applied to a constant start vector, as four
    squarings of G scaled by its trace (so no power over- or underflows float32) and two products with it:
    16 iterations' worth of convergence for the cost of 5. Blocks are handled as 16 contiguous planes of
    shape (hb, wb), one per matrix entry: numpy's batched eigh or svd pays a LAPACK call per 4x4 block and
    is several times slower. Blocks of non-negative pixels have a dominant singular vector near the
    constant start vector, so s0 comes out far more precisely than the quantisation margin needs (its
    error is second order in the error of the vector; the tests compare it with numpy's SVD).
    """
    planes = np.ascontiguousarray(approx.transpose(1, 3, 0, 2))  # planes[k, i] = B[k, i] of every block
    cols = [[planes[k, i] for k in range(4)] for i in range(4)]  # cols[i][k] = B[k, i]
    gram: list[list[_F32]] = [[cols[0][0]] * 4 for _ in range(4)]
    for i in range(4):
        for j in range(i, 4):
            gram[i][j] = gram[j][i] = (
                cols[i][0] * cols[j][0] + cols[i][1] * cols[j][1] + cols[i][2] * cols[j][2] + cols[i][3] * cols[j][3]
            )
    trace = gram[0][0] + gram[1][1] + gram[2][2] + gram[3][3]
    scale = np.float32(1.0) / np.maximum(trace, np.float32(1e-30))
    power = [[x * scale for x in row] for row in gram]  # eigenvalues in [0, 1], the largest >= 1/4
    for _ in range(3):
        power = _mat(power, power)  # G^8 after three squarings
    v = _apply(power, _apply(power, [np.full_like(trace, 0.5)] * 4))
    norm = np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[3] * v[3])
    # An all-zero (black) block has no direction of its own: raise it evenly.
    empty = norm < 1e-30
    inv = np.where(empty, np.float32(0.0), np.float32(1.0) / np.where(empty, np.float32(1.0), norm))
    v = [np.where(empty, np.float32(0.5), x * inv) for x in v]
    bv = [planes[k, 0] * v[0] + planes[k, 1] * v[1] + planes[k, 2] * v[2] + planes[k, 3] * v[3] for k in range(4)]
    # s0 and the rest in float64: trace - s0^2 cancels, and float32 would leave about a unit of noise.
    s0 = np.sqrt(sum((x.astype(np.float64) ** 2 for x in bv), np.zeros(trace.shape)))
    rest = np.sqrt(np.maximum(trace.astype(np.float64) - s0 * s0, 0.0))
    if not vectors:
        return _Dominant(s0, rest, np.empty(0, np.float32), np.empty(0, np.float32))
    no_value = s0 < 1e-6
    s_inv = np.where(no_value, 0.0, 1.0 / np.where(no_value, 1.0, s0)).astype(np.float32)
    u = np.stack([np.where(no_value, np.float32(0.5), x * s_inv) for x in bv])
    return _Dominant(s0, rest, u, np.stack(v))


def _check_strength(strength: float) -> None:
    if not 4.0 <= strength <= 255.0:
        raise ValueError(f"strength (quantisation step) must be in [4, 255], got {strength}")
