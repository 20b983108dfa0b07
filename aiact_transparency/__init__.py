"""EU AI Act Article 50 transparency for ASGI and Gradio apps: disclose, label, mark and sign."""

from __future__ import annotations

from ._config_errors import ConfigError
from ._version import __version__
from .config import TransparencyConfig, load_config
from .disclosure import Disclosure
from .middleware import TransparencyMiddleware

__all__ = [
    "ConfigError",
    "Disclosure",
    "TransparencyConfig",
    "TransparencyMiddleware",
    "__version__",
    "load_config",
]
