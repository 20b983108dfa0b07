"""Decoding audio under limits, and encoding it back in the format it came in.

WAV and FLAC go through soundfile (libsndfile): lossless in, lossless out, with the same PCM sample width.
MP3 and MP4/AAC go through PyAV (its wheels carry FFmpeg with libmp3lame and FFmpeg's native AAC encoder;
MP3 is encoded by the system's libmp3lame instead when it is installed, `_lame`, about 3x faster):
the output keeps the sample rate, the channel count and the input's bit rate (the stream's nominal rate, or
the average of a VBR stream, rounded to a standard rate; for M4A read with what its esds box declares, and
encoded so that it reads back at that rate: `bit_rate`). Both libraries
are the `audio` extra, imported on first use so the rest of the package works without them.

Bad input becomes an `AudioMarkingError` subclass naming the problem and the fix; library exceptions never
leak. Refused on purpose: more than `MAX_CHANNELS` channels, rates outside `MIN_RATE`-`MAX_RATE` (the
watermark lives up to 7 kHz, which an 8 kHz file cannot hold), and floating-point WAV/FLAC (it would have
to be re-encoded as integers, or be marked without any headroom check).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ._lame import encoder as system_lame
from ._mp4 import declared_bit_rates
from ._sniff import CANONICAL_TYPE, media_format
from .bit_rate import mp4_bit_rate, standard_bit_rate, steady_encode
from .errors import (
    AudioTooLongError,
    CorruptAudioError,
    MissingAudioExtraError,
    UnsupportedAudioError,
    UnsupportedAudioLayoutError,
)

__all__ = ["MAX_CHANNELS", "MAX_RATE", "MIN_RATE", "AudioFormat", "DecodedAudio", "decode_audio", "decoded_samples",
           "encode_audio", "encoded_packets", "encoder_context"]

MAX_CHANNELS = 2
MIN_RATE = 16_000
MAX_RATE = 96_000
DEFAULT_MAX_SECONDS = 600.0
_PCM_SUBTYPES = {"PCM_16", "PCM_24", "PCM_32", "PCM_U8", "PCM_S8"}
_PYAV_CONTAINER = {"mp3": "mp3", "m4a": "ipod"}  # FFmpeg's muxer names; "ipod" writes .m4a (brand M4A)
_PYAV_CODEC = {"mp3": "libmp3lame", "m4a": "aac"}

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AudioFormat:
    """What the input was, so that the output can be the same."""

    name: str  # wav, flac, mp3, m4a
    rate: int
    channels: int
    subtype: str | None = None  # soundfile's PCM subtype for wav/flac (PCM_16, PCM_24, ...)
    bit_rate: int | None = None  # bit/s for mp3/m4a
    lossless: bool = True

    @property
    def media_type(self) -> str:
        return CANONICAL_TYPE[self.name]


@dataclass(frozen=True)
class DecodedAudio:
    samples: F32  # [n, channels], float32, full scale +-1
    format: AudioFormat

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.format.rate


def _soundfile() -> ModuleType:
    try:
        import soundfile
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingAudioExtraError(
            "audio marking needs the audio extra: pip install 'aiact-transparency[audio]'"
        ) from exc
    module: ModuleType = soundfile
    return module


def _av() -> ModuleType:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingAudioExtraError(
            "audio marking needs the audio extra: pip install 'aiact-transparency[audio]'"
        ) from exc
    return av


def _check_layout(rate: int, channels: int, seconds: float, max_seconds: float) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise UnsupportedAudioLayoutError(
            f"the audio has {channels} channels; mono and stereo are supported: downmix to stereo first"
        )
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedAudioLayoutError(
            f"the audio's sample rate is {rate} Hz; {MIN_RATE}-{MAX_RATE} Hz are supported (the watermark needs "
            "content up to 7 kHz): generate or resample to at least 16 kHz"
        )
    if seconds > max_seconds:
        raise AudioTooLongError(
            f"the audio lasts {seconds:.1f} s, above max_seconds = {max_seconds:g}: raise the limit or send "
            "shorter clips"
        )


def _wav_declared_data_bytes(data: bytes) -> int | None:
    """The size the WAV's data chunk header declares, to spot truncation (libsndfile reads what is there)."""
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            return None if size in (0, 0xFFFFFFFF) else size
        pos += 8 + size + (size & 1)
    return None


def _decode_lossless(data: bytes, name: str, max_seconds: float) -> DecodedAudio:
    sf = _soundfile()
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, channels, subtype, frames = f.samplerate, f.channels, f.subtype, f.frames
            if subtype not in _PCM_SUBTYPES:
                raise UnsupportedAudioError(
                    f"{name.upper()} with {subtype} samples is not supported; integer PCM (16, 24 or 32 bit) "
                    "is: convert the file to integer PCM"
                )
            _check_layout(rate, channels, frames / rate, max_seconds)
            samples = f.read(dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise CorruptAudioError(f"the {name.upper()} data cannot be decoded: {exc}") from None
    if name == "wav":
        declared = _wav_declared_data_bytes(data)
        width = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4}.get(subtype, 1) * channels
        if declared is not None and len(samples) * width < declared:
            raise CorruptAudioError(
                f"the WAV data is truncated: its header declares {declared // width} frames, {len(samples)} are "
                "present; send the complete file"
            )
    elif len(samples) < frames:
        raise CorruptAudioError(f"the FLAC data is truncated: {len(samples)} of {frames} frames decode")
    if len(samples) == 0:
        raise CorruptAudioError(f"the {name.upper()} file holds no samples")
    return DecodedAudio(samples, AudioFormat(name, rate, channels, subtype=subtype))


def decoded_samples(frames: Iterable[Any], channels: int) -> Iterator[F32]:
    """Each decoded PyAV audio frame as contiguous [n, channels] float32 samples (planar frames come as
    [channels, n], packed ones as [1, n * channels]). Shared by the audio codec and the video soundtrack."""
    for frame in frames:
        chunk = frame.to_ndarray().astype(np.float32, copy=False)
        yield np.ascontiguousarray(chunk.T if frame.format.is_planar else chunk.reshape(-1, channels))


def _decode_lossy(data: bytes, name: str, max_seconds: float) -> DecodedAudio:
    av = _av()
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise CorruptAudioError(f"the {name.upper()} data holds no audio stream")
            if container.streams.video:  # an MP4 video sniffed as audio/mp4: re-encoding would drop the picture
                raise UnsupportedAudioError(
                    f"the {name.upper()} data holds a video stream: video is not marked as audio; send audio only"
                )
            stream = container.streams.audio[0]
            rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
            declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            _check_layout(rate, channels, declared or 0.0, max_seconds)
            parts: list[F32] = []
            total = 0
            for part in decoded_samples(container.decode(stream), channels):
                parts.append(part)
                total += len(part)
                if total > max_seconds * rate:
                    _check_layout(rate, channels, total / rate, max_seconds)
            bit_rate, track_id = stream.bit_rate or container.bit_rate, stream.id
    except av.error.FFmpegError as exc:
        raise CorruptAudioError(f"the {name.upper()} data cannot be decoded: {exc}") from None
    if total == 0:
        raise CorruptAudioError(f"the {name.upper()} data decodes to no samples: truncated or corrupt")
    seconds = total / rate
    if declared and seconds < 0.9 * declared - 0.1:
        raise CorruptAudioError(
            f"the {name.upper()} data is truncated: it declares {declared:.2f} s, {seconds:.2f} s decode"
        )
    if not bit_rate:
        bit_rate = int(len(data) * 8 / seconds)
    # M4A: the rate it was encoded at, not the lower average FFmpeg's AAC encoder reaches (`bit_rate`)
    # (of the track decoded: another's esds, an AAC commentary beside an Opus track, is not its rate)
    bit_rate = mp4_bit_rate(data, bit_rate, track_id) if name == "m4a" else standard_bit_rate(bit_rate)
    fmt = AudioFormat(name, rate, channels, bit_rate=bit_rate, lossless=False)
    samples = np.concatenate(parts)
    if declared:
        # AAC's last frame is padded to 1024 samples; the container's duration says where the sound ends
        samples = samples[: max(1, round(declared * rate))]
    return DecodedAudio(samples, fmt)


def decode_audio(data: bytes, content_type: str | None = None, *, max_seconds: float = DEFAULT_MAX_SECONDS
                 ) -> DecodedAudio:
    """Samples and format facts of an encoded clip; AudioMarkingError subclasses for anything unusable."""
    name = media_format(data, content_type)
    if name in ("wav", "flac"):
        return _decode_lossless(data, name, max_seconds)
    return _decode_lossy(data, name, max_seconds)


def encode_audio(samples: npt.ArrayLike, fmt: AudioFormat) -> bytes:
    """Encode [n, channels] float samples in `fmt` (as `decode_audio` reported it). Samples are clipped to
    full scale first: integer PCM and the lossy encoders would wrap or distort anything beyond it."""
    arr = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[1] != fmt.channels:
        raise ValueError(f"expected {fmt.channels} channels, got {arr.shape[1]}")
    if fmt.lossless:
        sf = _soundfile()
        out = io.BytesIO()
        data = pcm16_as_libsndfile(arr) if (fmt.name, fmt.subtype) == ("wav", "PCM_16") else arr
        sf.write(out, data, fmt.rate, subtype=fmt.subtype, format=fmt.name.upper())
        return out.getvalue()
    return _encode_lossy(arr, fmt)


def pcm16_as_libsndfile(samples: F32) -> npt.NDArray[np.int16]:
    """The 16-bit values libsndfile writes into a WAV for float samples in [-1, 1] (floor(x * 32768), 1.0 clipped
    to 32767), computed here: libsndfile's per-sample conversion costs ~6x more (9 ms for 30 s of 48 kHz stereo,
    of a WAV mark's ~150). The same bytes either way (tests/provenance/audio/test_audio_codec.py checks it).
    Not for FLAC: libsndfile's FLAC writer rounds differently, so FLAC keeps the float path."""
    pcm: npt.NDArray[np.int16] = np.clip(np.floor(samples * np.float32(32768)), -32768, 32767).astype(np.int16)
    return pcm


def _encode_lossy(arr: F32, fmt: AudioFormat) -> bytes:
    lame = system_lame() if fmt.name == "mp3" and fmt.bit_rate else None
    if lame is not None and (data := lame.encode(arr, fmt.rate, fmt.bit_rate or 0)) is not None:
        return data  # ~3x faster than the LAME in PyAV's wheels (`_lame`)
    data = _encode_pyav(arr, fmt, fmt.bit_rate)
    if fmt.name != "m4a" or not fmt.bit_rate:
        return data
    # FFmpeg's AAC encoder may overshoot by more than a step: read back, the file would ask for a higher rate at
    # every round trip (`bit_rate`). Such a clip is encoded again lower, at most 3 more times (each a whole
    # encode, ~1.1 s CPU per 30 s of 48 kHz stereo), into a stream still opened at the rate asked.
    asked = fmt.bit_rate
    return steady_encode(asked, data, lambda rate: _encode_pyav(arr, fmt, rate), _declared_average)


def _declared_average(data: bytes) -> float | None:
    rates = declared_bit_rates(data)
    return rates.average if rates is not None and rates.average else None


def _encode_pyav(arr: F32, fmt: AudioFormat, bit_rate: int | None) -> bytes:
    """`arr` encoded at `bit_rate` into a stream opened at `fmt.bit_rate`: FFmpeg's MP4 muxer declares the
    stream's rate (or the average, when higher) as the maximum, which is what the file is read as (`bit_rate`)."""
    av = _av()
    out = io.BytesIO()
    layout = "mono" if fmt.channels == 1 else "stereo"
    planar = np.ascontiguousarray(arr.T)
    with av.open(out, mode="w", format=_PYAV_CONTAINER[fmt.name]) as container:
        stream: Any = container.add_stream(_PYAV_CODEC[fmt.name], rate=fmt.rate, layout=layout)
        stream.bit_rate = fmt.bit_rate
        if bit_rate == fmt.bit_rate:
            packets = encoded_packets(stream.codec_context, planar, fmt.rate, layout)
        else:  # another encoder of the same settings; the stream's, opened at the muxer's header, writes none
            packets = encoded_packets(encoder_context(_PYAV_CODEC[fmt.name], fmt.rate, layout, bit_rate), planar,
                                      fmt.rate, layout)
        for packet in packets:
            packet.stream = stream
            container.mux(packet)
    return out.getvalue()


def encoder_context(codec: str, rate: int, layout: str, bit_rate: int | None) -> Any:
    """A PyAV encoder for float planar samples, apart from any stream (its packets are muxed into one)."""
    context: Any = _av().CodecContext.create(codec, "w")
    context.sample_rate, context.layout, context.format = rate, layout, "fltp"
    context.bit_rate = bit_rate
    return context


def encoded_packets(context: Any, planar: F32, rate: int, layout: str) -> list[Any]:
    """Every packet of the planar samples [channels, n] through the PyAV encoder `context`, flushed."""
    frame = _av().AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
    frame.sample_rate = rate
    # A timestamp on the first sample lets the encoder give its priming packets negative timestamps (AAC:
    # 1024 samples, LAME: 1105), from which the MP4 muxer writes an edit list that tells every decoder to
    # skip them. Without one the priming became part of the sound: +1024 samples (21-23 ms) per round trip.
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    return [*context.encode(frame), *context.encode(None)]
