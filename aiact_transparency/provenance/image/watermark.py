"""Imperceptible image watermark: DWT-SVD quantisation on luminance, readable with invisible-watermark.

Scheme (the `dwtDctSvd` method of ShieldMnt/invisible-watermark, re-derived, not copied):

1. Luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the Y of OpenCV's BGR2YUV); L images are Y.
2. One-level haar DWT of Y cropped to whole 8x8 pixel blocks; only the approximation band cA is used.
   cA is computed with a reshape (the sum of each 2x2 pixel group / 2), which equals
   `pywt.dwt2(y, "haar")[0]` (the tests check it) at a fraction of the cost: the detail bands are never used.
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
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..payload import (
    CRC_BITS,
    SCRAMBLE_MASK,
    SOFT_BINDING_ALG,
    WORD_BITS,
    PayloadChecksumError,
    WatermarkPayload,
    system_id_for,
)

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


@dataclass(frozen=True)
class WatermarkDetection:
    found: bool
    payload: WatermarkPayload | None
    # Share of blocks agreeing with the decoded word: 1.0 for an intact mark; an unmarked image's best reading
    # is 0.55-0.75 on 76 real photographs (tests/provenance/image/test_watermark_photos.py), a flat one up to
    # 1.0. Information only: the checksum decides.
    bit_agreement: float
    # readings x 2**-33 when found (see the module docstring); 1.0 when nothing was found
    false_positive_probability: float
    decoded_at: tuple[int, int] | None  # (width, height) the image was read at
    based_on: str
    sizes_tried: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": SCHEME,
            "found": self.found,
            "payload": None
            if self.payload is None
            else {"system_id": self.payload.system_id, "image_id": self.payload.image_id},
            "bit_agreement": self.bit_agreement,
            "false_positive_probability": self.false_positive_probability,
            "decoded_at": None if self.decoded_at is None else list(self.decoded_at),
            "sizes_tried": [list(size) for size in self.sizes_tried],
            "based_on": self.based_on,
        }


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


def _headroom(colour: _U8) -> tuple[_F64, _F64]:
    """Per block: how far the brightest channel may rise and the darkest may fall before clipping."""
    hb, wb = _grid(colour.shape)
    px = colour[: hb * BLOCK_PX, : wb * BLOCK_PX]
    hi, lo = px[:, :, 0], px[:, :, 0]
    for c in range(1, px.shape[2]):  # np.maximum per plane: max(axis=2) over 3 values is ~20x slower
        hi, lo = np.maximum(hi, px[:, :, c]), np.minimum(lo, px[:, :, c])
    # Pairwise halving is ~15x faster than reducing a (hb, 8, wb, 8) view over its inner axes.
    for _ in range(3):
        hi, lo = np.maximum(hi[:, 0::2], hi[:, 1::2]), np.minimum(lo[:, 0::2], lo[:, 1::2])
        hi, lo = np.maximum(hi[0::2], hi[1::2]), np.minimum(lo[0::2], lo[1::2])
    return 255.0 - hi.astype(np.float64), lo.astype(np.float64)


def _targets(dom: _Dominant, bits: _F64, step: float, outer: _F64, room: tuple[_F64, _F64]) -> _F64:
    """New s0 per block: the cheapest lattice point of the block's bit that keeps s0 largest and avoids clipping."""
    offset = step * (0.25 + 0.5 * bits)
    low = np.floor((dom.s0 - offset) / step) * step + offset  # the lattice point just below s0
    cands = low[..., None] + step * np.arange(3.0)
    ds = cands - dom.s0[..., None]
    pmax = outer.max(axis=(-2, -1))[..., None]
    pmin = outer.min(axis=(-2, -1))[..., None]
    # A change ds of s0 moves the pixels of 2x2 group (i, j) by ds * (u0 v0^T)_ij / 2 (haar synthesis).
    rise = np.where(ds > 0, ds * pmax, ds * pmin) * 0.5
    fall = np.where(ds > 0, ds * pmin, ds * pmax) * 0.5
    clips = (rise > room[0][..., None] + 0.5) | (-fall > room[1][..., None] + 0.5)
    unusable = (cands < dom.rest[..., None] + 0.25 * step) | (cands < 0)
    cost = np.abs(ds) + 4 * step * clips + 16 * step * unusable
    choice = np.argmin(cost, axis=-1)
    chosen: _F64 = np.take_along_axis(cands, choice[..., None], axis=-1)[..., 0]
    return chosen


def _add_to_colour(colour: _U8, approx_change: _F64) -> _U8:
    """Add a change of the approximation band (hb*4 x wb*4), as luminance, to every colour plane."""
    hb, wb = _grid(colour.shape)
    out = colour.astype(np.float32)
    # Inverse haar with untouched detail bands: each cA change spreads half of itself to its 2x2 pixels.
    half = (approx_change * 0.5).astype(np.float32)
    region = out[: hb * BLOCK_PX, : wb * BLOCK_PX].reshape(hb * 4, 2, wb * 4, 2, out.shape[2])
    region += half[:, None, :, None, None]
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _rebuild(work: Image.Image, colour: _U8, alpha: _U8 | None) -> Image.Image:
    arr = colour if alpha is None else np.concatenate([colour, alpha[:, :, None]], axis=2)
    out = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    # Keep colour profile, dpi and the like; palette transparency no longer applies.
    out.info.update({key: value for key, value in work.info.items() if key != "transparency"})
    return out


def _check_strength(strength: float) -> None:
    if not 4.0 <= strength <= 255.0:
        raise ValueError(f"strength (quantisation step) must be in [4, 255], got {strength}")


def _embed_bits(image: Image.Image, bits: Sequence[int], strength: float) -> Image.Image:
    _check_strength(strength)
    work, colour, alpha = _split(image)
    hb, wb = _grid(colour.shape)
    if hb * wb < MIN_BLOCKS:
        raise WatermarkCapacityError(work.size)
    dom = _dominant(_approx_band(_luma(colour)))
    outer = dom.u[..., :, None] * dom.v[..., None, :]  # (hb, wb, 4, 4): u0 v0^T of every block
    block_bits = np.resize(np.asarray(bits, dtype=np.float64), hb * wb).reshape(hb, wb)  # bit n mod 81
    target = _targets(dom, block_bits, strength, outer, _headroom(colour))
    # The rank-one update B + (t - s0) u0 v0^T sets the largest singular value to t, leaving the others.
    change = (target - dom.s0)[..., None, None] * outer
    marked = _add_to_colour(colour, change.transpose(0, 2, 1, 3).reshape(hb * 4, wb * 4))
    return _rebuild(work, marked, alpha)


def embed_watermark(
    image: Image.Image, payload: WatermarkPayload, *, strength: float = DEFAULT_STRENGTH
) -> Image.Image:
    """A new image carrying `payload`; `strength` is the quantisation step (the reader must use the same).

    Raises WatermarkCapacityError below MIN_BLOCKS 8x8 blocks. Marking twice with the same payload
    changes (almost) nothing the second time, so re-marking a cached output is harmless.
    """
    return _embed_bits(image, payload.to_bits(), strength)


@dataclass(frozen=True)
class _Reading:
    size: tuple[int, int]
    offset: float  # added to s0 before reading: undoes a uniform brightness change
    payload: WatermarkPayload | None
    agreeing: int
    blocks: int

    @property
    def agreement(self) -> float:
        return self.agreeing / self.blocks


def _block_values(luma: npt.NDArray[np.float32], own: tuple[int, int], size: tuple[int, int]) -> _F64:
    if size != own:
        luma = np.asarray(Image.fromarray(luma).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    return _dominant(_approx_band(luma)).s0.ravel()


def _read(s0: _F64, size: tuple[int, int], step: float, offset: float) -> _Reading:
    phase = np.mod(s0 + offset, step) / step
    position = np.arange(phase.size) % WORD_BITS
    # Soft vote: -sin(2 pi phase) is +1 at phase 3/4 (a 1), -1 at 1/4 (a 0) and 0 on the decision edges.
    votes = np.bincount(position, weights=-np.sin(2 * np.pi * phase), minlength=WORD_BITS)
    word = votes > 0
    agreeing = int(np.count_nonzero((phase > 0.5) == word[position]))
    try:
        payload: WatermarkPayload | None = WatermarkPayload.from_bits([int(bit) for bit in word])
    except PayloadChecksumError:
        payload = None
    return _Reading(size, offset, payload, agreeing, int(phase.size))


def _false_positive(readings: int) -> float:
    """Bound on the chance that an unmarked image yields any reading passing the checks (module docstring)."""
    return readings * 2.0**-_CHECK_BITS


def _sizes_to_try(own: tuple[int, int], candidates: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    for width, height in [own, *candidates]:
        size = (int(width), int(height))
        if size[0] <= 0 or size[1] <= 0:
            raise ValueError(f"candidate size must be positive, got {size}")
        if size not in sizes and (size[0] // BLOCK_PX) * (size[1] // BLOCK_PX) >= MIN_BLOCKS:
            sizes.append(size)
    return sizes


def _fmt(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _found(reading: _Reading, fp: float, own: tuple[int, int], sizes: list[tuple[int, int]]) -> WatermarkDetection:
    where = "the image's own size" if reading.size == own else f"rescaled from {_fmt(own)}"
    if reading.offset:
        where += f", singular values shifted by {reading.offset:g} to undo a brightness change or resampling bias"
    based_on = (
        f"{WORD_BITS}-bit luminance DWT-SVD watermark read at {_fmt(reading.size)} ({where}): the word passes "
        f"its CRC-{CRC_BITS} and parity checks; chance that an unmarked image yields such a reading <= {fp:.1e} "
        f"= {len(sizes)} size(s) x {len(_OFFSETS)} offsets tried x 2^-{_CHECK_BITS} (CRC-{CRC_BITS} and parity), "
        f"for any image whose content does not depend on the public mask; {reading.agreement:.1%} of "
        f"{reading.blocks} blocks agree with the word (information only, not part of that bound)"
    )
    return WatermarkDetection(True, reading.payload, reading.agreement, fp, reading.size, based_on, tuple(sizes))


def _not_found(best: _Reading, sizes: list[tuple[int, int]]) -> WatermarkDetection:
    tried = ", ".join(_fmt(size) for size in sizes)
    based_on = (
        f"no {WORD_BITS}-bit watermark word passed its CRC-{CRC_BITS} check at the {len(sizes)} size(s) "
        f"({tried}) and {len(_OFFSETS)} brightness offsets tried; best block agreement {best.agreement:.1%} "
        f"at {_fmt(best.size)}"
    )
    return WatermarkDetection(False, None, best.agreement, 1.0, None, based_on, tuple(sizes))


def detect_watermark(
    image: Image.Image,
    *,
    candidate_sizes: Sequence[tuple[int, int]] = (),
    strength: float = DEFAULT_STRENGTH,
) -> WatermarkDetection:
    """Read the watermark at the image's own size, then at each candidate (width, height) in order.

    Candidates undo rescaling: pass the sizes the system generates. At each size, 16 offsets of s0 are
    tried (a uniform brightness change shifts every s0 alike). The first reading that passes the checksum
    wins; its false-positive bound counts every reading that could have been tried, so with more than
    MAX_SIZES sizes (the bound would exceed FALSE_POSITIVE_LIMIT) no mark is claimed and nothing is read.
    """
    _check_strength(strength)
    work, colour, _ = _split(image)
    sizes = _sizes_to_try(work.size, candidate_sizes)
    if not sizes:
        message = str(WatermarkCapacityError(work.size)).replace("for the watermark", "to carry a watermark")
        return WatermarkDetection(False, None, 0.0, 1.0, None, message, ())
    fp = _false_positive(len(sizes) * len(_OFFSETS))
    if fp > FALSE_POSITIVE_LIMIT:
        based_on = (
            f"not read: {len(sizes)} sizes x {len(_OFFSETS)} offsets would make the false-positive bound "
            f"{fp:.1e}, above {FALSE_POSITIVE_LIMIT:.0e}; pass at most {MAX_SIZES} candidate sizes"
        )
        return WatermarkDetection(False, None, 0.0, 1.0, None, based_on, tuple(sizes))
    luma = _luma(colour)
    best: _Reading | None = None
    for size in sizes:
        s0 = _block_values(luma, work.size, size)
        for fraction in _OFFSETS:
            reading = _read(s0, size, strength, fraction * strength)
            if reading.payload is not None:
                return _found(reading, fp, work.size, sizes)
            if best is None or reading.agreement > best.agreement:
                best = reading
    assert best is not None  # sizes is not empty
    return _not_found(best, sizes)
