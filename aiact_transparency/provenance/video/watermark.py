"""Imperceptible video watermark: quantised cell means of luminance, on a grid that scales with the frame.

Why not the image watermark frame by frame: it quantises the largest singular value of each 8x8 block, which a
50% downscale followed by H.264 at CRF 28 moves by more than its margin (measured on testsrc2 at 720p: 85-91%
of the 81 bits right after voting over 60 frames, so the CRC never passed). A block's *mean* survives
resampling, because an area average of an area average is the area average, and H.264 keeps low frequencies.

Scheme (every frame carries the whole word, so cuts, dropped or repeated frames and scene changes cost nothing):

1. The luminance plane Y (the decoder's own samples: no colour conversion, chroma untouched) is divided into a
   grid of cells: `SHORT_CELLS` (14) along the shorter side, round(14 x aspect) along the longer one. The grid
   is defined in fractions of the frame, so a rescaled copy has the very same cells: no size search.
2. The 81-bit payload word (`..payload`: the images' word, system id + item id + CRC-32 + parity) is encoded
   with the audio watermark's rate-1/2, K = 7 convolutional code and a zero tail (`..audio._conv`): 174 coded
   bits. Every frame has at least 14 x 14 = 196 cells, so each frame carries all of them; cell n in raster order
   carries coded bit n x 79 mod 174 (an interleaver: nearby cells carry coded bits far apart in the trellis).
   Why a code: a CRF 28 re-encode of black-and-white pixel noise (lavfi cellauto) leaves about a quarter of
   the cells on the wrong side of their lattice point, and the *same* cells frame after frame (the encoder's
   error follows the content), so voting over frames does not average it away; uncoded, the word survived
   only while the clip's first second (the sharpest frames after the key frame) was voted, and a 1 s cut lost
   it. The code corrects such scattered errors.
3. Each cell has a separable sin^2 window (zero at the cell's borders, so no block edges are drawn) and a
   weighted mean m = sum(w Y) / sum(w). Quantisation index modulation: m is moved to the nearest point of the
   lattice STEP * (k + 1/4 + b/2) of its coded bit b, by adding d * w to the cell (d = change x sum(w) /
   sum(w^2)). STEP is 12 grey levels (x4 for 10-bit samples): about 2.4 grey levels rms, PSNR about 40.5 dB
   before the encoder. Where clipping at black or white held part of a cell back, the pixels with room left
   finish the move (`_refill`). A frame whose change would cost more than MIN_PSNR (38 dB; only saturated
   content comes near it) has every cell moved the same fraction of the way instead.

Detection (`VideoWatermarkReader`): per frame, every cell mean's phase 2 pi m / STEP is accumulated per coded
bit as (sum sin, sum cos) over the frames read; `OFFSETS` (32) uniform shifts of m (a brightness change) are
tried from those sums, each giving soft values for the 174 coded bits, which one soft-decision Viterbi decoder
turns into one 81-bit word per shift; the first that passes parity and CRC-32 is the reading. A word not
written by the embedder passes with probability 2**-33 per reading, whatever the video, as long as its content
does not depend on the public mask; the bound reported is readings x 2**-33 = 32 x 2**-33 = 3.7e-9. Voting over
many frames averages the encoder's noise away; a still shot gives the same votes each frame, which is harmless.
The grid needs the frame's aspect ratio kept: cropping or letterboxing moves the cells (not read then: nothing
is claimed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from ..audio._conv import coded_length, encode, viterbi
from ..payload import CRC_BITS, WORD_BITS, PayloadChecksumError, WatermarkPayload

__all__ = [
    "CODED_BITS", "FALSE_POSITIVE_LIMIT", "MIN_PSNR", "MIN_SHORT_SIDE", "SCHEME", "STEP", "VideoWatermarkDetection",
    "VideoWatermarkReader", "embed_frame_watermark",
]

SCHEME = "aiact-video-cellqim-cc81/v2"
# Chosen by measurement (bench/video_robustness.py): with 24 cells and a step of 8, 240p halved to 120p and
# re-encoded at CRF 28 lost the word; 14 cells and 10 read it, at about 42 dB PSNR. With the code, a step of 12:
# at 10 and 11, cellauto at 360p halved and re-encoded at CRF 28 still lost it (3 of 3 marks), at 12 read it.
SHORT_CELLS = 14
STEP = 12.0  # grey levels at 8 bits
# The most the watermark may cost a frame: its PSNR (Y) stays at or above MIN_PSNR (the 38 dB), with 0.1
# dB for rounding. Only saturated content comes near it (the pixels at 0 or 255 cannot move, so the others move
# twice as far: lavfi cellauto 38.7-39.0 dB, 50 % black-and-white noise 37.9 dB before this cap).
MIN_PSNR = 38.0
_MAX_MSE = 255.0**2 / 10 ** ((MIN_PSNR + 0.1) / 10)
MIN_SHORT_SIDE = 42  # 3 pixels per cell: below that a cell's window is no longer a smooth bump
OFFSETS = tuple(n / 32 for n in range(32))
FALSE_POSITIVE_LIMIT = 1e-6
_CHECK_BITS = CRC_BITS + 1
# The word is convolutionally coded (rate 1/2, K = 7, zero tail: 174 coded bits) and the cells carry the coded
# bits: every frame has at least 14 x 14 = 196 cells, so every coded bit is in every frame, most in one or two
# cells. Cell n (raster order) carries coded bit n x INTERLEAVE mod 174: 79 keeps the coded bits of any two cells
# within 2 rows and 2 columns of each other (at 14, 19 or 25 columns: 1:1, 4:3, 16:9) at least 14 coded bits (the
# code's constraint length) apart, so a damaged patch of the frame is scattered errors for the decoder, not a burst.
CODED_BITS = coded_length(WORD_BITS)
INTERLEAVE = 79
_REFILL_ROUNDS = 4  # after clipping: 3 rounds bring cellauto's means within 2 % of a step (measured)
_REFILL_TOLERANCE = 0.02

_F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _Grid:
    rows: _F32  # (R, h): each row's window weight in its cell
    cols: _F32  # (w, C)
    norm: npt.NDArray[np.float64]  # (R, C): sum of w per cell
    gain: npt.NDArray[np.float64]  # (R, C): sum(w) / sum(w^2): the bump height that moves the mean by 1
    bit: npt.NDArray[np.intp]  # (R, C): which coded bit each cell carries
    row_cell: npt.NDArray[np.intp]  # (h,): the cell row each pixel row belongs to
    col_cell: npt.NDArray[np.intp]  # (w,)


def cells(height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of the grid for a frame of this size: SHORT_CELLS along the shorter side."""
    if height <= width:
        return SHORT_CELLS, max(SHORT_CELLS, round(SHORT_CELLS * width / height))
    return max(SHORT_CELLS, round(SHORT_CELLS * height / width)), SHORT_CELLS


def _axis(n: int, count: int) -> _F32:
    centre = (np.arange(n) + 0.5) * count / n
    index = np.minimum(np.floor(centre).astype(np.intp), count - 1)
    weights = np.zeros((count, n), dtype=np.float32)
    weights[index, np.arange(n)] = np.sin(np.pi * (centre - index)) ** 2
    return weights


@lru_cache(maxsize=16)
def _grid(height: int, width: int) -> _Grid:
    if min(height, width) < MIN_SHORT_SIDE:
        raise ValueError(f"a {width}x{height} frame is too small for the video watermark (shorter side under "
                         f"{MIN_SHORT_SIDE} pixels)")
    count_r, count_c = cells(height, width)
    rows, cols = _axis(height, count_r), _axis(width, count_c).T
    norm = np.outer(rows.sum(axis=1, dtype=np.float64), cols.sum(axis=0, dtype=np.float64))
    energy = np.outer((rows.astype(np.float64) ** 2).sum(axis=1), (cols.astype(np.float64) ** 2).sum(axis=0))
    bit = (np.arange(count_r * count_c) * INTERLEAVE % CODED_BITS).reshape(count_r, count_c)
    return _Grid(rows, cols, norm, norm / energy, bit, rows.argmax(axis=0), cols.argmax(axis=1))


def _means(luma: npt.NDArray[np.generic], grid: _Grid, scale: float) -> npt.NDArray[np.float64]:
    sums = grid.rows @ luma.astype(np.float32) @ grid.cols
    means: npt.NDArray[np.float64] = sums.astype(np.float64) / (grid.norm * scale)
    return means


def _scale(luma: npt.NDArray[np.generic], depth: int) -> float:
    return float(1 << (depth - 8)) if luma.dtype != np.uint8 else 1.0


def embed_frame_watermark(luma: npt.NDArray[np.generic], payload: WatermarkPayload, *, depth: int = 8
                          ) -> npt.NDArray[np.generic]:
    """The luminance plane (h x w, uint8, or uint16 holding `depth`-bit samples) carrying `payload`.

    Raises ValueError for frames whose shorter side is under MIN_SHORT_SIDE."""
    grid = _grid(*luma.shape)
    scale = _scale(luma, depth)
    means = _means(luma, grid, scale)
    bits = _coded(payload)[grid.bit]
    offset = STEP * (0.25 + 0.5 * bits)
    low = np.floor((means - offset) / STEP) * STEP + offset  # the lattice point of the bit just below
    target = np.where(means - low <= 0.5 * STEP, low, low + STEP)
    marked, mse = _move(luma, means, target, grid, scale, depth)
    if mse > _MAX_MSE:  # the PSNR floor: every cell moved part of the way (less robust, only in this frame)
        marked, mse = _move(luma, means, means + (target - means) * np.sqrt(_MAX_MSE / mse), grid, scale, depth)
    result: npt.NDArray[np.generic] = marked.astype(luma.dtype)
    return result


def _move(luma: npt.NDArray[np.generic], means: npt.NDArray[np.float64], target: npt.NDArray[np.float64],
          grid: _Grid, scale: float, depth: int) -> tuple[_F32, float]:
    """The plane with its cell means moved to `target`, and the change's mean square (at 8 bits)."""
    bump = ((target - means) * grid.gain * scale).astype(np.float32)
    marked = luma.astype(np.float32) + grid.rows.T @ bump @ grid.cols.T
    top = float((1 << depth) - 1)
    clipped = bool(marked.min() < 0 or marked.max() > top)
    np.rint(marked, out=marked)
    np.clip(marked, 0, top, out=marked)
    if not clipped:  # the cells' bumps do not overlap: the sum of squares is per cell (rounding: in the margin)
        return marked, float(np.sum(bump.astype(np.float64) ** 2 * grid.norm / grid.gain)) / (luma.size * scale**2)
    _refill(marked, target, grid, scale, top)
    change = marked - luma.astype(np.float32)
    return marked, float(np.mean(change * change)) / scale**2


@lru_cache(maxsize=64)
def _coded(payload: WatermarkPayload) -> npt.NDArray[np.float64]:
    coded: npt.NDArray[np.float64] = encode(payload.to_bits()).astype(np.float64)
    return coded


def _refill(marked: _F32, target: npt.NDArray[np.float64], grid: _Grid, scale: float, top: float) -> None:
    """Move the cells whose mean clipping held back (saturated content: black-and-white pixel noise is 70 %
    at 0 or 255, so half a cell cannot move in the needed direction) the rest of the way, with the pixels that
    still have room, in place. Measured on lavfi cellauto: without this the marked cell means landed anywhere
    within +-0.2 of a step of their lattice point, and a CRF 28 re-encode then lost the word."""
    for _ in range(_REFILL_ROUNDS):
        residual = target - _means(marked, grid, scale)
        if float(np.abs(residual).max()) < _REFILL_TOLERANCE * STEP:
            return
        upward = (residual > 0)[grid.row_cell[:, None], grid.col_cell[None, :]]
        free = np.where(upward, marked < top, marked > 0).astype(np.float32)
        room = (grid.rows**2) @ free @ (grid.cols**2)  # sum of w^2 over the pixels that can still move
        bump = np.where(room > 0, residual * grid.norm * scale / np.maximum(room, 1e-9), 0.0).astype(np.float32)
        marked += (grid.rows.T @ bump @ grid.cols.T) * free
        np.rint(marked, out=marked)
        np.clip(marked, 0, top, out=marked)


@dataclass(frozen=True)
class VideoWatermarkDetection:
    found: bool
    payload: WatermarkPayload | None
    frames_read: int
    readings: int
    false_positive_probability: float  # readings (brightness shifts) x 2**-33 when found; 1.0 when not
    bit_agreement: float  # share of the vote weight agreeing with the best word (information only)
    based_on: str

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": SCHEME,
            "found": self.found,
            "payload": None if self.payload is None else {"system_id": self.payload.system_id,
                                                          "item_id": self.payload.image_id},
            "frames_read": self.frames_read,
            "readings": self.readings,
            "false_positive_probability": self.false_positive_probability,
            "bit_agreement": self.bit_agreement,
            "based_on": self.based_on,
        }


@dataclass
class VideoWatermarkReader:
    """Feed luminance planes with `add`, then `result()`. Frames of any size (a rescaled copy) may be mixed."""

    frames: int = 0
    _sin: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(CODED_BITS))
    _cos: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(CODED_BITS))

    def add(self, luma: npt.NDArray[np.generic], *, depth: int = 8) -> None:
        if min(luma.shape) < MIN_SHORT_SIDE:
            return
        grid = _grid(*luma.shape)
        angle = (2 * np.pi / STEP) * _means(luma, grid, _scale(luma, depth))
        where = grid.bit.ravel()
        self._sin += np.bincount(where, np.sin(angle).ravel(), CODED_BITS)
        self._cos += np.bincount(where, np.cos(angle).ravel(), CODED_BITS)
        self.frames += 1

    def result(self) -> VideoWatermarkDetection:
        readings = len(OFFSETS)
        bound = readings * 2.0**-_CHECK_BITS
        if not self.frames:
            return VideoWatermarkDetection(False, None, 0, 0, 1.0, 0.0, "no frame large enough to read (shorter "
                                           f"side of at least {MIN_SHORT_SIDE} pixels)")
        shift = 2 * np.pi * np.asarray(OFFSETS)[:, None]
        # phase 3/4 (a 1) gives +1, phase 1/4 (a 0) gives -1: -sin(angle + shift), one row per shift
        votes = -(self._sin * np.cos(shift) + self._cos * np.sin(shift))
        agreement = np.abs(votes).sum(axis=1) / max(1e-12, float(np.hypot(self._sin, self._cos).sum()))
        words = viterbi(-votes, WORD_BITS)  # the decoder's soft values: positive means 0
        for fraction, word, agrees in zip(OFFSETS, words, agreement, strict=True):
            try:
                payload = WatermarkPayload.from_bits(word.tolist())
            except PayloadChecksumError:
                continue
            basis = (f"{WORD_BITS}-bit luminance cell watermark (convolutionally coded, soft Viterbi decoding) voted "
                     f"over {self.frames} frames at a shift of {fraction:g} of a step: the word passes CRC-{CRC_BITS} "
                     f"and parity; chance that an unmarked video yields such a reading <= {bound:.1e} = "
                     f"{len(OFFSETS)} shifts x 2^-{_CHECK_BITS}")
            return VideoWatermarkDetection(True, payload, self.frames, readings, bound, float(agrees), basis)
        basis = (f"no {WORD_BITS}-bit word passed its CRC-{CRC_BITS} and parity checks at the {len(OFFSETS)} "
                 f"brightness shifts tried, voting over {self.frames} frames")
        return VideoWatermarkDetection(False, None, self.frames, readings, 1.0, float(agreement.max()), basis)
