"""The soundtrack of a video: decoded whole (float32, 0.4 MB per second of stereo at 48 kHz, bounded by the
video's max_seconds), and encoded again in its codec family into the output container."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.codec import decoded_samples
from ._av import load_av
from .errors import VideoTooLargeError

__all__ = ["AudioTrack", "audio_packets", "decode_soundtrack"]

_AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "mp3float": "libmp3lame"}
# At least 128 kbit/s: the audio watermark is not read back after AAC at 70 kbit/s (measured), and the
# soundtrack is a small share of a video's bytes.
_MIN_AUDIO_BIT_RATE = 128_000
F32 = npt.NDArray[np.float32]


@dataclass
class AudioTrack:
    """The decoded soundtrack handed to `on_audio`: samples [n, channels] float32, and their rate."""

    samples: F32
    rate: int
    layout: str



def decode_soundtrack(data: bytes, max_seconds: float) -> tuple[AudioTrack, tuple[str, int, str]] | None:
    """The whole soundtrack (a separate demuxer pass: only audio packets are decoded) and (codec, bit rate,
    layout) to encode it with, or None without one."""
    av = load_av()
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        channels, rate = ctx.channels, ctx.sample_rate
        parts: list[F32] = []
        total = 0
        for part in decoded_samples(container.decode(stream), channels):
            parts.append(part)
            total += len(part)
            if total > max_seconds * rate + rate:
                raise VideoTooLargeError(f"the soundtrack lasts over video.max_seconds = {max_seconds:g}")
        if not parts:
            return None
        info = (ctx.name, max(stream.bit_rate or 0, _MIN_AUDIO_BIT_RATE), ctx.layout.name)
        return AudioTrack(np.concatenate(parts), rate, ctx.layout.name), info


def audio_packets(track: AudioTrack, codec: str, bit_rate: int, container: Any) -> tuple[Any, list[Any]]:
    """An output audio stream in the input's codec family (AAC for anything else) and its encoded packets."""
    av = load_av()
    stream: Any = container.add_stream(_AUDIO_ENCODERS.get(codec, "aac"), rate=track.rate, layout=track.layout)
    stream.bit_rate = bit_rate
    planar = np.ascontiguousarray(np.clip(track.samples, -1.0, 1.0).T)
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=track.layout)
    frame.sample_rate = track.rate
    frame.pts = 0
    packets = [*stream.encode(frame), *stream.encode(None)]
    return stream, packets
