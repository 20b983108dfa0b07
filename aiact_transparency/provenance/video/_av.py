"""PyAV, the `video` extra, imported on first use with an error that names the extra."""

from __future__ import annotations

from types import ModuleType

from .errors import MissingVideoExtraError


def load_av() -> ModuleType:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingVideoExtraError("video marking needs the video extra: pip install 'aiact-transparency[video]'"
                                     ) from exc
    return av
