"""The soundtrack's bit rate through marking (video/soundtrack.py): the rate it was encoded at, read as the audio
medium reads an M4A (audio/bit_rate.py), kept over repeated re-encodes, in MP4 and MOV, with its watermark."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from aiact_transparency import TransparencyConfig, mark_video, verify
from aiact_transparency.provenance.audio._mp4 import declared_bit_rates
from aiact_transparency.provenance.audio.bit_rate import mp4_bit_rate
from aiact_transparency.provenance.video import marker
from aiact_transparency.provenance.video.codec import VideoLimits, transcode
from aiact_transparency.provenance.video.soundtrack import AudioTrack, audio_packets, decode_soundtrack
from tests.provenance.audio.clips import _stereo, music, rain
from tests.tools import require_module, require_tool

sf = require_module("soundfile")
LIMITS = VideoLimits(max_seconds=60.0, max_pixels=1920 * 1080)


def _average(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return int(container.streams.audio[0].bit_rate)


def _rate_read(data: bytes) -> int:
    """The rate the marker would encode the soundtrack again at (the 128k floor aside)."""
    return mp4_bit_rate(data, _average(data))


@pytest.fixture(scope="module")
def music_video(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """4 s at 160x90 with the audio clips' music (seed 3, 48 kHz stereo) as its soundtrack, written by Debian's
    ffmpeg with AAC at 192 kbit/s, as MP4 and MOV: easy sound, which the encoder codes at about 161 kbit/s."""
    ffmpeg = require_tool("ffmpeg")
    folder = tmp_path_factory.mktemp("soundtrack")
    rate = 48_000
    sf.write(folder / "music.wav", _stereo(music(4.0, rate, np.random.default_rng(3)), np.random.default_rng(3),
                                           rate), rate, subtype="PCM_16")
    videos = {}
    for suffix in ("mp4", "mov"):
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30:duration=4",
                        "-i", str(folder / "music.wav"), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-crf", "23",
                        "-c:a", "aac", "-b:a", "192k", "-t", "4", str(folder / f"in.{suffix}")],
                       check=True, capture_output=True)
        videos[suffix] = (folder / f"in.{suffix}").read_bytes()
    return videos


@pytest.mark.parametrize("suffix", ["mp4", "mov"])
def test_a_192k_soundtrack_keeps_its_declared_rate_and_its_watermark_reads(music_video: dict[str, bytes], suffix: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Re-encoded at its average before (161k, then ~140k the next time: the average of an encode at 161k).
    # Item id fixed: whether a mark reads back after AAC depends on the word a little (4 of 6 ids read here:
    # 1000 + k * 7919 for k = 1..4, not 0 or 5), so the result is deterministic.
    monkeypatch.setattr(marker.secrets, "randbits", lambda bits: 1000 + 7919)
    original = music_video[suffix]
    assert _average(original) < 175_000
    assert (declared := declared_bit_rates(original)) is not None and declared.maximum == 192_000  # MOV: in `wave`
    config = TransparencyConfig(system={"name": "Video Test System"})
    marked = mark_video(original, config=config)
    assert (after := declared_bit_rates(marked.data)) is not None and after.maximum >= 192_000
    assert _rate_read(marked.data) == 192_000
    assert marked.report.audio_watermark is not None
    assert marked.report.audio_watermark["value"] == marked.report.watermark["value"]
    watermark = verify(marked.data, config=config).watermark
    assert watermark["found"] and "soundtrack" in watermark["found_by"]
    assert watermark["layers"]["soundtrack"]["payload"]["item_id"] == 1000 + 7919


def test_re_encoding_again_and_again_keeps_the_rate(music_video: dict[str, bytes]) -> None:
    data = mark_video(music_video["mp4"], config=TransparencyConfig(system={"name": "Video Test System"})).data
    rates = []
    for _ in range(3):  # decode and encode again at the rate read, as marking the output again would
        data = transcode(data, "video/mp4", LIMITS, on_frame=lambda frame, index: None).data
        rates.append(_rate_read(data))
    assert rates == [192_000] * 3


def test_a_soundtrack_the_encoder_overshoots_by_a_step_is_encoded_again_lower() -> None:
    """audio_packets on rain at 44.1 kHz mono asked for 112 kbit/s: FFmpeg's AAC encoder averages about 133,
    which would be read as 128 next time. Its packets, muxed, average inside the 112 step and read as 112."""
    rate = 44_100
    track = AudioTrack(rain(6.0, rate, np.random.default_rng(3))[:, None], rate, "mono")
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        _, packets = audio_packets(track, "aac", 112_000, container)
        for packet in packets:
            container.mux(packet)
    data = out.getvalue()
    assert 112_000 <= _average(data) < 128_000
    assert _rate_read(data) == 112_000
    with av.open(io.BytesIO(data)) as container:  # and it decodes, whole
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(samples - len(track.samples)) < 1024


def test_the_rate_is_read_from_the_track_decoded(tmp_path: Path) -> None:
    """A video whose first audio track is Opus at 64k and second AAC at 256k (a commentary, say): the Opus track
    is the soundtrack decoded, so its rate is its own (its average, here under the 128k floor), not the AAC
    track's declared 256k (the first mp4a track's esds was read before: the Opus track re-encoded at 256k)."""
    ffmpeg = require_tool("ffmpeg")
    path = tmp_path / "two.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10:duration=2", "-f",
                    "lavfi", "-i", "sine=f=440:d=2", "-f", "lavfi", "-i", "anoisesrc=d=2:a=0.3", "-map", "0:v",
                    "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-c:a:0", "libopus", "-b:a:0", "64k", "-c:a:1",
                    "aac", "-b:a:1", "256k", str(path)], check=True)
    decoded = decode_soundtrack(path.read_bytes(), 60.0)
    assert decoded is not None
    codec, bit_rate, _ = decoded[1]
    assert (codec, bit_rate) == ("opus", 128_000)
