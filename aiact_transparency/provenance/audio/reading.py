"""The audio watermark section of `verify`: decode under limits, detect, say what the finding rests on."""

from __future__ import annotations

from typing import Any

from .codec import DEFAULT_MAX_SECONDS, decode_audio
from .errors import AudioMarkingError
from .watermark import detect_audio_watermark, system_id_for


def audio_watermark_section(data: bytes, system_name: str | None, max_seconds: float = DEFAULT_MAX_SECONDS
                            ) -> dict[str, Any]:
    """What the watermark detector finds in an encoded clip; never raises for bad audio (it says why)."""
    try:
        decoded = decode_audio(data, max_seconds=max_seconds)
    except AudioMarkingError as exc:
        return {"found": False, "based_on": f"samples cannot be decoded: {exc}"}
    detection = detect_audio_watermark(decoded.samples, decoded.format.rate)
    section: dict[str, Any] = detection.to_dict()
    if detection.payload is not None and system_name is not None:
        section["system_matches"] = detection.payload.system_id == system_id_for(system_name)
    return section
