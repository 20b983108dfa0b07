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

from ..audio.bit_rate import mp4_bit_rate, steady_encode
from ..audio.codec import decoded_samples, encoded_packets, encoder_context
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
        # the esds of this track (stream.id is its tkhd's track_ID), not of the file's first AAC track
        read = mp4_bit_rate(data, stream.bit_rate or 0, stream.id)
        info = (ctx.name, max(read, _MIN_AUDIO_BIT_RATE), ctx.layout.name)
        return AudioTrack(np.concatenate(parts), rate, ctx.layout.name), info


def audio_packets(track: AudioTrack, codec: str, bit_rate: int, container: Any) -> tuple[Any, list[Any]]:
    """An output audio stream in the input's codec family (AAC for anything else) and its encoded packets."""
    encoder = _AUDIO_ENCODERS.get(codec, "aac")
    stream: Any = container.add_stream(encoder, rate=track.rate, layout=track.layout)
    stream.bit_rate = bit_rate
    planar = np.ascontiguousarray(np.clip(track.samples, -1.0, 1.0).T)
    packets = encoded_packets(stream.codec_context, planar, track.rate, track.layout)
    if encoder == "aac":
        # FFmpeg's AAC encoder may overshoot by more than a step: the output would be read as a higher rate at
        # every marking (`audio.bit_rate`). Such a track is encoded again lower, at most 3 more times (each a
        # whole encode), by an encoder of the same settings (the stream's, which wrote the stream's parameters,
        # is spent); the stream keeps the rate asked, which the muxer declares as the maximum.
        packets = steady_encode(bit_rate, packets, lambda rate: encoded_packets(
            encoder_context(encoder, track.rate, track.layout, rate), planar, track.rate, track.layout), _average)
    for packet in packets:
        packet.stream = stream
    return stream, packets


def _average(packets: list[Any]) -> float | None:
    """The bit rate FFmpeg's MP4 muxer will declare as the track's average: its bytes over its duration (the
    packets' durations, in samples, the priming included, as the muxer counts them)."""
    time_base = packets[0].time_base if packets else None
    seconds = float(sum(packet.duration or 0 for packet in packets) * time_base) if time_base else 0.0
    return sum(packet.size for packet in packets) * 8 / seconds if seconds else None
