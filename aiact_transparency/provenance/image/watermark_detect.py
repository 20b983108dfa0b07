"""Reading the watermark back: every offset and candidate size, each reading bounded by the checksum."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..payload import (
    CRC_BITS,
    WORD_BITS,
    PayloadChecksumError,
    WatermarkPayload,
)
from .dwt_svd import (
    _CHECK_BITS,
    _F64,
    _OFFSETS,
    BLOCK_PX,
    DEFAULT_STRENGTH,
    FALSE_POSITIVE_LIMIT,
    MAX_SIZES,
    MIN_BLOCKS,
    SCHEME,
    WatermarkCapacityError,
    _approx_band,
    _check_strength,
    _dominant,
    _luma,
    _split,
    _strips,
)

# The detector's public names, with the bounds its answers are given under (re-exported by watermark.py).
__all__ = ["FALSE_POSITIVE_LIMIT", "MAX_SIZES", "SCHEME", "WatermarkDetection", "detect_watermark"]


@dataclass(frozen=True)
class WatermarkDetection:
    found: bool
    payload: WatermarkPayload | None
    # Share of blocks agreeing with the decoded word: 1.0 for an intact mark; an unmarked image's best reading
    # is 0.55-0.75 on 76 real photographs (tests/provenance/image/test_watermark_photos.py), a flat one up to
    # 1.0. Information only: the checksum decides.
    bit_agreement: float
    # readings x 2**-33 when found (see the docstring of watermark.py); 1.0 when nothing was found
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


def _block_values(planes: npt.NDArray[np.uint8] | npt.NDArray[np.float32]) -> _F64:
    """s0 of every block in raster order: colour planes, or a luminance plane, a strip at a time."""
    return np.concatenate([_dominant(_approx_band(planes[rows]), vectors=False).s0.ravel()
                           for rows in _strips(planes.shape)])


def _rescaled_luma(luma: npt.NDArray[np.float32], size: tuple[int, int]) -> npt.NDArray[np.float32]:
    return np.asarray(Image.fromarray(luma).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)


def _readings(s0: _F64, size: tuple[int, int], step: float) -> Iterator[_Reading]:
    """The reading at each offset of `_OFFSETS`, in that order (lazily: the caller stops at the first that passes).

    Soft vote per block: -sin(2 pi phase), phase = ((s0 + offset) mod step) / step, which is +1 at phase 3/4
    (a 1), -1 at 1/4 (a 0) and 0 on the decision edges. Since sin(a + b) = sin a cos b + cos a sin b, every
    offset's sums per bit come from two sums taken once; only the hard bits (phase > 1/2, for the agreement
    figure) are recomputed per offset.
    """
    turns = s0 / step
    position = np.arange(s0.size) % WORD_BITS
    angle = 2 * np.pi * turns
    sin_sum = np.bincount(position, weights=np.sin(angle), minlength=WORD_BITS)
    cos_sum = np.bincount(position, weights=np.cos(angle), minlength=WORD_BITS)
    for fraction in _OFFSETS:
        shift = 2 * np.pi * fraction
        word = -(sin_sum * np.cos(shift) + cos_sum * np.sin(shift)) > 0
        agreeing = int(np.count_nonzero((np.mod(turns + fraction, 1.0) > 0.5) == word[position]))
        try:
            payload: WatermarkPayload | None = WatermarkPayload.from_bits([int(bit) for bit in word])
        except PayloadChecksumError:
            payload = None
        yield _Reading(size, fraction * step, payload, agreeing, int(s0.size))


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
    best: _Reading | None = None
    luma: npt.NDArray[np.float32] | None = None  # built once, and only when a candidate size is read
    for size in sizes:
        if size == work.size:
            s0 = _block_values(colour)  # at its own size the image needs no full-resolution luminance plane
        else:
            luma = _luma(colour) if luma is None else luma
            s0 = _block_values(_rescaled_luma(luma, size))
        for reading in _readings(s0, size, strength):
            if reading.payload is not None:
                return _found(reading, fp, work.size, sizes)
            if best is None or reading.agreement > best.agreement:
                best = reading
    assert best is not None  # sizes is not empty
    return _not_found(best, sizes)
