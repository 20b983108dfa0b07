"""The detection service (issue 11): is this content marked, by this system or another, and based on what.

`Detector` / `detect_bytes` / `detect_text` answer locally; `DetectionEndpoint` serves the same answer over
HTTP (JSON, a signed JWS, or an accessible page); `remote.detect_remote` asks a deployed detector.
"""

from __future__ import annotations

from ..config.detection import DetectionSettings, RateLimitSettings
from .fingerprint import FingerprintIndex, FingerprintMatch
from .local import DetectionResult, Detector, UnsupportedContent, detect_bytes, detect_text
from .verdict import Verdict, combine

__all__ = [
    "DetectionResult",
    "DetectionSettings",
    "Detector",
    "FingerprintIndex",
    "FingerprintMatch",
    "RateLimitSettings",
    "UnsupportedContent",
    "Verdict",
    "combine",
    "detect_bytes",
    "detect_text",
]
