"""Audio decode/encode through the real libraries: formats, rates, channels and bit rates kept; bad input refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency.provenance.audio import _lame, codec
from aiact_transparency.provenance.audio._mp4 import declared_bit_rates
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.errors import (
    AudioMarkingError,
    AudioTooLongError,
    AudioTypeMismatchError,
    CorruptAudioError,
    UnsupportedAudioError,
    UnsupportedAudioLayoutError,
)
from tests.provenance.audio.clips import _stereo, music
from tests.tools import require_module, require_tool

require_module("av")
sf = require_module("soundfile")


def tone(seconds: float = 2.5, rate: int = 44_100, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
    return np.stack([mono * (0.8 + 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def pcm_wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, subtype=subtype, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("FLAC", "PCM_16"), ("FLAC", "PCM_24")]
)
@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (48_000, 2)])
def test_lossless_round_trip_is_bit_exact_and_keeps_the_sample_width(fmt: str, subtype: str, rate: int, channels: int
                                                                    ) -> None:
    data = pcm_wav(tone(rate=rate, channels=channels), rate, subtype, fmt)
    decoded = decode_audio(data, f"audio/{fmt.lower()}")
    assert decoded.format == AudioFormat(fmt.lower(), rate, channels, subtype=subtype)
    again = decode_audio(encode_audio(decoded.samples, decoded.format))
    assert again.format == decoded.format
    assert np.array_equal(again.samples, decoded.samples)  # lossless stays lossless


def test_16_bit_wav_has_the_bytes_libsndfile_writes_from_float() -> None:
    """encode_audio quantises 16-bit WAV itself (pcm16_as_libsndfile, for speed): the file must be byte for byte
    what libsndfile writes from the same float samples, full scale, the smallest steps and signed zero included."""
    edges = np.array([1.0, -1.0, 0.99999994, -0.99999994, 0.0, -0.0, 2**-15, -(2**-15), 2**-16, -(2**-16), 1e-9],
                     dtype=np.float32)
    noise = np.random.default_rng(3).uniform(-1.0, 1.0, 48_000).astype(np.float32)
    samples = np.stack([np.concatenate([edges, noise]), np.concatenate([noise, edges])], axis=1)
    ours = encode_audio(samples, AudioFormat("wav", 48_000, 2, subtype="PCM_16"))
    assert ours == pcm_wav(samples, 48_000, "PCM_16", "WAV")


@pytest.mark.parametrize("content_type", ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"])
def test_every_wav_alias_is_accepted(content_type: str) -> None:
    assert decode_audio(pcm_wav(tone(), 44_100), content_type).format.name == "wav"


@pytest.mark.parametrize(("name", "rate", "channels", "kbit"), [("mp3", 44_100, 2, 128), ("mp3", 22_050, 1, 64),
                                                                ("m4a", 48_000, 2, 128), ("m4a", 44_100, 1, 96)])
def test_lossy_round_trip_keeps_format_rate_channels_and_bit_rate(name: str, rate: int, channels: int, kbit: int
                                                                   ) -> None:
    fmt = AudioFormat(name, rate, channels, bit_rate=kbit * 1000, lossless=False)
    data = encode_audio(tone(rate=rate, channels=channels), fmt)
    decoded = decode_audio(data, fmt.media_type)
    assert decoded.format == fmt
    assert abs(len(data) * 8 / decoded.seconds - kbit * 1000) < 0.25 * kbit * 1000  # the file's real bit rate
    # an independent reader (libsndfile for mp3) or at least a second pass agrees on what the file is
    assert abs(decoded.seconds - 2.5) < 0.1


def _lag(reference: np.ndarray, test: np.ndarray, rate: int, search: int = 3000) -> int:
    """Samples by which `test` is late against `reference` (cross-correlation of a 4000-sample excerpt)."""
    piece = reference[rate : rate + 4000, 0]
    scores = [float(np.dot(test[rate + k : rate + k + 4000, 0], piece)) for k in range(-search, search)]
    return int(np.argmax(scores)) - search


@pytest.mark.parametrize("name", ["mp3", "m4a"])
@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_lossy_round_trips_neither_grow_nor_shift(name: str, rate: int) -> None:
    # A random walk, high-passed: no periodicity, so the cross-correlation peak is unambiguous.
    walk = np.cumsum(np.random.default_rng(1).standard_normal(3 * rate))
    walk -= np.convolve(walk, np.ones(200) / 200, "same")
    samples = np.repeat((0.3 * walk / np.max(np.abs(walk)))[:, None], 2, axis=1).astype(np.float32)
    fmt = AudioFormat(name, rate, 2, bit_rate=128_000, lossless=False)
    once = encode_audio(samples, fmt)
    twice = encode_audio(decode_audio(once, fmt.media_type).samples, fmt)
    for data in (once, twice):  # the encoder's priming (AAC 1024 samples, LAME 1105) is skipped on decode
        decoded = decode_audio(data, fmt.media_type).samples
        assert len(decoded) == len(samples)
        assert _lag(samples, decoded, rate) == 0
    # FFmpeg's own command line reads the same start: the edit list / encoder-delay header is in the file
    require_tool("ffmpeg")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-f", "f32le", "-ac", "1", "-"], input=twice,
                         capture_output=True, check=True).stdout
    assert _lag(samples, np.frombuffer(raw, "<f4")[:, None] * 2, rate) == 0


def _easy_music(rate: int = 48_000) -> np.ndarray:
    """6 s of the test clips' synthesized stereo music (seed 3), on which FFmpeg's AAC encoder asked for 128 kbit/s
    averages about 103 (PyAV's build) or 104 (Debian's ffmpeg 5.1)."""
    return _stereo(music(6.0, rate, np.random.default_rng(3)), np.random.default_rng(3), rate)


def _average_bit_rate(data: bytes) -> int:
    import av

    with av.open(io.BytesIO(data)) as container:
        return int(container.streams.audio[0].bit_rate)


def test_an_aac_file_keeps_the_rate_it_was_encoded_at_not_its_lower_average(tmp_path: Path) -> None:
    """The rate the marker re-encodes at: the esds box's maximum, which FFmpeg's muxer sets to the encoder's
    target (the average rounded this file to 96 kbit/s, and the marker's output lost its watermark). Written
    once by Debian's ffmpeg command line (an encoder build other than PyAV's) and once by encode_audio."""
    ffmpeg = require_tool("ffmpeg")
    (tmp_path / "in.wav").write_bytes(pcm_wav(_easy_music(), 48_000))
    subprocess.run([ffmpeg, "-v", "error", "-i", str(tmp_path / "in.wav"), "-c:a", "aac", "-b:a", "128k",
                    str(tmp_path / "out.m4a")], check=True)
    fmt = AudioFormat("m4a", 48_000, 2, bit_rate=128_000, lossless=False)
    for data in ((tmp_path / "out.m4a").read_bytes(), encode_audio(_easy_music(), fmt)):
        assert _average_bit_rate(data) < 120_000  # FFmpeg's stream bit rate: alone, it rounds to 112 or lower
        assert (rates := declared_bit_rates(data)) is not None and rates.maximum == 128_000
        assert decode_audio(data).format == fmt


def test_without_a_declared_maximum_the_aac_average_is_kept() -> None:
    fmt = AudioFormat("m4a", 48_000, 2, bit_rate=128_000, lossless=False)
    data = encode_audio(_easy_music(), fmt)
    # the DecoderConfigDescriptor's maxBitrate (after objectTypeIndication, streamType and bufferSizeDB) zeroed
    config = data.index(b"\x04", data.index(b"esds") + 8)
    pos = data.index((128_000).to_bytes(4, "big"), config)
    zeroed = data[:pos] + bytes(4) + data[pos + 4 :]
    assert declared_bit_rates(zeroed) is None
    assert decode_audio(zeroed).format.bit_rate == 96_000  # the average, ~103 kbit/s, rounded
    for broken in (b"", data[:40], b"\x00\x00\x00\x08moov", pcm_wav(tone(), 44_100)):
        assert declared_bit_rates(broken) is None


def _system_lame() -> _lame.LameEncoder:
    """Debian's libmp3lame0 (ffmpeg depends on it, .ci/run installs it): in CI its absence is a failure."""
    encoder = _lame.encoder()
    if encoder is None:
        if os.environ.get("CI"):
            pytest.fail("libmp3lame0 is not installed; .ci/run must install it")
        pytest.skip("libmp3lame0 is not installed")
    return encoder


def _walk(rate: int, channels: int, seconds: float = 3.0) -> np.ndarray:
    walk = np.cumsum(np.random.default_rng(2).standard_normal(int(seconds * rate)))
    walk -= np.convolve(walk, np.ones(200) / 200, "same")
    mono = 0.3 * walk / np.max(np.abs(walk))
    return np.stack([mono * (1.0 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def _snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((test - reference) ** 2)))


@pytest.mark.parametrize(("rate", "channels", "kbit"), [(48_000, 2, 128), (44_100, 1, 96), (22_050, 2, 64)])
def test_mp3_goes_through_the_system_lame_and_decodes_like_pyavs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                  rate: int, channels: int, kbit: int) -> None:
    encoder = _system_lame()
    samples = _walk(rate, channels)
    fmt = AudioFormat("mp3", rate, channels, bit_rate=kbit * 1000, lossless=False)
    fast = encode_audio(samples, fmt)
    assert fast == encoder.encode(samples, rate, kbit * 1000)  # the system library wrote it (LAME is deterministic)
    monkeypatch.setattr(codec, "system_lame", lambda: None)  # as on a machine without libmp3lame0
    slow = encode_audio(samples, fmt)
    assert b"Lavf" in slow[:64] and b"Lavf" not in fast[:64]  # PyAV's muxer tags its files, LAME alone does not
    snrs = []
    for data in (fast, slow):
        decoded = decode_audio(data, fmt.media_type)
        assert decoded.format == fmt and len(decoded.samples) == len(samples)
        assert _lag(samples, decoded.samples, rate) == 0  # the Info tag's encoder delay is read: no priming kept
        snrs.append(_snr_db(samples, decoded.samples))
    assert abs(snrs[0] - snrs[1]) < 1.0 and snrs[0] > 10, snrs  # same encoder, same settings, same quality
    # FFmpeg's command line skips the same priming and padding (from a file: over a pipe it cannot find the end)
    ffmpeg = require_tool("ffmpeg")
    (tmp_path / "fast.mp3").write_bytes(fast)
    raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(tmp_path / "fast.mp3"), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    assert len(raw) == 4 * channels * len(samples)


def test_low_bit_rate_mp3_falls_back_to_pyav() -> None:
    # At 16 kHz and 32 kbit/s a CBR frame (144 bytes) cannot hold LAME's Info tag: PyAV's muxer writes it instead.
    encoder = _system_lame()
    samples = _walk(16_000, 1)
    assert encoder.encode(samples, 16_000, 32_000) is None
    fmt = AudioFormat("mp3", 16_000, 1, bit_rate=32_000, lossless=False)
    decoded = decode_audio(encode_audio(samples, fmt), fmt.media_type)
    assert decoded.format == fmt and len(decoded.samples) == len(samples)


def test_mp3_is_written_by_lame() -> None:
    data = encode_audio(tone(), AudioFormat("mp3", 44_100, 2, bit_rate=128_000, lossless=False))
    assert b"LAME" in data[:4096] or b"Lavc" in data[:4096]
    info = sf.info(io.BytesIO(data))  # libsndfile reads it too (mpg123)
    assert (info.samplerate, info.channels) == (44_100, 2)


def test_zero_length_is_refused() -> None:
    with pytest.raises(CorruptAudioError, match="empty"):
        decode_audio(b"", "audio/wav")


def test_truncated_wav_is_refused() -> None:
    data = pcm_wav(tone(), 44_100)
    with pytest.raises(CorruptAudioError, match="truncated"):
        decode_audio(data[: len(data) // 2], "audio/wav")


@pytest.mark.parametrize("name", ["mp3", "m4a"])
def test_truncated_or_corrupt_lossy_is_refused(name: str) -> None:
    fmt = AudioFormat(name, 44_100, 2, bit_rate=128_000, lossless=False)
    data = encode_audio(tone(3.0), fmt)
    with pytest.raises(CorruptAudioError):
        decode_audio(data[: len(data) // 3], fmt.media_type)
    garbage = data[:64] + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))
    with pytest.raises(CorruptAudioError):
        decode_audio(garbage[:200], fmt.media_type)


def test_a_lying_content_type_is_named() -> None:
    with pytest.raises(AudioTypeMismatchError, match=r"audio/mpeg.*WAV"):
        decode_audio(pcm_wav(tone(), 44_100), "audio/mpeg")


def test_not_audio_is_refused() -> None:
    with pytest.raises(UnsupportedAudioError):
        decode_audio(b"<html>hello</html>")
    with pytest.raises(CorruptAudioError):
        decode_audio(b"<html>hello</html>", "audio/wav")
    with pytest.raises(UnsupportedAudioError, match="not an audio type"):
        decode_audio(pcm_wav(tone(), 44_100), "image/png")


def test_too_long_is_refused_before_decoding() -> None:
    with pytest.raises(AudioTooLongError, match="max_seconds"):
        decode_audio(pcm_wav(tone(3.0), 16_000), "audio/wav", max_seconds=2.0)
    fmt = AudioFormat("mp3", 44_100, 1, bit_rate=64_000, lossless=False)
    with pytest.raises(AudioTooLongError):
        decode_audio(encode_audio(tone(3.0, channels=1), fmt), max_seconds=2.0)


def test_eight_channels_are_refused() -> None:
    with pytest.raises(UnsupportedAudioLayoutError, match="8 channels"):
        decode_audio(pcm_wav(tone(channels=8), 44_100), "audio/wav")


def test_8_khz_is_refused() -> None:
    with pytest.raises(UnsupportedAudioLayoutError, match="8000 Hz"):
        decode_audio(pcm_wav(tone(rate=8000, channels=1), 8000), "audio/wav")


def test_float_wav_is_refused() -> None:
    with pytest.raises(UnsupportedAudioError, match="FLOAT"):
        decode_audio(pcm_wav(tone(), 44_100, "FLOAT"), "audio/wav")


def test_every_error_has_a_title() -> None:
    for cls in (AudioTooLongError, AudioTypeMismatchError, CorruptAudioError, UnsupportedAudioLayoutError):
        assert issubclass(cls, AudioMarkingError)
        assert cls.title and cls.title != AudioMarkingError.title


def test_wav_written_by_the_standard_library_reads() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22_050)
        w.writeframes((tone(rate=22_050, channels=1)[:, 0] * 32767).astype("<i2").tobytes())
    decoded = decode_audio(out.getvalue(), "audio/x-wav")
    assert decoded.format == AudioFormat("wav", 22_050, 1, subtype="PCM_16")


@pytest.mark.parametrize(("name", "suffix"), [("mp3", "mp3"), ("m4a", "m4a"), ("flac", "flac"), ("wav", "wav")])
def test_the_ffmpeg_command_line_reads_what_we_write(name: str, suffix: str, tmp_path: Path) -> None:
    """An independent reader (Debian's ffmpeg, not PyAV's bundled copy) agrees on rate, channels and length."""
    ffprobe = require_tool("ffprobe")
    lossless = name in ("wav", "flac")
    fmt = AudioFormat(name, 48_000, 2, subtype="PCM_24" if lossless else None,
                      bit_rate=None if lossless else 128_000, lossless=lossless)
    path = tmp_path / f"out.{suffix}"
    path.write_bytes(encode_audio(tone(3.0, 48_000, 2), fmt))
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
         "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )
    info = json.loads(probe.stdout)
    assert int(info["streams"][0]["sample_rate"]) == 48_000 and info["streams"][0]["channels"] == 2
    assert abs(float(info["format"]["duration"]) - 3.0) < 0.05
