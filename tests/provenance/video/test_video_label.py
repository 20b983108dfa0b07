"""The EU "AI" icon: its variant per disclosure.mode, on video frames at the start and at intervals, legible on
any background (WCAG contrast computed by the checker's own formula), and the same icon family for images."""

from __future__ import annotations

import io
from collections.abc import Callable

import av
import numpy as np
import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig, mark_image, mark_video
from aiact_transparency.check.contrast import ratio
from aiact_transparency.provenance.image.label import badge_for, label_box
from aiact_transparency.provenance.video.codec import luma_plane
from aiact_transparency.provenance.video.label import FrameLabel, label_for_mode, shown_at

Make = Callable[..., bytes]


@pytest.mark.parametrize(("mode", "text"), [("ai-originated", "AI GENERATED"), ("machine-generated", "AI GENERATED"),
                                            ("ai-modified", "AI MODIFIED"), ("none", "AI")])
def test_the_variant_follows_the_disclosure_mode(mode: str, text: str) -> None:
    assert label_for_mode(mode) == text


def test_shown_at_the_start_then_at_intervals() -> None:
    assert [shown_at(t, 3.0, 10.0) for t in (0.0, 2.9, 3.1, 9.9, 10.0, 12.9, 13.1)] == [
        True, True, False, False, True, True, False]
    assert not shown_at(30.0, 3.0, None) and shown_at(1.0, 3.0, None)


def _grey(y: float) -> tuple[float, float, float, float]:
    value = (y - 16.0) / 219.0 * 255.0  # limited-range luma as a grey level
    return (value, value, value, 1.0)


@pytest.mark.parametrize("background", [16, 128, 235])
def test_letters_keep_4_5_to_1_on_any_background(background: int) -> None:
    frame = av.VideoFrame(1280, 720, "yuv420p")
    luma_plane(frame)[...] = background
    label = FrameLabel(1280, 720, "yuv420p", "AI GENERATED")
    label.apply(frame)
    badge, (left, top) = badge_for((1280, 720), text="AI GENERATED")
    rgba = np.asarray(badge)
    region = luma_plane(frame)[top : top + badge.height, left : left + badge.width].astype(float)
    letters = region[(rgba[:, :, 3] == 255) & (rgba[:, :, 0] == 255)]
    plate = region[(rgba[:, :, 3] > 150) & (rgba[:, :, 0] < 40)]
    assert letters.size and plate.size
    assert ratio(_grey(float(np.median(letters))), _grey(float(np.median(plate)))) >= 4.5
    assert badge.height == round(720 * 0.07)  # scaled to the frame


def _corner(data: bytes, at: float) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at:
                luma = luma_plane(frame).astype(float)
                return luma[: luma.shape[0] // 4, -luma.shape[1] // 2 :]
    raise AssertionError(f"no frame at {at} s")


def test_the_icon_is_on_video_at_the_start_and_again_at_the_interval(make: Make) -> None:
    data = make("card", 320, 180, 7.0, audio=False)  # a still card: only the icon changes the corner
    plain = mark_video(data, config=TransparencyConfig(video={"c2pa": False}))
    labelled = mark_video(data, config=TransparencyConfig(
        video={"visible_label": True, "label_seconds": 3, "label_every_seconds": 5, "c2pa": False}))
    assert labelled.report.visible_label == "AI GENERATED" and plain.report.visible_label is None
    changed = {t: float(np.abs(_corner(labelled.data, t) - _corner(plain.data, t)).mean()) for t in (0.5, 2.5, 4.0,
                                                                                                      5.5, 6.5)}
    assert changed[0.5] > 10 and changed[2.5] > 10 and changed[5.5] > 10 and changed[6.5] > 10, changed
    assert changed[4.0] < 3, changed  # only the two payloads and the encoder differ there
    assert labelled.report.watermark is not None  # the watermark survives the icon


def test_images_get_the_same_icon_family() -> None:
    picture = Image.new("RGB", (640, 360), (90, 140, 200))
    out = io.BytesIO()
    picture.save(out, "PNG")
    for variant, text in (("ai", "AI"), ("ai-generated", "AI GENERATED"), ("ai-modified", "AI MODIFIED")):
        config = TransparencyConfig(images={"visible_label": variant, "watermark": False, "c2pa": False})
        marked = np.asarray(Image.open(io.BytesIO(mark_image(out.getvalue(), config=config).data)).convert("RGB"))
        left, top, right, bottom = label_box((640, 360), text=text)
        changed = np.any(marked != np.asarray(picture), axis=2)
        ys, xs = np.nonzero(changed)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (left, top, right, bottom), variant


def test_a_frame_too_small_for_the_icon_is_said_not_drawn(make: Make) -> None:
    marked = mark_video(make("testsrc2", 64, 36, 2.0, audio=False), config=TransparencyConfig(
        video={"visible_label": True}))
    assert marked.report.visible_label is None and marked.report.watermark is None
    assert any(note.startswith("no visible label") for note in marked.report.notes)
    assert any(note.startswith("no frame watermark") for note in marked.report.notes)
    assert marked.report.c2pa is not None
