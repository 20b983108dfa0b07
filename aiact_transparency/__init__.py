"""EU AI Act Article 50 transparency for ASGI and Gradio apps: disclose, label, mark and sign."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .asgi import TransparencyMiddleware
from .config import ConfigError, TransparencyConfig
from .disclosure import Disclosure
from .provenance.errors import ImageMarkingError, MarkingError
from .provenance.image.marker import ImageMarker, MarkedImage, MarkReport, mark_image
from .provenance.keys import KeyConfigError, ManifestSigner
from .provenance.media import MarkedMedia, mark
from .provenance.text import TextWatermarkReport, detect_text_watermark, watermark_logits
from .provenance.text.c2pa_text import strip_c2pa_text
from .provenance.text.marking import MarkedText, mark_text, verify_text
from .provenance.verify import VerificationReport, verify
from .startup import load_config

if TYPE_CHECKING:
    from .provenance.audio.marker import MarkedAudio
    from .provenance.video.marker import MarkedVideo


def mark_audio(data: bytes, *, config: TransparencyConfig, media_type: str | None = None,
               accept_language: str | None = None) -> MarkedAudio:
    """Mark one WAV, FLAC, MP3 or M4A clip with every layer `config.audio` asks for (needs the `audio` extra,
    imported on the first call so the package works without it). `accept_language`: an Accept-Language value
    that picks the spoken disclaimer's language when `audio.disclaimer.language` is not set."""
    from .provenance.audio.marker import mark_audio as _mark_audio

    return _mark_audio(data, config=config, media_type=media_type, accept_language=accept_language)


def mark_video(data: bytes, *, config: TransparencyConfig, media_type: str | None = None) -> MarkedVideo:
    """Mark one MP4 or MOV video with every layer `config.video` asks for: a watermark in every frame and in the
    soundtrack, the optional EU "AI" icon, a signed C2PA manifest (needs the `video` extra, imported on the first
    call so the package works without it)."""
    from .provenance.video.marker import mark_video as _mark_video

    return _mark_video(data, config=config, media_type=media_type)

__all__ = [
    "ConfigError",
    "Disclosure",
    "ImageMarker",
    "ImageMarkingError",
    "KeyConfigError",
    "ManifestSigner",
    "MarkReport",
    "MarkedImage",
    "MarkedMedia",
    "MarkedText",
    "MarkingError",
    "TextWatermarkReport",
    "TransparencyConfig",
    "TransparencyMiddleware",
    "VerificationReport",
    "__version__",
    "detect_text_watermark",
    "load_config",
    "mark",
    "mark_audio",
    "mark_image",
    "mark_text",
    "mark_video",
    "strip_c2pa_text",
    "verify",
    "verify_text",
    "watermark_logits",
]
