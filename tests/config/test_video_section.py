"""The `video` section: defaults, validation inside load_config with the field named, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiact_transparency import ConfigError, TransparencyConfig, load_config


def test_defaults() -> None:
    video = TransparencyConfig().video
    assert video.enabled and video.watermark and video.audio_watermark and video.c2pa and not video.visible_label
    assert video.label_seconds == 3.0 and video.label_every_seconds == 30.0 and video.executor == "process"


@pytest.mark.parametrize(("text", "field"), [
    ("video:\n  label_seconds: 2\n", "video.label_seconds"),  # the Code of Practice's start: at least 3 s
    ("video:\n  label_every_seconds: 1\n", "video.label_every_seconds"),
    ("video:\n  max_pixels: 0\n", "video.max_pixels"),
    ("video:\n  executor: fork\n", "video.executor"),
    ("video:\n  watermarks: true\n", "video.watermarks"),
    ("images:\n  visible_label: big\n", "images.visible_label"),
])
def test_bad_values_are_config_errors_naming_the_field(text: str, field: str, tmp_path: Path) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert field in str(caught.value) and str(path) in str(caught.value)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIACT_VIDEO__VISIBLE_LABEL", "true")
    monkeypatch.setenv("AIACT_VIDEO__LABEL_EVERY_SECONDS", "60")
    monkeypatch.setenv("AIACT_IMAGES__VISIBLE_LABEL", "ai-modified")
    config = TransparencyConfig()
    assert config.video.visible_label and config.video.label_every_seconds == 60.0
    assert config.images.visible_label == "ai-modified" and config.images.label_variant == "ai-modified"
