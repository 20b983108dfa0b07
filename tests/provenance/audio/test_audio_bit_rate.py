"""The rate an M4A is encoded again at (audio/bit_rate.py), on real FFmpeg encodes: it neither climbs nor sinks
over round trips, also where FFmpeg's AAC encoder spends more than asked (noisy 44.1 kHz mono sound)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.provenance.audio._mp4 import declared_bit_rates
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.marker import AudioMarker
from tests.provenance.audio.clips import rain
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
