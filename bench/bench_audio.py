"""Time audio marking: 30 s of 48 kHz stereo, WAV and MP3 128 kbit/s, decode + watermark + encode; detection.

Run: .venv/bin/python bench/bench_audio.py
Prints only, with the issue's targets as PASS/MISS text (C2PA signing is not included here: it is timed with
the rest of the pipeline once the audio path signs). Needs the audio extra; the clip is synthesised here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.watermark import detect_audio_watermark, embed_audio_watermark
from aiact_transparency.provenance.payload import WatermarkPayload

PAYLOAD = WatermarkPayload(0x123456, 0x654321)
RATE = 48_000
SECONDS = 30.0
# (what, target ms): the budgets, less C2PA for the marking rows
TARGETS = {"mark WAV": 150.0, "mark MP3": 400.0, "detect": 100.0}


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: imports, FFT plans, allocator
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def music_like(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220, 330, 440, 660, 880, 1320)))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9) * rng.standard_normal(len(t)) * 0.3
    mono = 0.2 * tone * (1 + 0.5 * np.sin(2 * np.pi * 0.25 * t)) + beat
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32) * 0.5


def mark(data: bytes, content_type: str) -> bytes:
    decoded = decode_audio(data, content_type)
    marked = embed_audio_watermark(decoded.samples, decoded.format.rate, PAYLOAD)
    return encode_audio(marked, decoded.format)


def main() -> None:
    samples = music_like(SECONDS, RATE)
    wav = encode_audio(samples, AudioFormat("wav", RATE, 2, subtype="PCM_16"))
    mp3 = encode_audio(samples, AudioFormat("mp3", RATE, 2, bit_rate=128_000, lossless=False))
    marked = decode_audio(mark(wav, "audio/wav")).samples
    assert detect_audio_watermark(marked, RATE).payload == PAYLOAD
    rows = {
        "embed only": median_ms(lambda: embed_audio_watermark(samples, RATE, PAYLOAD), 5),
        "mark WAV": median_ms(lambda: mark(wav, "audio/wav"), 5),
        "mark MP3": median_ms(lambda: mark(mp3, "audio/mpeg"), 3),
        "detect": median_ms(lambda: detect_audio_watermark(marked, RATE), 5),
        "detect unmarked": median_ms(lambda: detect_audio_watermark(samples, RATE), 5),
    }
    print(f"{SECONDS:.0f} s of {RATE // 1000} kHz stereo, median of 3-5 runs")
    print(f"{'step':<18} {'ms':>8} {'target':>8}")
    for name, ms in rows.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"{target:8.0f} {'PASS' if ms <= target else 'MISS'}"
        print(f"{name:<18} {ms:8.1f} {verdict}")


if __name__ == "__main__":
    main()
