"""The soundtrack of a video: decoded whole (float32, 0.4 MB per second of stereo at 48 kHz, bounded by the
video's max_seconds), and encoded again in its codec family into the output container, at the rate it came in
at as the audio medium reads it (`audio.bit_rate`: the esds box's declared rate, not the lower average of easy
sound; a standard rate, so that marking it again does not drift).

Only MP4 and MOV are marked (WebM and Matroska are recognised, never re-encoded: `formats`), so every soundtrack
here is an MP4 track. An AAC or MP3 one has an esds box. An Opus one (MP4's `Opus` entry) has only its average,
rounded: its `dOps` box declares no rate (nor does Matroska, whose BPS tag, where a muxer writes one, is an
average too), and libopus's VBR strays from its target both ways (4 s clips asked for 96 kbit/s: 109-173). It
is re-encoded as AAC, whose esds box then declares the rate, so only the first marking reads an average."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.bit_rate import mp4_bit_rate, steadier_rate
from ..audio.codec import decoded_samples
from ._av import load_av
from .errors import VideoTooLargeError

__all__ = ["AudioTrack", "audio_packets", "decode_soundtrack"]

_AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "mp3float": "libmp3lame"}
# At least 128 kbit/s, the one place the rate read is raised: the soundtrack's watermark rarely reads back below.
# Measured on 4 s stereo soundtracks (pink noise under a chord, music, speech, rain, tones; 8 words each) that
# came in as AAC at 96 kbit/s: encoded again at 96 it read on 1 of 40, at 128 on 25 of 40; from 64 kbit/s: 0 of
# 40 at 64, 7 at 96, 32 at 128. The soundtrack is a small share of a video's bytes.
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
        average = stream.bit_rate or 0
        info = (ctx.name, max(mp4_bit_rate(data, average), _MIN_AUDIO_BIT_RATE), ctx.layout.name)
        return AudioTrack(np.concatenate(parts), rate, ctx.layout.name), info


def audio_packets(track: AudioTrack, codec: str, bit_rate: int, container: Any) -> tuple[Any, list[Any]]:
    """An output audio stream in the input's codec family (AAC for anything else) and its encoded packets."""
    av = load_av()
    encoder = _AUDIO_ENCODERS.get(codec, "aac")
    stream: Any = container.add_stream(encoder, rate=track.rate, layout=track.layout)
    stream.bit_rate = bit_rate
    planar = np.ascontiguousarray(np.clip(track.samples, -1.0, 1.0).T)
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=track.layout)
    frame.sample_rate = track.rate
    frame.pts = 0
    packets = [*stream.encode(frame), *stream.encode(None)]
    average = sum(packet.size for packet in packets) * 8 * track.rate / max(1, len(track.samples))
    again = steadier_rate(bit_rate, average) if encoder == "aac" else None
    if again is not None:
        # FFmpeg's AAC encoder overshot by more than a step: the output would be read as a higher rate at every
        # marking (`audio.bit_rate`). Encoded again lower by an encoder of the same settings (the stream's own,
        # which wrote the stream's parameters, is spent), its average lands in the step it is named for.
        again_packets = _encoded(av, encoder, track, again, planar)
        for packet in again_packets:
            packet.stream = stream
        packets = again_packets
    return stream, packets


def _encoded(av: Any, encoder: str, track: AudioTrack, bit_rate: int, planar: F32) -> list[Any]:
    context: Any = av.CodecContext.create(encoder, "w")
    context.sample_rate, context.layout, context.format = track.rate, track.layout, "fltp"
    context.bit_rate = bit_rate
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=track.layout)
    frame.sample_rate = track.rate
    frame.pts = 0
    return [*context.encode(frame), *context.encode(None)]
