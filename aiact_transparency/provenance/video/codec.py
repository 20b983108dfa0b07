"""Re-encoding a video frame by frame through PyAV (FFmpeg), keeping what the input was.

The output has the input's container (MP4 with `+faststart`, so it plays while it downloads, or MOV), codec family
(H.264 -> libx264, HEVC -> libx265, ...), resolution, frame timestamps (so the frame rate, constant or variable, is
kept), pixel format (8 or 10 bit planar YUV), rotation metadata, and a video bit rate set to the input's (the
report gives the ratio). Frames stream through: one decoded frame at a time is held, plus the encoder's
lookahead. The soundtrack is decoded whole (float32, 0.4 MB per second of stereo at 48 kHz: bounded by
`max_seconds`), handed to `on_audio` (the audio watermark), encoded again in its codec family and interleaved.

Bad input becomes a `VideoMarkingError` subclass naming the problem and the fix; library exceptions never leak.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._av import load_av
from .errors import CorruptVideoError, UnsupportedVideoError, VideoTooLargeError
from .soundtrack import AudioTrack, audio_packets, decode_soundtrack

__all__ = ["AudioTrack", "Transcoded", "VideoFacts", "VideoLimits", "luma_plane", "open_video", "transcode"]

# The input codec -> the encoder of the same family that PyAV's wheels carry.
ENCODERS = {"h264": "libx264", "hevc": "libx265", "mpeg4": "mpeg4", "prores": "prores_ks", "vp9": "libvpx-vp9",
            "av1": "libsvtav1", "mjpeg": "mjpeg"}
# Planar YUV layouts the watermark writes into (the Y plane), with their bit depth.
PIXEL_FORMATS = {"yuv420p": 8, "yuvj420p": 8, "yuv422p": 8, "yuvj422p": 8, "yuv444p": 8, "yuvj444p": 8,
                 "yuv420p10le": 10, "yuv422p10le": 10, "yuv444p10le": 10}
_CONTAINERS = {"video/mp4": "mp4", "video/quicktime": "mov"}
# libx264/libx265's fastest presets that keep quality at a given bit rate close to the defaults': marking
# must run at least in real time on one core (the goal; bench/bench_video.py measures it).
_PRESETS = {"libx264": "veryfast", "libx265": "ultrafast"}
_CRF = {"libx264": "18", "libx265": "20"}
_MAX_RATE = 1.25  # x the input's video bit rate
# Seconds of that rate the encoder may borrow: a still or slow video costs little besides its key frames, which a
# 1 s buffer squeezed until the watermark was gone (a still card at 20 kbit/s).
_BUFFER_SECONDS = 4.0
# A floor under that cap, in bits per pixel and frame: a still card arrives at 6 kbit/s (320x180), where 1.25 times
# as much cannot carry the watermark's cells; 0.02 is 34 kbit/s there, 0.55 Mbit/s at 720p30.
_MIN_BITS_PER_PIXEL = 0.02


_av = load_av


@dataclass(frozen=True)
class VideoLimits:
    max_seconds: float
    max_pixels: int


@dataclass(frozen=True)
class VideoFacts:
    """What the input is, read before anything is decoded."""

    codec: str
    width: int
    height: int
    pixel_format: str
    depth: int
    rate: Fraction  # average frame rate
    seconds: float
    bit_rate: int  # of the video stream, bit/s (estimated from the file size when the container does not say)
    audio_codec: str | None


@dataclass
class Transcoded:
    data: bytes
    facts: VideoFacts
    frames: int
    seconds: float  # from the first to the last frame's end
    bit_rate: int  # the output's video stream, bit/s
    rotation: int = 0
    variable_rate: bool = False
    audio: bool = False  # the soundtrack was re-encoded into the output
    timings: dict[str, float] = field(default_factory=dict)  # decode, frames (the callback), encode, audio


def luma_plane(frame: Any) -> npt.NDArray[np.generic]:
    """The frame's Y plane as a writable (height, width) view (uint8, or uint16 for 10-bit samples)."""
    plane = frame.planes[0]
    dtype = np.uint16 if PIXEL_FORMATS.get(frame.format.name, 8) > 8 else np.uint8
    rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // np.dtype(dtype).itemsize)
    return rows[: frame.height, : frame.width]


def open_video(data: bytes, limits: VideoLimits) -> tuple[Any, VideoFacts]:
    """The opened input container and its facts; refuses what is over the limits or cannot be marked."""
    av = _av()
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.error.FFmpegError as exc:
        raise CorruptVideoError(f"the video cannot be opened: {exc}; send a complete MP4 or MOV file") from None
    try:
        return container, _facts(container, len(data), limits)
    except BaseException:
        container.close()
        raise


def _facts(container: Any, size: int, limits: VideoLimits) -> VideoFacts:
    if not container.streams.video:
        raise CorruptVideoError("the file holds no video stream: send audio as audio/mp4")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    width, height, pix_fmt = ctx.width, ctx.height, ctx.pix_fmt
    if not width or not height:
        raise CorruptVideoError("the video stream declares no frame size: truncated or corrupt")
    if width * height > limits.max_pixels:
        raise VideoTooLargeError(f"the video's frames are {width}x{height} = {width * height} pixels, above "
                                 f"video.max_pixels = {limits.max_pixels}: raise the limit or send a smaller video")
    if ctx.name not in ENCODERS:
        raise UnsupportedVideoError(f"{ctx.name} video is not re-encoded here; supported: "
                                    f"{', '.join(sorted(ENCODERS))}: encode it as H.264 first")
    if pix_fmt not in PIXEL_FORMATS:
        raise UnsupportedVideoError(f"pixel format {pix_fmt} is not supported; planar YUV of 8 or 10 bits is "
                                    f"({', '.join(PIXEL_FORMATS)}): convert it to yuv420p")
    seconds = 0.0
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000
    if seconds > limits.max_seconds:
        raise VideoTooLargeError(f"the video lasts {seconds:.1f} s, above video.max_seconds = "
                                 f"{limits.max_seconds:g}: raise the limit or send shorter videos")
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    bit_rate = stream.bit_rate or (int(size * 8 / seconds) if seconds else 0)
    return VideoFacts(ctx.name, width, height, pix_fmt, PIXEL_FORMATS[pix_fmt], Fraction(rate), seconds,
                      int(bit_rate), audio)


def _frames(container: Any, facts: VideoFacts, limits: VideoLimits) -> Iterator[Any]:
    av = _av()
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    try:
        for frame in container.decode(stream):
            if frame.time is not None and frame.time > limits.max_seconds:
                raise VideoTooLargeError(f"the video runs past video.max_seconds = {limits.max_seconds:g} s")
            if (frame.width, frame.height) != (facts.width, facts.height):
                raise UnsupportedVideoError(f"the frame size changes mid-stream ({facts.width}x{facts.height} to "
                                            f"{frame.width}x{frame.height}): re-encode at one size first")
            yield frame
    except av.error.FFmpegError as exc:  # PyAV 17 (Python 3.10) raises here on a cut-short faststart file
        raise CorruptVideoError(f"the video data cannot be decoded (truncated or corrupt): {exc}; send the complete "
                                "file") from None


def transcode(data: bytes, media_type: str, limits: VideoLimits, *, on_frame: Callable[[Any, int], None],
              on_audio: Callable[[AudioTrack], AudioTrack] | None = None) -> Transcoded:
    """Decode, `on_frame(frame, index)` (it changes the frame's planes in place; the frame is writable), encode.

    `on_audio` gets the decoded soundtrack and returns what to encode; without it the audio is re-encoded as
    it is (its packets cannot be copied: the output's timeline is the encoder's)."""
    av = _av()
    try:
        return _transcode(data, media_type, limits, on_frame, on_audio)
    except av.error.FFmpegError as exc:  # a soundtrack cut short, a packet the decoder refuses
        raise CorruptVideoError(f"the video data cannot be decoded (truncated or corrupt): {exc}; send the complete "
                                "file") from None


def _transcode(data: bytes, media_type: str, limits: VideoLimits, on_frame: Callable[[Any, int], None],
               on_audio: Callable[[AudioTrack], AudioTrack] | None) -> Transcoded:
    av = _av()
    timings = dict.fromkeys(("decode", "frames", "encode", "audio"), 0.0)
    container, facts = open_video(data, limits)
    options = {"movflags": "+faststart"} if media_type == "video/mp4" else {}
    # A file, not a BytesIO: faststart moves the index to the front by reopening the output by its name.
    with tempfile.TemporaryDirectory(prefix="aiact-video-") as folder, container, \
            av.open(str(Path(folder) / f"out.{_CONTAINERS[media_type]}"), mode="w", format=_CONTAINERS[media_type],
                    options=options) as output:
        start = time.perf_counter()
        decoded_audio = decode_soundtrack(data, limits.max_seconds)
        packets: list[Any] = []
        if decoded_audio is not None:
            track, (codec, bit_rate, _) = decoded_audio
            if on_audio is not None:
                track = on_audio(track)
            _, packets = audio_packets(track, codec, bit_rate, output)
        timings["audio"] = time.perf_counter() - start
        result = _encode_video(container, output, facts, limits, on_frame, packets, timings)
        output.close()
        result.data = (Path(folder) / f"out.{_CONTAINERS[media_type]}").read_bytes()
    result.audio = decoded_audio is not None
    return result


def _video_stream(output: Any, first: Any, facts: VideoFacts, source: Any) -> Any:
    encoder = ENCODERS[facts.codec]
    stream: Any = output.add_stream(encoder, rate=facts.rate)
    stream.width, stream.height, stream.pix_fmt = facts.width, facts.height, facts.pixel_format
    stream.time_base = source.time_base
    stream.codec_context.time_base = source.time_base
    options = {"preset": _PRESETS[encoder]} if encoder in _PRESETS else {}
    if encoder == "libx265":
        options["x265-params"] = "log-level=error"  # x265 prints its settings to stderr for every video otherwise
    if encoder in _CRF and facts.bit_rate:
        # Constant quality, capped near the input's bit rate: an average-bit-rate encode at the input's rate
        # starts blurred (rate control warming up) and loses 3-6 dB on hard content.
        cap = max(facts.bit_rate * _MAX_RATE, _MIN_BITS_PER_PIXEL * facts.width * facts.height * float(facts.rate))
        options.update(crf=_CRF[encoder], maxrate=str(int(cap)), bufsize=str(int(cap * _BUFFER_SECONDS)))
    elif facts.bit_rate:
        stream.bit_rate = facts.bit_rate
    stream.options = options
    if first.rotation:
        stream.set_display_rotation(first.rotation)
    return stream


def _encode_video(container: Any, output: Any, facts: VideoFacts, limits: VideoLimits,
                  on_frame: Callable[[Any, int], None], audio_packets: list[Any], timings: dict[str, float]
                  ) -> Transcoded:
    av = _av()
    source = container.streams.video[0]
    stream: Any = None
    count, first_pts, last_end, rotation = 0, None, 0.0, 0
    intervals: set[int] = set()
    previous_pts: int | None = None
    pending = iter(audio_packets)
    next_audio = next(pending, None)
    video_bytes = 0

    def mux(packets: list[Any]) -> None:
        nonlocal next_audio, video_bytes
        for packet in packets:
            when = float(packet.dts * packet.time_base) if packet.dts is not None else 0.0
            while next_audio is not None and float((next_audio.dts or 0) * next_audio.time_base) <= when:
                output.mux(next_audio)
                next_audio = next(pending, None)
            video_bytes += packet.size
            output.mux(packet)

    frames = _frames(container, facts, limits)
    while True:
        tick = time.perf_counter()
        frame = next(frames, None)
        timings["decode"] += time.perf_counter() - tick
        if frame is None:
            break
        if stream is None:
            stream, rotation = _video_stream(output, frame, facts, source), frame.rotation
            first_pts = frame.pts
        tick = time.perf_counter()
        frame.make_writable()
        on_frame(frame, count)
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose; an I from the input would force one
        timings["frames"] += time.perf_counter() - tick
        if frame.pts is not None:
            if previous_pts is not None:
                intervals.add(frame.pts - previous_pts)
            previous_pts = frame.pts
            last_end = float((frame.pts - (first_pts or 0)) * source.time_base) + 1 / float(facts.rate)
        tick = time.perf_counter()
        mux(list(stream.encode(frame)))
        timings["encode"] += time.perf_counter() - tick
        count += 1
    if stream is None:
        raise CorruptVideoError("the video stream holds no decodable frame: truncated or corrupt")
    tick = time.perf_counter()
    mux(list(stream.encode(None)))
    while next_audio is not None:
        output.mux(next_audio)
        next_audio = next(pending, None)
    timings["encode"] += time.perf_counter() - tick
    _check_complete(facts, count, last_end)
    variable = len(intervals) > 2 and max(intervals) > 1.5 * min(i for i in intervals if i > 0)
    bit_rate = int(video_bytes * 8 / last_end) if last_end else 0
    return Transcoded(b"", facts, count, last_end, bit_rate, rotation=rotation, variable_rate=variable,
                      timings=timings)


def _check_complete(facts: VideoFacts, frames: int, seconds: float) -> None:
    """A truncated file decodes without an error up to where it stops: compare with what its header declares."""
    if facts.seconds and seconds < 0.9 * facts.seconds - 0.2:
        raise CorruptVideoError(f"the video is truncated: it declares {facts.seconds:.2f} s, {seconds:.2f} s "
                                f"({frames} frames) decode; send the complete file")
