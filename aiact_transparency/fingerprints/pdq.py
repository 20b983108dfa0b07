"""PDQ: Meta's 256-bit perceptual image hash with its quality score, in numpy (no compiled extension).

The algorithm is the one in ThreatExchange's `pdq/` ("hashing.pdf" and its reference hasher), so hashes
compare with any other PDQ implementation at the reference threshold (Hamming distance <= 31):

1. luminance Y = 0.299 R + 0.587 G + 0.114 B (float);
2. a Jarosz filter: two passes of a box filter along rows and along columns, window
   ceil(dimension / 128), the window clipped (and its divisor shrunk) at the edges;
3. decimate to 64 x 64 by taking the pixel at ((i + 0.5) * dimension / 64);
4. quality: the summed absolute 64 x 64 gradients (in percent of 255, truncated) / 90, capped at 100;
5. a 16 x 16 DCT (frequencies 1..16, the DC term left out) of the 64 x 64 buffer;
6. bit (16 i + j) is set when coefficient (i, j) is above the median of the 256.

Why not the `pdqhash` package: it ships only a source distribution (Cython + C++), so installing it needs a
compiler on every platform; numpy is already a dependency. The tests check this module against `pdqhash`
(the reference bindings, built in the dev extra) hash for hash.

Speed: the filter and decimation are linear, so steps 2-3 are one matrix per axis (64 x dimension, cached per
size) applied to the image, `S_rows @ Y @ S_cols.T`. Each row of S has about dimension/64 non-zero weights
(a band), so both sides are gathered bands reduced with einsum: about 1 ms for a 1 MP image, and no BLAS.

The 8 rotations and flips ("dihedral variants") come from the DCT coefficients without re-hashing: a
transpose of the image transposes them, a flip negates those of odd frequency along the flipped axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..config.fingerprints import MATCH_THRESHOLD

__all__ = ["HASH_BITS", "MATCH_THRESHOLD", "MIN_QUALITY", "PdqHash", "dihedral_hashes", "hamming", "pdq_hash"]

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
MIN_QUALITY = 50  # PDQ's reference: hashes of quality <= 49 are too featureless to match on
_MIN_DIM = 5  # the reference refuses smaller images (quality 0, empty hash)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class PdqHash:
    """A 256-bit PDQ hash as 32 bytes, with its 0-100 quality score. Coefficient (i, j) of the 16 x 16 grid is
    bit k = 16 i + j, stored most significant first (byte k // 8, bit 7 - k % 8); the `pdqhash` bindings' hash
    vector holds the same bits in the reverse order."""

    digest: bytes
    quality: int

    def __post_init__(self) -> None:
        if len(self.digest) != HASH_BYTES:
            raise ValueError(f"a PDQ hash is {HASH_BYTES} bytes, got {len(self.digest)}")

    @property
    def hex(self) -> str:
        return self.digest.hex()

    @property
    def matchable(self) -> bool:
        return self.quality >= MIN_QUALITY


def hamming(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@lru_cache(maxsize=1)
def _dct_16x64() -> NDArray[np.float32]:
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return np.asarray(np.sqrt(2.0 / 64.0) * np.cos((np.pi / 2 / 64.0) * i * (2 * j + 1)), dtype=np.float32)


def _box_windows(n: int, window: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The reference's 1-D box filter: output k averages inputs lo[k]..hi[k], the window clipped to the
    vector (and its divisor with it), lo = k - (window - half), hi = k + half - 1, half = (window + 2) // 2."""
    half = (window + 2) // 2
    k = np.arange(n, dtype=np.int64)
    return np.maximum(k - (window - half), 0), np.minimum(k + half - 1, n - 1)


@lru_cache(maxsize=32)
def _sampler(n: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """For a dimension of n pixels: the 64 rows of (box filter applied twice) that the reference's
    decimation picks, as bands: where each starts, and its weights (64 x band width)."""
    lo, hi = _box_windows(n, (n + 2 * 64 - 1) // (2 * 64))
    picks = (((np.arange(64) + 0.5) * n) / 64).astype(np.int64)
    dense = np.zeros((64, n), dtype=np.float64)
    # Row p of box @ box, without the n x n matrix: the second pass averages the first pass's outputs
    # lo[p]..hi[p], each of which averages its own window of inputs.
    for r, p in enumerate(picks):
        outer = 1.0 / (hi[p] - lo[p] + 1)
        for m in range(lo[p], hi[p] + 1):
            dense[r, lo[m] : hi[m] + 1] += outer / (hi[m] - lo[m] + 1)
    nonzero = dense != 0
    starts = nonzero.argmax(axis=1)
    width = int((n - nonzero[:, ::-1].argmax(axis=1) - starts).max())
    starts = np.minimum(starts, n - width)
    bands = np.stack([dense[r, s : s + width] for r, s in enumerate(starts)])
    return starts, bands.astype(np.float32)


def _luma(image: Image.Image | NDArray[Any]) -> NDArray[np.float32]:
    if isinstance(image, Image.Image):
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGBA").convert("RGB") if "A" in image.getbands() else image.convert("RGB")
        if image.mode == "RGB":
            # Pillow's RGB -> "F" is this very luminance ((299 R + 587 G + 114 B) / 1000 as float32), in one C
            # pass: about half the time of the numpy lines below, equal to them to the last bit or two.
            return np.asarray(image.convert("F"), dtype=np.float32)
        array = np.asarray(image)
    else:
        array = np.asarray(image)
    if array.ndim == 2:
        return array.astype(np.float32)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB(A) or greyscale image array, got shape {array.shape}")
    # Element-wise rather than `array @ weights`: a matrix product goes to the BLAS library, whose worker
    # threads can stall for tens of milliseconds when the cores are busy (a server under load).
    luma: NDArray[np.float32] = array[:, :, 0] * _LUMA[0]
    luma += array[:, :, 1] * _LUMA[1]
    luma += array[:, :, 2] * _LUMA[2]
    return luma


def _buffer_64x64(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    rows, cols = luma.shape
    row_starts, row_bands = _sampler(rows)
    col_starts, col_bands = _sampler(cols)
    # Each output row is a short weighted sum of adjacent image rows, each output column one of adjacent
    # columns: gather the bands and reduce them with einsum (plain loops, no BLAS threads).
    row_index = row_starts[:, None] + np.arange(row_bands.shape[1])
    reduced = np.einsum("rwk,rw->rk", luma[row_index], row_bands)
    col_index = col_starts[:, None] + np.arange(col_bands.shape[1])
    return np.asarray(np.einsum("rcw,cw->rc", reduced[:, col_index], col_bands), dtype=np.float32)


def _quality(buffer: NDArray[np.float32]) -> int:
    # The reference truncates each scaled difference to an int before summing.
    down = np.abs(np.trunc((buffer[:-1, :] - buffer[1:, :]) * 100 / 255)).sum()
    across = np.abs(np.trunc((buffer[:, :-1] - buffer[:, 1:]) * 100 / 255)).sum()
    return min(int(down + across) // 90, 100)


def _bits(coefficients: NDArray[np.float32]) -> bytes:
    flat = coefficients.reshape(-1)
    median = np.sort(flat)[127]  # the lower median, as the reference's Torben median of 256 values
    return np.packbits(flat > median).tobytes()


def _dct(image: Image.Image | NDArray[Any]) -> tuple[NDArray[np.float32], int] | None:
    luma = _luma(image)
    if min(luma.shape) < _MIN_DIM:
        return None
    buffer = _buffer_64x64(luma)
    dct = _dct_16x64()
    return dct @ buffer @ dct.T, _quality(buffer)


def pdq_hash(image: Image.Image | NDArray[Any]) -> PdqHash:
    """The PDQ hash of a PIL image or an RGB(A)/greyscale uint8 array. Images under 5 pixels on a side get
    quality 0 (the reference's answer), which keeps them out of perceptual matching."""
    result = _dct(image)
    if result is None:
        return PdqHash(bytes(HASH_BYTES), 0)
    return PdqHash(_bits(result[0]), result[1])


def _odd_frequency_sign() -> NDArray[np.float32]:
    # Frequency i + 1 is odd for even i: those coefficients change sign when the image is mirrored.
    return np.where(np.arange(16) % 2 == 0, -1.0, 1.0).astype(np.float32)


def dihedral_hashes(image: Image.Image | NDArray[Any]) -> tuple[PdqHash, ...]:
    """The hash of the image and of its 7 rotations and flips (the original first), one DCT for all 8."""
    result = _dct(image)
    if result is None:
        return (PdqHash(bytes(HASH_BYTES), 0),) * 8
    coefficients, quality = result
    return tuple(PdqHash(_bits(c), quality) for c in dihedral_coefficients(coefficients))


def dihedral_coefficients(c: NDArray[np.float32]) -> tuple[NDArray[np.float32], ...]:
    """The reference's order: original; turned 90, 180, 270 degrees counter-clockwise (PIL's ROTATE_*);
    mirrored top-bottom, left-right; mirrored about the main diagonal (TRANSPOSE), the other (TRANSVERSE)."""
    sign = _odd_frequency_sign()
    left_right = c * sign[None, :]  # columns j of odd frequency change sign
    top_bottom = c * sign[:, None]
    half_turn = left_right * sign[:, None]
    # A transpose of the image transposes the coefficients; a transpose after a mirror is a quarter turn.
    return (c, left_right.T, half_turn, top_bottom.T, top_bottom, left_right, c.T, half_turn.T)
