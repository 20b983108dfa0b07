"""The config layer: the file's sections, TransparencyConfig, the model card, and errors that say how to fix.

It imports nothing above itself. Parsing only: :func:`aiact_transparency.load_config` (startup.py) parses with
:func:`parse_config` and then runs the start-up checks that need disclosure and provenance.
"""

from __future__ import annotations

from .detection import DetectionSettings, RateLimitSettings
from .errors import ConfigError, config_origin, config_problem, format_validation_error
from .files import read_config_file
from .fingerprints import FingerprintSettings
from .modelcard import ModelFacts, model_facts
from .sections import (
    BannerConfig,
    DisclosureConfig,
    DisclosureMode,
    FailurePolicy,
    ImagesConfig,
    ModelConfig,
    RiskClass,
    RouteRule,
    SigningConfig,
    SystemConfig,
    Text,
)
from .settings import TransparencyConfig, parse_config
from .text import TextConfig, TextWatermarkSettings
from .video import VideoConfig

__all__ = [
    "BannerConfig",
    "ConfigError",
    "DetectionSettings",
    "DisclosureConfig",
    "DisclosureMode",
    "FailurePolicy",
    "FingerprintSettings",
    "ImagesConfig",
    "ModelConfig",
    "ModelFacts",
    "RateLimitSettings",
    "RiskClass",
    "RouteRule",
    "SigningConfig",
    "SystemConfig",
    "Text",
    "TextConfig",
    "TextWatermarkSettings",
    "TransparencyConfig",
    "VideoConfig",
    "config_origin",
    "config_problem",
    "format_validation_error",
    "model_facts",
    "parse_config",
    "read_config_file",
]
