"""Time audio marking on 30 s of 48 kHz stereo (synthesised here; needs the audio extra), against issue 12's goals:

1. mark a WAV with every default layer (watermark, its read-back, XMP, C2PA): <= 150 ms; baselines beside it:
   the same marker with the watermark off (decode, XMP, C2PA) and the watermark's embed alone;
2. mark an MP3 128 kbit/s, decode + watermark + encode: <= 400 ms; baseline: decode + encode alone (the
   codec's own cost), and the whole AudioMarker.mark (read-back and C2PA on top) for information;
3. detect 30 s: <= 100 ms; baseline: the same read on the unmarked clip;
4. event-loop lag p99 while 8 clips are marked at once through TransparencyMiddleware (in-process ASGI over
   httpx, `images.executor: process`): <= 5 ms; baseline: the same loop idle, measured in the same run.

Run: .venv/bin/python bench/bench_audio.py [--runs 5] [--lag-only]
Each figure goes to bench/results.py record(); the detail is printed too. Medians of --runs runs after a warm-up,
in CPU time of this process (see `median_ms`), the wall clock printed beside.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.provenance.audio import codec
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.marker import AudioMarker
from aiact_transparency.provenance.audio.watermark import detect_audio_watermark, embed_audio_watermark
from aiact_transparency.provenance.payload import WatermarkPayload

PAYLOAD = WatermarkPayload(0x123456, 0x654321)
RATE = 48_000
SECONDS = 30.0
CONCURRENT = 8
LAG_EVERY_S = 0.005
ISSUE = "12"


WALL: dict[str, float] = {}  # what each timing's wall clock said, printed beside its CPU time


def median_ms(action: Callable[[], object], runs: int) -> float:
    """Median CPU time of `action()` in this process (ms). Every step is single-threaded (numpy's FFT, scipy's
    resampler, LAME, FFmpeg's AAC, c2pa-rs signing), so on the shared bench machine its CPU time is the
    latency a quiet machine gives; the wall clock, printed beside it, includes waiting for other processes."""
    action()  # warm-up: imports, FFT plans, allocator
    cpu, wall = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    WALL[f"{len(WALL)}"] = statistics.median(wall) * 1000
    return statistics.median(cpu) * 1000


def music_like(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220, 330, 440, 660, 880, 1320)))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9) * rng.standard_normal(len(t)) * 0.3
    mono = 0.2 * tone * (1 + 0.5 * np.sin(2 * np.pi * 0.25 * t)) + beat
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32) * 0.5


def decode_mark_encode(data: bytes, content_type: str, watermark: bool = True) -> bytes:
    decoded = decode_audio(data, content_type)
    samples = decoded.samples
    if watermark:
        samples = embed_audio_watermark(samples, decoded.format.rate, PAYLOAD)
    return encode_audio(samples, decoded.format)


def encode_through_pyav(samples: np.ndarray, fmt: AudioFormat) -> bytes:
    """The codec's encode as on a machine without the system's libmp3lame (PyAV's wheel LAME)."""
    system_lame = codec.system_lame
    codec.system_lame = lambda: None
    try:
        return encode_audio(samples, fmt)
    finally:
        codec.system_lame = system_lame


def config(**audio: Any) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Bench Voice", "provider": "Bench"}, audio=audio)


def marking_rows(runs: int) -> None:
    samples = music_like(SECONDS, RATE)
    wav = encode_audio(samples, AudioFormat("wav", RATE, 2, subtype="PCM_16"))
    mp3_format = AudioFormat("mp3", RATE, 2, bit_rate=128_000, lossless=False)
    mp3 = encode_audio(samples, mp3_format)
    lame = codec.system_lame()
    print(f"MP3 encoder: {'the system libmp3lame ' + lame.version + ' (' + lame.path + ')' if lame else 'PyAV'}")
    full, no_watermark = AudioMarker(config()), AudioMarker(config(watermark=False))
    # The marker claims a watermark only once it reads back (it is not claimed otherwise): on this steady chord
    # about one random item id in several hundred does not (session 5: 420 of 420 in loops, one miss in a bench
    # run). Say so and mark again rather than stop the bench: the timing rows below need a claimed mark to detect.
    for attempt in range(1, 6):
        marked_wav = full.mark(wav)
        if marked_wav.report.watermark is not None:
            break
        print(f"note: mark {attempt} of the WAV was not claimed ({'; '.join(marked_wav.report.notes)}); marking again")
    assert marked_wav.report.watermark is not None and marked_wav.report.c2pa is not None, marked_wav.report
    marked = decode_audio(marked_wav.data).samples
    assert detect_audio_watermark(marked, RATE).found
    ms = {
        "wav full": median_ms(lambda: full.mark(wav), runs),
        "wav no watermark": median_ms(lambda: no_watermark.mark(wav), runs),
        "embed": median_ms(lambda: embed_audio_watermark(samples, RATE, PAYLOAD), runs),
        "mp3 decode+watermark+encode": median_ms(lambda: decode_mark_encode(mp3, "audio/mpeg"), runs),
        "mp3 decode+encode": median_ms(lambda: decode_mark_encode(mp3, "audio/mpeg", watermark=False), runs),
        "mp3 decode": median_ms(lambda: decode_audio(mp3, "audio/mpeg"), runs),
        "mp3 encode": median_ms(lambda: encode_audio(samples, mp3_format), runs),
        "mp3 encode pyav": median_ms(lambda: encode_through_pyav(samples, mp3_format), runs),
        "mp3 full": median_ms(lambda: full.mark(mp3), max(1, runs // 2)),
        "detect": median_ms(lambda: detect_audio_watermark(marked, RATE), runs),
        "detect unmarked": median_ms(lambda: detect_audio_watermark(samples, RATE), runs),
    }
    print(f"{SECONDS:.0f} s of {RATE // 1000} kHz stereo, median of {runs} runs (ms): CPU time, wall clock")
    for (name, value), wall in zip(ms.items(), WALL.values(), strict=True):
        print(f"  {name:<30} {value:8.1f} {wall:8.1f}")
    record("audio mark 30 s 48 kHz stereo WAV (watermark + C2PA), CPU", ms["wav full"], "ms", goal="<= 150 ms",
           baseline=f"watermark off {ms['wav no watermark']:.0f} ms; embed alone {ms['embed']:.0f} ms",
           passed=ms["wav full"] <= 150, issue=ISSUE)
    record("audio mark 30 s MP3 128k (decode + watermark + encode), CPU", ms["mp3 decode+watermark+encode"], "ms",
           goal="<= 400 ms", baseline=f"decode + encode alone {ms['mp3 decode+encode']:.0f} ms (decode "
           f"{ms['mp3 decode']:.0f}, encode {ms['mp3 encode']:.0f}; PyAV's LAME encodes in "
           f"{ms['mp3 encode pyav']:.0f}); whole mark() {ms['mp3 full']:.0f} ms",
           passed=ms["mp3 decode+watermark+encode"] <= 400, issue=ISSUE)
    record("audio detect 30 s 48 kHz stereo, CPU", ms["detect"], "ms", goal="<= 100 ms",
           baseline=f"unmarked clip {ms['detect unmarked']:.0f} ms", passed=ms["detect"] <= 100, issue=ISSUE)


async def _lag_while(action: Callable[[], Any] | None) -> tuple[list[float], float]:
    """Sleep overshoot (ms) of LAG_EVERY_S sleeps on this loop while `action()` (a coroutine) runs, or for 2 s."""
    samples: list[float] = []
    done = asyncio.Event()

    async def monitor() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(LAG_EVERY_S)
            samples.append((time.perf_counter() - start - LAG_EVERY_S) * 1000)

    task = asyncio.get_running_loop().create_task(monitor())
    start = time.perf_counter()
    if action is None:
        await asyncio.sleep(2.0)
    else:
        await action()
    elapsed = time.perf_counter() - start
    done.set()
    await task
    return samples, elapsed


def _p99(samples: list[float]) -> float:
    return float(np.percentile(samples, 99)) if samples else float("nan")


async def _lag_rows() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    out = io.BytesIO()
    import soundfile

    soundfile.write(out, music_like(SECONDS, RATE), RATE, subtype="PCM_16", format="WAV")
    wav = out.getvalue()

    async def clip(request: Request) -> Response:
        return Response(wav, media_type="audio/wav")

    cfg = TransparencyConfig(system={"name": "Bench Voice"},
                             images={"routes": ["/audio/*"], "executor": "process", "max_queue": CONCURRENT})
    app = TransparencyMiddleware(Starlette(routes=[Route("/audio/clip.wav", clip)]), config=cfg)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     timeout=300) as client:
            warm = await client.get("/audio/clip.wav")  # the worker processes are up and warm
            assert warm.status_code == 200, warm.text

            async def eight() -> None:
                responses = await asyncio.gather(*(client.get("/audio/clip.wav") for _ in range(CONCURRENT)))
                assert all(r.status_code == 200 for r in responses), [r.status_code for r in responses]

            idle, _ = await _lag_while(None)
            busy, elapsed = await _lag_while(eight)
    finally:
        app.close()
    print(f"event-loop lag, {CONCURRENT} x {SECONDS:.0f} s WAV marked at once ({elapsed:.1f} s, process executor, "
          f"{app.images.workers if app.images else 0} worker(s)): p50 {np.percentile(busy, 50):.2f} ms, p99 "
          f"{_p99(busy):.2f} ms, max {max(busy):.2f} ms; idle p99 {_p99(idle):.2f} ms")
    record(f"audio loop lag p99, {CONCURRENT} clips marked at once (process executor)", _p99(busy), "ms",
           goal="<= 5 ms", baseline=f"idle loop p99 {_p99(idle):.2f} ms", passed=_p99(busy) <= 5, issue=ISSUE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lag-only", action="store_true", help="only the event-loop lag row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as keys:
        os.environ.setdefault("AIACT_KEYS_DIR", keys)  # the development signing chain, made once, for this run
        if not args.lag_only:
            marking_rows(args.runs)
        asyncio.run(_lag_rows())


if __name__ == "__main__":
    main()
