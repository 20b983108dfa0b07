"""EU AI Act Article 50 transparency for ASGI and Gradio apps: disclose, label, mark and sign."""

from __future__ import annotations

from ._version import __version__
from .asgi import TransparencyMiddleware
from .config import ConfigError, TransparencyConfig
from .disclosure import Disclosure
from .provenance.errors import ImageMarkingError
from .provenance.image.marker import ImageMarker, MarkedImage, MarkReport, mark_image
from .provenance.keys import KeyConfigError, ManifestSigner
from .provenance.text import TextWatermarkReport, detect_text_watermark, watermark_logits
from .provenance.text.c2pa_text import strip_c2pa_text
from .provenance.text.marking import MarkedText, mark_text, verify_text
from .provenance.verify import VerificationReport, verify
from .startup import load_config

__all__ = [
    "ConfigError",
    "Disclosure",
    "ImageMarker",
    "ImageMarkingError",
    "KeyConfigError",
    "ManifestSigner",
    "MarkReport",
    "MarkedImage",
    "MarkedText",
    "TextWatermarkReport",
    "TransparencyConfig",
    "TransparencyMiddleware",
    "VerificationReport",
    "__version__",
    "detect_text_watermark",
    "load_config",
    "mark_image",
    "mark_text",
    "strip_c2pa_text",
    "verify",
    "verify_text",
    "watermark_logits",
]
