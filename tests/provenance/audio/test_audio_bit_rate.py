"""The rate an M4A is encoded again at (audio/bit_rate.py), on real FFmpeg encodes: it neither climbs nor sinks
over round trips, also where FFmpeg's AAC encoder spends more than asked (noisy 44.1 kHz mono sound)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.provenance.audio import codec
from aiact_transparency.provenance.audio._mp4 import declared_bit_rates
from aiact_transparency.provenance.audio.bit_rate import reading, standard_bit_rate, steady_encode
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.marker import AudioMarker
from tests.provenance.audio.clips import _stereo, music, rain, speech
from tests.tools import require_module, require_tool

require_module("av")
sf = require_module("soundfile")

STANDARD = (96, 112, 128, 160, 192, 224)
RATE = 44_100


def _rain() -> np.ndarray:
    """6 s of the test clips' rain (seed 3) at 44.1 kHz mono: FFmpeg's AAC encoder asked for 128 kbit/s averages
    about 157 (PyAV's build and Debian's ffmpeg 5.1), for 160 about 187, for 112 about 133."""
    return rain(6.0, RATE, np.random.default_rng(3))[:, None]


def _fmt(bit_rate: int) -> AudioFormat:
    return AudioFormat("m4a", RATE, 1, bit_rate=bit_rate, lossless=False)


def _average(data: bytes) -> int:
    import av

    with av.open(io.BytesIO(data)) as container:
        return int(container.streams.audio[0].bit_rate)


def _steps(a: int, b: int) -> int:
    return abs(STANDARD.index(a // 1000) - STANDARD.index(b // 1000))


def _round_trips(data: bytes, times: int) -> list[int]:
    """The rate each decode chooses, re-encoding at it each time (what marking the marked file again does)."""
    rates = []
    for _ in range(times):
        decoded = decode_audio(data)
        assert decoded.format.bit_rate is not None
        rates.append(decoded.format.bit_rate)
        data = encode_audio(decoded.samples, decoded.format)
    return rates


@pytest.mark.parametrize("bit_rate", [128_000, 160_000])
def test_an_m4a_the_encoder_overshoots_keeps_its_rate_over_round_trips(bit_rate: int) -> None:
    # The nearest standard rate to the average, read before, climbed a step per round trip: 128 -> 160 -> 192
    # -> 224 kbit/s, and 160 -> 192 -> 224 (FFmpeg declares the average as the maximum when it overshoots).
    data = encode_audio(_rain(), _fmt(bit_rate))
    assert _average(data) > 1.1 * bit_rate  # the case: the encoder spent more than asked
    rates = _round_trips(data, 4)
    assert rates == [bit_rate] * 4


def test_an_overshoot_of_more_than_a_step_is_encoded_again_lower() -> None:
    # At 112 kbit/s this clip averages about 133: above 128, so its reading would have been 128 (then 128 stays,
    # a step above what it was asked for). Encoded again lower, it averages inside the step it is named for.
    data = encode_audio(_rain(), _fmt(112_000))
    assert 112_000 <= _average(data) < 128_000
    assert _round_trips(data, 3) == [112_000] * 3


def test_a_marked_m4a_from_ffmpeg_stays_within_a_step(tmp_path: Path) -> None:
    """Written by Debian's ffmpeg at 128 kbit/s (averaging about 157), marked, then decoded and encoded again:
    the rate read stays within one standard step of 128 and does not move after the first marking."""
    ffmpeg = require_tool("ffmpeg")
    sf.write(tmp_path / "in.wav", _rain(), RATE, subtype="PCM_16")
    subprocess.run([ffmpeg, "-v", "error", "-i", str(tmp_path / "in.wav"), "-c:a", "aac", "-b:a", "128k",
                    str(tmp_path / "out.m4a")], check=True)
    original = (tmp_path / "out.m4a").read_bytes()
    assert _average(original) > 140_000
    marked = AudioMarker(TransparencyConfig(system={"name": "Acme Studio"})).mark(original).data
    rates = [decode_audio(original).format.bit_rate, *_round_trips(marked, 3)]
    assert all(_steps(rate, 128_000) <= 1 for rate in rates if rate is not None), rates
    assert len(set(rates[1:])) == 1, rates


def _with_declared(data: bytes, maximum: int, average: int) -> bytes:
    """The file with its esds box's maxBitrate and avgBitrate set (the 8 bytes after bufferSizeDB)."""
    rates = declared_bit_rates(data)
    assert rates is not None
    at = data.index(rates.maximum.to_bytes(4, "big") + rates.average.to_bytes(4, "big"), data.index(b"esds"))
    return data[:at] + maximum.to_bytes(4, "big") + average.to_bytes(4, "big") + data[at + 8 :]


@pytest.mark.parametrize(("maximum", "average", "chosen"), [
    (192_000, 161_000, 192_000),  # the maximum above the average: the encoder's target, kept
    (157_300, 157_300, 128_000),  # both equal: FFmpeg's encoder overshot its target, at most the average
    (127_300, 127_300, 128_000),  # within 1 % under a standard rate: that rate (a constant-rate stream measured)
    (126_000, 126_000, 112_000),
    (100_000, 0, 160_000),  # no average declared: the larger of the maximum and the stream's (about 157)
])
def test_the_declared_figures_choose_the_rate(maximum: int, average: int, chosen: int) -> None:
    data = _with_declared(encode_audio(_rain(), _fmt(128_000)), maximum, average)
    assert declared_bit_rates(data) == (maximum, average)
    assert decode_audio(data).format.bit_rate == chosen


@pytest.mark.parametrize(("lang", "rate", "channels", "bit_rate"),
                         [("fr", 44_100, 2, 96_000), ("de", 48_000, 1, 48_000)])
def test_speech_the_encoder_overshoots_unevenly_keeps_its_rate(lang: str, rate: int, channels: int, bit_rate: int,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak-ng speech, 5 s: FFmpeg's overshoot is not one ratio. French at 44.1 kHz stereo asked for 96k
    averages 110-112, asked for 88k 113 (higher), so the one proportional re-encode tried before read as 112 and
    was rejected, and the first (read as 112) kept: 96 -> 112. German at 48 kHz mono: 48 -> 64 the same way. Each
    try is now scaled from the last average, and the stream is opened at the rate asked."""
    require_tool("espeak-ng")
    rng = np.random.default_rng(7)
    voice = speech(lang, 5.0, rate)
    samples = _stereo(voice, rng, rate) if channels == 2 else voice[:, None]
    tried: list[int | None] = []
    real = codec._encode_pyav

    def spy(arr: np.ndarray, fmt: AudioFormat, rate: int | None) -> bytes:  # the real encoder, its rates noted
        tried.append(rate)
        return real(arr, fmt, rate)

    monkeypatch.setattr(codec, "_encode_pyav", spy)
    data = encode_audio(samples, AudioFormat("m4a", rate, channels, bit_rate=bit_rate, lossless=False))
    rates = _round_trips(data, 3)
    assert rates == [bit_rate] * 3
    calls: list[list[int | None]] = []  # the rates of each encode_audio call: it starts at the rate asked
    for tried_rate in tried:
        if tried_rate == bit_rate:
            calls.append([])
        calls[-1].append(tried_rate)
    assert len(calls) == 4 and all(len(call) <= 4 for call in calls), calls  # at most 3 re-encodes
    assert max(map(len, calls)) >= 3, calls  # a first re-encode read too high, and a lower one was tried


def test_a_re_encode_into_a_stream_opened_at_the_asked_rate_declares_it() -> None:
    """Encoded at 112k into a stream opened at 128k, easy music averages below 128: the muxer declares 128 as
    the maximum, so a re-encode that undershoots still reads as 128 (its stream was opened at 112 before)."""
    rate = 48_000
    samples = _stereo(music(3.0, rate, np.random.default_rng(3)), np.random.default_rng(3), rate)
    data = codec._encode_pyav(samples, AudioFormat("m4a", rate, 2, bit_rate=128_000, lossless=False), 112_000)
    assert (rates := declared_bit_rates(data)) is not None and rates.average < 128_000
    assert rates.maximum == 128_000
    assert decode_audio(data).format.bit_rate == 128_000
    assert abs(len(decode_audio(data).samples) - len(samples)) < 1024  # the other encoder's priming is skipped


def _encodes(averages: dict[int, float]) -> tuple[list[int], int]:
    """steady_encode on an encoder described by its averages (rate asked -> average): the rates it encoded at
    after the first, and the rate of the encode it kept."""
    tried: list[int] = []

    def encode(rate: int) -> int:
        tried.append(rate)
        return rate

    kept = steady_encode(96_000, 96_000, encode, lambda rate: averages[min(averages, key=lambda r: abs(r - rate))])
    return tried, kept


def test_steady_encode_keeps_the_closest_reading_and_stops_after_three_more() -> None:
    # Never inside the 96 step: 118 reads 112, 150 reads 128, 113 reads 112, 140 reads 128. The first and the
    # third read as 112: the earlier (the higher rate) is kept; no fifth encode.
    tried, kept = _encodes({96_000: 118_000, 88_000: 150_000, 64_000: 113_000, 55_000: 140_000})
    assert len(tried) == 3
    assert kept == 96_000
    assert reading(96_000, 118_000) == reading(96_000, 113_000) == 112_000


def test_steady_encode_keeps_a_later_encode_that_reads_closer() -> None:
    # 118 reads 112; 88k averages 125 (reads 112, not kept over the first); 66k averages 105, inside the step.
    tried, kept = _encodes({96_000: 118_000, 88_000: 125_000, 66_000: 105_000})
    assert kept == tried[-1] and len(tried) == 2
    tried, kept = _encodes({96_000: 105_000})  # inside the step: no re-encode
    assert (tried, kept) == ([], 96_000)


def test_steady_encode_at_the_lowest_rate_does_not_encode_the_same_again() -> None:
    # Asked for 32k and averaging 100k whatever it is asked: the rate scaled down is held at 16k, tried once, not
    # again (the clamp returned 32k before: an encode identical to the first).
    tried: list[int] = []
    steady_encode(32_000, "first", lambda rate: tried.append(rate) or "again", lambda data: 100_000.0)
    assert tried == [16_000]


def test_speech_asked_for_the_lowest_standard_rate_keeps_it() -> None:
    """French speech, 5 s, 44.1 kHz mono asked for 32k averages about 42-47: read as 40, as long as the re-encode
    could not go below 32k (the lowest standard rate, the floor before)."""
    require_tool("espeak-ng")
    data = encode_audio(speech("fr", 5.0, RATE)[:, None], _fmt(32_000))
    assert _round_trips(data, 2) == [32_000] * 2


def test_an_m4a_s_rate_is_its_decoded_track_s(tmp_path: Path) -> None:
    """An MP4 audio file whose first track is Opus at 64k and second AAC at 256k: the Opus track is decoded, so
    its own average is its rate, not the AAC track's declared 256k (read from the first mp4a track before)."""
    ffmpeg = require_tool("ffmpeg")
    path = tmp_path / "two.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=2", "-f", "lavfi", "-i",
                    "anoisesrc=d=2:a=0.3", "-map", "0:a", "-map", "1:a", "-c:a:0", "libopus", "-b:a:0", "64k",
                    "-c:a:1", "aac", "-b:a:1", "256k", "-f", "mp4", str(path)], check=True)
    data = path.read_bytes()
    import av

    with av.open(io.BytesIO(data)) as container:
        opus, aac = container.streams.audio
        assert (opus.codec_context.name, aac.codec_context.name) == ("opus", "aac")
        ids, average = (opus.id, aac.id), opus.bit_rate
    assert decode_audio(data).format.bit_rate == standard_bit_rate(average) < 128_000
    assert declared_bit_rates(data, ids[0]) is None  # not an mp4a track
    assert (declared := declared_bit_rates(data, ids[1])) is not None and declared.maximum == 256_000
