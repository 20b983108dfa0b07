"""Reading a video's watermarks: the frames (the first `seconds` of them) and the soundtrack, each a layer of its
own in the answer, with the false-positive bound of the union. Never raises for bad video: it says why."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..audio.codec import decoded_samples
from ..payload import system_id_for
from ._av import load_av
from .codec import PIXEL_FORMATS, VideoLimits, luma_plane, open_video
from .errors import VideoMarkingError
from .watermark import FALSE_POSITIVE_LIMIT, VideoWatermarkDetection, VideoWatermarkReader

__all__ = ["read_frames", "read_soundtrack", "video_watermark_section"]

_MAX_FRAMES = 120  # at most this many frames are voted (spread over the seconds read): detection stays ~1 s


def read_frames(data: bytes, *, seconds: float, limits: VideoLimits) -> VideoWatermarkDetection:
    """Vote the frame watermark over the first `seconds` (raises VideoMarkingError for unreadable video)."""
    av = load_av()
    container, facts = open_video(data, limits)
    reader = VideoWatermarkReader()
    every = max(1, round(float(facts.rate) * seconds / _MAX_FRAMES))
    depth = PIXEL_FORMATS[facts.pixel_format]
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first: float | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                if frame.time is not None:
                    first = frame.time if first is None else first
                    if frame.time - first > seconds:
                        break
                if index % every == 0:
                    reader.add(luma_plane(frame), depth=depth)
        except av.error.FFmpegError:
            pass  # a damaged tail: what decoded is still evidence
    return reader.result()


def read_soundtrack(data: bytes, *, seconds: float) -> dict[str, Any] | None:
    """The audio watermark's reading of the soundtrack's first `seconds` (None: no soundtrack)."""
    try:
        av = load_av()
    except ImportError:
        return {"found": False, "based_on": "not read: install aiact-transparency[video] to read the soundtrack"}
    try:
        from ..audio.watermark import detect_audio_watermark
    except ImportError:
        return {"found": False, "based_on": "not read: install aiact-transparency[audio] to read the soundtrack"}
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.error.FFmpegError as exc:
        return {"found": False, "based_on": f"soundtrack cannot be read: {exc}"}
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        parts: list[np.ndarray[Any, Any]] = []
        total = 0
        try:
            for part in decoded_samples(container.decode(stream), channels):
                parts.append(part)
                total += len(part)
                if total >= seconds * rate:
                    break
        except av.error.FFmpegError:
            pass
    if not parts:
        return {"found": False, "based_on": "the soundtrack decodes to no samples"}
    return detect_audio_watermark(np.concatenate(parts), rate).to_dict()


def video_watermark_section(data: bytes, system_name: str | None, *, seconds: float = 4.0,
                            limits: VideoLimits | None = None) -> dict[str, Any]:
    """The watermark section of `verify` for a video: found when either layer (frames, soundtrack) finds one."""
    limits = limits or VideoLimits(max_seconds=24 * 3600.0, max_pixels=3840 * 2160)
    try:
        frames = read_frames(data, seconds=seconds, limits=limits).to_dict()
    except VideoMarkingError as exc:
        frames = {"found": False, "based_on": f"frames cannot be decoded: {exc}"}
    soundtrack = read_soundtrack(data, seconds=max(seconds, 3.0))
    layers = {"frames": frames, **({"soundtrack": soundtrack} if soundtrack is not None else {})}
    found = [name for name, layer in layers.items() if layer.get("found")]
    bound = sum(float(layer["false_positive_probability"]) for layer in layers.values() if layer.get("found"))
    section: dict[str, Any] = {"found": bool(found) and bound <= FALSE_POSITIVE_LIMIT, "layers": layers}
    if found:
        first = layers[found[0]]
        section["payload"] = first["payload"]
        section["bit_agreement"] = first["bit_agreement"]
        section["false_positive_probability"] = bound
        section["found_by"] = found
        section["based_on"] = f"watermark found in the {' and the '.join(found)}: " + "; ".join(
            f"{name}: {layers[name]['based_on']}" for name in found)
        if system_name is not None:
            section["system_matches"] = first["payload"]["system_id"] == system_id_for(system_name)
    else:
        section["false_positive_probability"] = 1.0
        section["bit_agreement"] = 0.0
        section["based_on"] = "no watermark in the frames" + (" or the soundtrack" if soundtrack else "") + ": " + \
            "; ".join(f"{name}: {layer['based_on']}" for name, layer in layers.items())
    return section
