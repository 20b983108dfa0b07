"""The frame watermark on luminance planes: embed and read, its distortion, rescaling, and no false claims."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aiact_transparency.provenance.payload import WatermarkPayload
from aiact_transparency.provenance.video.watermark import (
    CODED_BITS,
    FALSE_POSITIVE_LIMIT,
    MIN_SHORT_SIDE,
    STEP,
    VideoWatermarkDetection,
    VideoWatermarkReader,
    _coded,
    _grid,
    _means,
    embed_frame_watermark,
)

PAYLOAD = WatermarkPayload(0x123456, 0xABCDEF)


def _noise(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 180 + 30).astype(np.uint8)


def _read(*planes: np.ndarray, depth: int = 8) -> VideoWatermarkDetection:
    reader = VideoWatermarkReader()
    for plane in planes:
        reader.add(plane, depth=depth)
    return reader.result()


def _psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(peak**2 / mse)


@pytest.mark.parametrize("shape", [(90, 160), (240, 426), (720, 1280), (640, 480)])
def test_embeds_and_reads_back_with_psnr_over_38_db(shape: tuple[int, int]) -> None:
    luma = _noise(shape)
    marked = embed_frame_watermark(luma, PAYLOAD)
    assert marked.dtype == np.uint8 and marked.shape == shape
    assert _psnr(luma, marked) >= 38.0
    result = _read(marked)
    assert result.found and result.payload == PAYLOAD


def test_flat_frames_carry_it_too() -> None:
    for level in (16, 128, 235):
        marked = embed_frame_watermark(np.full((90, 160), level, np.uint8), PAYLOAD)
        assert _read(marked).payload == PAYLOAD


def test_ten_bit_samples() -> None:
    rng = np.random.default_rng(3)
    luma = (rng.random((90, 160)) * 700 + 64).astype(np.uint16)
    marked = embed_frame_watermark(luma, PAYLOAD, depth=10)
    assert marked.dtype == np.uint16 and int(marked.max()) <= 1023
    assert _psnr(luma, marked, 1023.0) >= 38.0
    assert _read(marked, depth=10).payload == PAYLOAD


def test_a_rescaled_copy_reads_without_knowing_the_original_size() -> None:
    marked = embed_frame_watermark(_noise((360, 640)), PAYLOAD)
    for size in ((320, 180), (960, 540), (427, 240)):
        small = np.asarray(Image.fromarray(marked).resize(size, Image.Resampling.BICUBIC))
        assert _read(small).payload == PAYLOAD, size


def test_a_brightness_change_is_undone() -> None:
    marked = embed_frame_watermark(_noise((180, 320)), PAYLOAD)
    brighter = np.clip(marked.astype(np.int16) + 3, 0, 255).astype(np.uint8)
    assert _read(brighter).payload == PAYLOAD


def test_unmarked_frames_are_never_claimed() -> None:
    frames = [_noise((90, 160), seed) for seed in range(40)]
    frames += [np.full((90, 160), level, np.uint8) for level in (0, 16, 128, 255)]
    frames += [np.tile(np.arange(160, dtype=np.uint8), (90, 1)), np.tile(np.arange(90, dtype=np.uint8)[:, None], 160)]
    for frame in frames:
        result = _read(frame)
        assert not result.found and result.payload is None
        assert result.false_positive_probability == 1.0
    assert not _read(*frames).found


@pytest.mark.parametrize("shape", [(360, 640), (480, 640), (1080, 1080)])
def test_striped_unmarked_frames_are_never_claimed(shape: tuple[int, int]) -> None:
    # Content in step with the cells (stripes one to a few cells wide, every phase, along either axis) gives the
    # decoder structured soft values; the public mask keeps the words it decodes from them no likelier to pass.
    grid = _grid(*shape)
    for period in range(2, 7):
        for phase in range(period):
            for index in (grid.row_cell[:, None] + 0 * grid.col_cell, 0 * grid.row_cell[:, None] + grid.col_cell):
                frame = np.where(index % period == phase, 200, 40).astype(np.uint8)
                assert not _read(frame).found, (period, phase)


def test_another_payload_is_read_as_itself() -> None:
    other = WatermarkPayload(1, 2)
    assert _read(embed_frame_watermark(_noise((90, 160)), other)).payload == other


def test_found_states_its_bound() -> None:
    result = _read(embed_frame_watermark(_noise((90, 160)), PAYLOAD))
    # every word tried counts: 32 brightness shifts, one decoded word each, passing by chance with 2^-33
    assert result.readings == 32
    assert result.false_positive_probability == pytest.approx(32 * 2.0**-33)
    assert result.false_positive_probability <= FALSE_POSITIVE_LIMIT
    assert "2^-33" in result.based_on


def test_saturated_binary_noise_lands_on_the_lattice() -> None:
    # Black-and-white pixel noise (lavfi cellauto): most pixels at 0 or 255, where clipping held half of each
    # cell back and the means landed up to 0.2 of a step off their lattice point; a CRF 28 re-encode lost the word.
    rng = np.random.default_rng(5)
    luma = np.where(rng.random((240, 426)) < 0.5, 0, 255).astype(np.uint8)
    marked = embed_frame_watermark(luma, PAYLOAD)
    grid = _grid(240, 426)
    bits = _coded(PAYLOAD)[grid.bit]
    phase = (_means(marked, grid, 1.0) / STEP - 0.25 - 0.5 * bits) % 1.0
    assert float(np.max(np.minimum(phase, 1.0 - phase))) < 0.03
    assert _psnr(luma, marked) >= 38.0
    assert _read(marked).payload == PAYLOAD


def _reader_voting(coded: np.ndarray, strength: np.ndarray) -> VideoWatermarkReader:
    """A reader whose votes at shift 0 are +-strength for the coded bits (a 1 has phase 3/4: sin -1, cos 0)."""
    reader = VideoWatermarkReader(frames=1)
    reader._sin[:] = np.where(coded == 1, -1.0, 1.0) * strength
    return reader


def test_scattered_wrong_votes_are_corrected_by_the_code() -> None:
    # A CRF 28 re-encode of binary pixel noise leaves a quarter of the cells on the wrong side of their lattice
    # point, the same cells frame after frame (the encoder's error follows the content), so voting over frames
    # cannot undo it; the convolutional code does. 24 of the 174 coded votes wrong at full strength: read.
    coded = _coded(PAYLOAD).astype(np.int64)
    assert coded.shape == (CODED_BITS,)
    wrong = np.random.default_rng(1).choice(CODED_BITS, 24, replace=False)
    coded[wrong] ^= 1
    assert _reader_voting(coded, np.ones(CODED_BITS)).result().payload == PAYLOAD
    # and half of them wrong is noise: nothing is claimed
    noise = np.random.default_rng(2).integers(0, 2, CODED_BITS)
    result = _reader_voting(noise, np.ones(CODED_BITS)).result()
    assert not result.found and result.payload is None


def test_too_small_frames_are_refused_and_not_read() -> None:
    tiny = _noise((MIN_SHORT_SIDE - 1, 80))
    with pytest.raises(ValueError, match="too small"):
        embed_frame_watermark(tiny, PAYLOAD)
    result = _read(tiny)
    assert not result.found and result.frames_read == 0
