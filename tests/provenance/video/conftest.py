"""Tiny generated clips (160x90 to 320x180, 2-3 s), made once per session with the system's ffmpeg."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiact_transparency import TransparencyConfig
from tests.tools import require_tool

from .clips import ClipSpec, make_clip


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-clips")


@pytest.fixture(scope="session")
def make(clip_folder: Path) -> Callable[..., bytes]:
    def build(source: str = "testsrc2", width: int = 160, height: int = 90, seconds: float = 2.0, **kw: object
              ) -> bytes:
        ffmpeg = require_tool("ffmpeg")
        return make_clip(ClipSpec(source, width, height, seconds, **kw), clip_folder, ffmpeg).read_bytes()  # type: ignore[arg-type]

    return build


@pytest.fixture
def video_config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Video Test System"})
