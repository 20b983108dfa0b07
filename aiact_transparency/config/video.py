"""The `video` config section: `TransparencyConfig.video`, read from the config file::

    video:
      enabled: true            # mark video/mp4 and video/quicktime responses on media routes
      watermark: true          # the imperceptible watermark in every frame (luminance)
      audio_watermark: true    # the audio watermark in the soundtrack (clips with sound of 2 s or more)
      c2pa: true               # the signed manifest (signer: images.signing, shared by every medium)
      visible_label: false     # the EU "AI" icon, top right: the variant disclosure.mode calls for
      label_seconds: 3         # shown from the start for this long (at least 3 s) ...
      label_every_seconds: 30  # ... and again for label_seconds at this interval (null: at the start only)
      on_error: fail-closed
      max_bytes: 268435456
      max_seconds: 300
      max_pixels: 8294400      # per frame (3840x2160)
      detect_seconds: 4        # how much of a video the detector reads
      executor: process        # marking runs in worker processes (thread: in the responders' worker threads)
      workers: 1               # video marking processes (each uses about one core; x264 adds threads)
      mark_timeout: 300        # seconds a response waits for its video to be marked, queueing included

The marker (provenance/video/marker.py) reads these; the limits bound what it decodes. Re-encoding settings
(codec, pixel format, frame rate, bit rate) are not configurable: they follow the input.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .sections import FailurePolicy


class VideoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    watermark: bool = True
    audio_watermark: bool = True
    c2pa: bool = True
    visible_label: bool = False
    label_seconds: float = Field(default=3.0, ge=3.0, le=60.0)
    label_every_seconds: float | None = Field(default=30.0, ge=5.0, le=3600.0)
    on_error: FailurePolicy = "fail-closed"
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_seconds: float = Field(default=300.0, gt=0.0, le=24 * 3600.0)
    max_pixels: int = Field(default=3840 * 2160, ge=1024)
    detect_seconds: float = Field(default=4.0, ge=1.0, le=60.0)
    executor: Literal["thread", "process"] = "process"
    workers: int = Field(default=1, ge=1, le=64)
    mark_timeout: float = Field(default=300.0, gt=0.0, le=24 * 3600.0)
