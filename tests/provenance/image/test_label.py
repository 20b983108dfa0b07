from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aiact_transparency.provenance.image import label
from aiact_transparency.provenance.image.label import draw_ai_label, label_box

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.1 relative luminance of sRGB pixels (..., 3) in 0..255."""
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]


def _contrast(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def _outside(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = False
    return mask


@pytest.mark.parametrize("background", [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 30, 30)])
def test_badge_sits_top_right_is_legible_and_leaves_the_rest_alone(background: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (640, 480), background)
    labelled = draw_ai_label(image)
    assert labelled.mode == "RGB"
    assert labelled.size == image.size
    before, after = np.asarray(image), np.asarray(labelled)
    box = label_box(image.size)
    left, top, right, bottom = box
    assert right > 640 * 0.9 and top < 480 * 0.1  # top-right corner
    outside = _outside(box, after.shape)
    np.testing.assert_array_equal(after[outside], before[outside])
    assert (after[top:bottom, left:right] != before[top:bottom, left:right]).any(axis=-1).mean() > 0.5

    # Inside the outline: the plate is the most common value, the letters the brightest pixels.
    inner = _luminance(after[top + 4 : bottom - 4, left + 4 : right - 4])
    plate = float(np.median(inner))
    text = float(inner.max())
    assert (inner > 0.8).sum() > 30, "no solid text pixels found"
    assert _contrast(text, plate) >= 4.5
    # Non-text contrast (WCAG 1.4.11): the badge must stand out from the background it sits on, by the plate
    # against light backgrounds and by the light outline against dark ones.
    ring_top = _luminance(after[top, left + 8 : right - 8])
    bg = float(_luminance(np.array(background)))
    assert max(_contrast(plate, bg), _contrast(float(ring_top.max()), bg)) >= 3.0


def test_badge_scales_with_the_image_and_keeps_a_minimum_size() -> None:
    _, top, right, bottom = label_box((2000, 1000))
    assert 60 <= bottom - top <= 80  # ~7% of the shorter side
    assert right <= 2000 - top  # margin on the right as well as on top
    small = label_box((120, 90))
    assert small[3] - small[1] == label.MIN_BADGE_PX


def test_rgba_alpha_outside_the_badge_is_preserved_and_badge_is_visible_on_transparency() -> None:
    arr = np.zeros((200, 300, 4), dtype=np.uint8)
    arr[..., 0] = 90
    arr[..., 3] = np.linspace(0, 255, 300, dtype=np.uint8)[None, :]
    arr[:100, 150:, 3] = 0  # fully transparent top-right quadrant
    image = Image.fromarray(arr, "RGBA")
    labelled = draw_ai_label(image)
    assert labelled.mode == "RGBA"
    after = np.asarray(labelled)
    box = label_box(image.size)
    outside = _outside(box, after.shape)
    np.testing.assert_array_equal(after[outside], arr[outside])
    left, top, right, bottom = box
    assert after[top + 5 : bottom - 5, left + 5 : right - 5, 3].min() >= 200
    assert np.asarray(image).tobytes() == arr.tobytes()  # the input is not modified


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_grey_modes_are_kept(mode: str) -> None:
    image = Image.new(mode, (160, 120), 255 if mode == "L" else (255, 128))
    labelled = draw_ai_label(image)
    assert labelled.mode == mode
    after = np.asarray(labelled)
    box = label_box(image.size)
    np.testing.assert_array_equal(after[_outside(box, after.shape)], np.asarray(image)[_outside(box, after.shape)])


def test_vector_letters_when_freetype_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(label, "_freetype_font", lambda size: None)
    for background in ((0, 0, 0), (255, 255, 255)):
        labelled = np.asarray(draw_ai_label(Image.new("RGB", (400, 400), background)))
        left, top, right, bottom = label_box((400, 400))
        inner = _luminance(labelled[top + 4 : bottom - 4, left + 4 : right - 4])
        assert (inner > 0.8).sum() > 30
        assert _contrast(float(inner.max()), float(np.median(inner))) >= 4.5
    custom = draw_ai_label(Image.new("RGB", (400, 300), (0, 0, 0)), text="KI")  # scaled bitmap font
    assert np.asarray(custom).any()


def test_unsuitable_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        draw_ai_label(Image.new("RGB", (10, 10)))
    with pytest.raises(ValueError, match="modes"):
        draw_ai_label(Image.new("P", (100, 100)))
    with pytest.raises(ValueError, match="does not fit"):
        draw_ai_label(Image.new("RGB", (60, 400)), text="Generated by artificial intelligence")
    with pytest.raises(ValueError, match="empty"):
        draw_ai_label(Image.new("RGB", (100, 100)), text=" ")


def test_writes_a_sample_for_human_review() -> None:
    # A photo-like background (gradients and noise, bright sky to dark ground) to judge legibility by eye.
    height, width = 512, 768
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(3)
    arr = np.stack(
        [
            255 - y * 200 // height,
            180 - y * 120 // height + x * 40 // width,
            140 + x * 100 // width - y * 100 // height,
        ],
        axis=-1,
    )
    arr = np.clip(arr + rng.normal(0, 12, arr.shape), 0, 255).astype(np.uint8)
    labelled = draw_ai_label(Image.fromarray(arr, "RGB"))
    ARTIFACTS.mkdir(exist_ok=True)
    labelled.save(ARTIFACTS / "label-sample.png")
    assert (ARTIFACTS / "label-sample.png").stat().st_size > 0
