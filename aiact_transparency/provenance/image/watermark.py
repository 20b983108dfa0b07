"""Imperceptible image watermark: DWT-SVD quantisation on luminance, readable with invisible-watermark.

Scheme (the `dwtDctSvd` method of ShieldMnt/invisible-watermark, re-derived, not copied):

1. Luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the Y of OpenCV's BGR2YUV); L images are Y.
2. One-level haar DWT of Y cropped to whole 8x8 pixel blocks; only the approximation band cA is used.
   cA is the sum of each 2x2 pixel group / 2, which equals `pywt.dwt2(y, "haar")[0]` (the tests check it) at
   a fraction of the cost: the detail bands are never used. Y being linear, the pixel pairs are summed in
   integers before Y is taken, so no full-resolution luminance plane is built; a megapixel strip of block
   rows is worked at a time.
3. cA is cut into 4x4 blocks in raster order (block n covers pixels 8i..8i+7, 8j..8j+7); block n
   carries bit n mod 81 of the word, so the word repeats over the whole image (soft voting reads it).
4. The largest singular value s0 of each block is quantised with step `strength` (default 36, the
   library's scale): bit b puts s0 on the lattice k*36 + 9 + 18*b, i.e. s0 mod 36 is 9 for a 0 and 27
   for a 1; a reader says 1 when s0 mod 36 > 18. The library applies a 4x4 DCT before the SVD; an
   orthonormal DCT-II leaves singular values and the rank-one update unchanged (D B D^T has the singular
   values of B), so the DCT is an identity for this scheme and is skipped (the tests check it).
5. Where the library always moves s0 to the lattice point in its own 36-wide bin, we move it to the
   nearest lattice point of the right bit (half the mean distortion), never below the second singular
   value (+ a quarter step, else the largest value would change identity) and, where possible, in the
   direction that does not clip pixels at 0 or 255. The reader only looks at s0 mod 36, so this changes
   nothing for it. The change of Y is added to R, G and B alike, so chroma is untouched; alpha is kept.

Payload: 81 bits = 24-bit system id + 24-bit image id + CRC-32, XORed with a public mask, + a parity bit
(the odd length spreads every bit over all block columns; see `..payload`).

Compatibility with invisible-watermark 0.2.0, both ways: its decoder reads our marks with
`WatermarkDecoder("bits", 81).decode(bgr, "dwtDctSvd", scales=[36, 0, 0])`, then packing the first 80
bits into bytes, XOR with `SCRAMBLE_MASK` and the CRC check; we read marks its encoder writes with that
word and those scales. Note `scales=[36, 0, 0]`: the library's *default* `[0, 36, 0]` marks the U (chroma)
channel, not luminance, so its default call does not read ours (we mark Y: it survives JPEG chroma
subsampling and works on grayscale).
Not bit-exact: OpenCV's BGR2YUV rounds Y to 8 bits with fixed-point coefficients while we use float Y; the
difference (< 0.5 grey level) moves s0 far less than the 9-unit margin, so the decoded bits agree
(tests/provenance/image/test_invisible_watermark.py runs the library's own decoder and encoder, with OpenCV, on PNG and
JPEG-75 images), but the pixels we write differ from the library's. Its encoder also swaps the horizontal
and vertical detail bands on reconstruction (about 30 dB PSNR); we leave them untouched (about 45 dB). Its
decoder refuses images under 256x256 pixels of area.

Detection (`detect_watermark`): s0 per block at the image's size and at each candidate size, read at 16
offsets added to s0 (a uniform brightness change shifts every s0 alike); soft voting per bit (score
-sin(2 pi s0/36), whose sign is the library's hard rule) and the CRC-32 and parity checks. The
false-positive probability reported is `readings x 2**-33`, readings = sizes x 16 offsets: of the 2**81
words a reading can decode, 2**48 pass the CRC-32 and the parity bit, and XOR with the public mask makes the
decoded word's chance of being one of them 2**-33 for any image whose content does not depend on the mask;
a union over the readings tried gives the bound. Nothing else is assumed about the image. A reading counts
as found only when that bound is <= 1e-6 (FALSE_POSITIVE_LIMIT), i.e. up to 536 sizes (MAX_SIZES); with
more, detection refuses to claim a mark. The share of blocks agreeing with the decoded word (`bit_agreement`)
is reported as information only: an estimate from it would assume independent fair block bits, which flat,
periodic and natural images break (a flat unmarked image agrees up to 100%), so it neither gates a reading
nor enters the bound.

Capacity: at least 256 blocks of 8x8 pixels (e.g. 128x128) or `WatermarkCapacityError` is raised.
Flat images, even pure black or white, do carry the mark (as a faint 8x8 block pattern). The mark does
not survive cropping, rotation or flipping; rescaling is undone by trying `candidate_sizes`. Content made
of pixel-level patterns (noise, 3-pixel checkerboards, thin lines, text, saturated colour mosaics) loses
the mark under strong resampling: their block singular values move by more than the margin.

Modes: RGB, RGBA, L and LA are marked as they are (alpha untouched); palette images and modes with
transparency become RGBA, other single-band modes L (Pillow's conversion, which clips 16-bit and float
data), anything else RGB. The result has the working mode, 8 bits per channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..payload import (
    SCRAMBLE_MASK,
    SOFT_BINDING_ALG,
    PayloadChecksumError,
    WatermarkPayload,
    system_id_for,
)
from .dwt_svd import (
    _F64,
    _U8,
    BLOCK_PX,
    DEFAULT_STRENGTH,
    MIN_BLOCKS,
    WatermarkCapacityError,
    _approx_band,
    _check_strength,
    _Dominant,
    _dominant,
    _grid,
    _split,
    _strips,
)
from .watermark_detect import FALSE_POSITIVE_LIMIT, MAX_SIZES, SCHEME, WatermarkDetection, detect_watermark

__all__ = [
    "DEFAULT_STRENGTH",
    "FALSE_POSITIVE_LIMIT",
    "MAX_SIZES",
    "MIN_BLOCKS",
    "SCHEME",
    "SCRAMBLE_MASK",
    "SOFT_BINDING_ALG",
    "PayloadChecksumError",
    "WatermarkCapacityError",
    "WatermarkDetection",
    "WatermarkPayload",
    "detect_watermark",
    "embed_watermark",
    "system_id_for",
]


def _headroom(colour: _U8) -> tuple[_F64, _F64]:
    """Per block: how far the brightest channel may rise and the darkest may fall before clipping."""
    hb, wb = _grid(colour.shape)
    channels = colour.shape[2]
    hi: _U8 = colour[: hb * BLOCK_PX, : wb * BLOCK_PX].reshape(hb * BLOCK_PX, wb * BLOCK_PX * channels)
    lo: _U8 = hi
    # Pairwise halving, rows first: whole contiguous rows keep numpy's vector loops busy, and the strided
    # steps across pixels and channels then run on an eighth of the data.
    for _ in range(3):
        hi, lo = np.maximum(hi[0::2], hi[1::2]), np.minimum(lo[0::2], lo[1::2])
    hi, lo = hi.reshape(hb, wb, BLOCK_PX * channels), lo.reshape(hb, wb, BLOCK_PX * channels)
    for _ in range(3):
        half = hi.shape[2] // 2
        hi, lo = np.maximum(hi[:, :, :half], hi[:, :, half:]), np.minimum(lo[:, :, :half], lo[:, :, half:])
    hi_px, lo_px = hi[:, :, 0], lo[:, :, 0]
    for c in range(1, channels):
        hi_px, lo_px = np.maximum(hi_px, hi[:, :, c]), np.minimum(lo_px, lo[:, :, c])
    return 255.0 - hi_px.astype(np.float64), lo_px.astype(np.float64)


def _outer_extremes(dom: _Dominant) -> tuple[_F64, _F64]:
    """Per block, the largest and smallest entry of u0 v0^T: products of the extremes of u0 and v0."""
    corners = [a * b for a in (dom.u.max(axis=0), dom.u.min(axis=0)) for b in (dom.v.max(axis=0), dom.v.min(axis=0))]
    return np.maximum.reduce(corners).astype(np.float64), np.minimum.reduce(corners).astype(np.float64)


def _targets(dom: _Dominant, bits: _F64, step: float, room: tuple[_F64, _F64]) -> _F64:
    """New s0 per block: the cheapest lattice point of the block's bit that keeps s0 largest and avoids clipping."""
    offset = step * (0.25 + 0.5 * bits)
    low = np.floor((dom.s0 - offset) / step) * step + offset  # the lattice point just below s0
    cands = low[..., None] + step * np.arange(3.0)
    ds = cands - dom.s0[..., None]
    pmax, pmin = (x[..., None] for x in _outer_extremes(dom))
    # A change ds of s0 moves the pixels of 2x2 group (i, j) by ds * (u0 v0^T)_ij / 2 (haar synthesis).
    rise = np.where(ds > 0, ds * pmax, ds * pmin) * 0.5
    fall = np.where(ds > 0, ds * pmin, ds * pmax) * 0.5
    clips = (rise > room[0][..., None] + 0.5) | (-fall > room[1][..., None] + 0.5)
    unusable = (cands < dom.rest[..., None] + 0.25 * step) | (cands < 0)
    cost = np.abs(ds) + 4 * step * clips + 16 * step * unusable
    choice = np.argmin(cost, axis=-1)
    chosen: _F64 = np.take_along_axis(cands, choice[..., None], axis=-1)[..., 0]
    return chosen


def _pixel_steps(dom: _Dominant, target: _F64) -> npt.NDArray[np.int16]:
    """The rank-one update B + (t - s0) u0 v0^T, as the whole-unit change of each pixel: shaped (hb*4, wb*4),
    one value per 2x2 pixel group (inverse haar with untouched detail bands gives each pixel half of the
    change of its cA coefficient). The update sets the largest singular value to t and leaves the others."""
    scaled = ((target - dom.s0) * 0.5).astype(np.float32) * dom.u  # (4, hb, wb): rows k of the block
    change = scaled[:, None] * dom.v[None, :]  # (4, 4, hb, wb): entry (k, i) of every block
    _, _, hb, wb = change.shape
    steps: npt.NDArray[np.int16] = np.rint(change).astype(np.int16).transpose(2, 0, 3, 1).reshape(hb * 4, wb * 4)
    return steps


def _add_to_colour(colour: _U8, steps: npt.NDArray[np.int16]) -> _U8:
    """Add the per-2x2-group luminance steps to every colour plane, clipped to 0..255.

    The pixels are integers, so rounding the change alone equals rounding the changed pixel; the steps are
    repeated along each row once (small), then added to pairs of whole rows, where numpy's loops are fast.
    """
    hb, wb = _grid(colour.shape)
    channels = colour.shape[2]
    out = colour.astype(np.int16)
    region = out[: hb * BLOCK_PX, : wb * BLOCK_PX].reshape(hb * 4, 2, wb * BLOCK_PX * channels)
    region += np.repeat(steps, 2 * channels, axis=1)[:, None, :]
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _rebuild(work: Image.Image, colour: _U8, alpha: _U8 | None) -> Image.Image:
    arr = colour if alpha is None else np.concatenate([colour, alpha[:, :, None]], axis=2)
    out = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    # Keep colour profile, dpi and the like; palette transparency no longer applies.
    out.info.update({key: value for key, value in work.info.items() if key != "transparency"})
    return out


def _embed_bits(image: Image.Image, bits: Sequence[int], strength: float) -> Image.Image:
    _check_strength(strength)
    work, colour, alpha = _split(image)
    hb, wb = _grid(colour.shape)
    if hb * wb < MIN_BLOCKS:
        raise WatermarkCapacityError(work.size)
    block_bits = np.resize(np.asarray(bits, dtype=np.float64), hb * wb).reshape(hb, wb)  # bit n mod 81
    marked = colour.copy()  # rows below the block grid stay as they are
    for rows in _strips(colour.shape):
        strip = colour[rows]
        dom = _dominant(_approx_band(strip))
        strip_bits = block_bits[rows.start // BLOCK_PX : rows.stop // BLOCK_PX]
        target = _targets(dom, strip_bits, strength, _headroom(strip))
        marked[rows] = _add_to_colour(strip, _pixel_steps(dom, target))
    return _rebuild(work, marked, alpha)


def embed_watermark(
    image: Image.Image, payload: WatermarkPayload, *, strength: float = DEFAULT_STRENGTH
) -> Image.Image:
    """A new image carrying `payload`; `strength` is the quantisation step (the reader must use the same).

    Raises WatermarkCapacityError below MIN_BLOCKS 8x8 blocks. Marking twice with the same payload
    changes (almost) nothing the second time, so re-marking a cached output is harmless.
    """
    return _embed_bits(image, payload.to_bits(), strength)
