"""Time the image watermark per megapixel: embed, detect, and baselines measured in the same run.

Run: .venv/bin/python bench/bench_watermark.py

Issue 17's goal: embed and detect each <= 12 ms/MP. Detection is timed on a marked image (found at the first
reading) and on an unmarked one (all 16 offsets read: the worst case at one size). Baselines beside them: the
textbook per-block loop (pywt DWT, DCT, full SVD per 4x4 block) and a JPEG decode + encode of the same image
with Pillow, so a slow machine shows as slow baselines too. Each figure goes to bench/results.py `record`.
Timed in process CPU time: on the shared machine wall time also counts the slices other jobs take.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

import numpy as np
import pywt
from PIL import Image, ImageFilter
from results import record

from aiact_transparency.provenance.image.watermark import WatermarkPayload, detect_watermark, embed_watermark

PAYLOAD = WatermarkPayload(0x123456, 0x654321)
STEP = 36.0
GOAL_MS_PER_MP = 12.0


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = (rng.random((height // 64 + 2, width // 64 + 2, 3)) * 255).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float64)
    base += rng.normal(0, 4, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: imports, allocator, BLAS threads
    times = []
    for _ in range(runs):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def _dct_matrix() -> np.ndarray:
    k, n = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    return np.sqrt(np.where(k == 0, 0.25, 0.5)) * np.cos(np.pi * (2 * n + 1) * k / 8)


def naive_embed(image: Image.Image, bits: tuple[int, ...]) -> np.ndarray:
    """Baseline: the textbook loop, one 4x4 block at a time (pywt DWT, DCT, full SVD, inverse)."""
    rgb = np.asarray(image, dtype=np.float64)
    y = rgb @ np.array([0.299, 0.587, 0.114])
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    approx, details = pywt.dwt2(y[:h, :w], "haar")
    dct = _dct_matrix()
    n = 0
    for i in range(0, approx.shape[0] - 3, 4):
        for j in range(0, approx.shape[1] - 3, 4):
            u, s, vt = np.linalg.svd(dct @ approx[i : i + 4, j : j + 4] @ dct.T)
            s[0] = (s[0] // STEP + 0.25 + 0.5 * bits[n % len(bits)]) * STEP
            approx[i : i + 4, j : j + 4] = dct.T @ (u * s) @ vt @ dct
            n += 1
    y_marked = pywt.idwt2((approx, details), "haar")
    out = rgb.copy()
    out[:h, :w] += (y_marked - y[:h, :w])[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


def jpeg_round_trip(image: Image.Image) -> bytes:
    buffer = io.BytesIO(encode_jpeg(image))
    decoded = Image.open(buffer)
    decoded.load()
    return encode_jpeg(decoded)


def encode_jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> None:
    image = photo_like(1024, 1024)
    naive = median_ms(lambda: naive_embed(image, PAYLOAD.to_bits()), runs=1) / (1024 * 1024 / 1e6)
    print(f"{'size':>10} {'MP':>5} {'embed ms/MP':>12} {'detect ms/MP':>13} {'unmarked':>9} {'miss, 3 sizes':>14}"
          f" {'JPEG dec+enc':>13} {'PSNR dB':>8}")
    for side in (1024, 2048):
        image = photo_like(side, side)
        mp = side * side / 1e6
        marked = embed_watermark(image, PAYLOAD)
        assert detect_watermark(marked).payload == PAYLOAD
        assert not detect_watermark(image).found
        embed = median_ms(lambda image=image: embed_watermark(image, PAYLOAD), runs=7) / mp
        detect = median_ms(lambda marked=marked: detect_watermark(marked), runs=7) / mp
        unmarked = median_ms(lambda image=image: detect_watermark(image), runs=7) / mp
        # Worst case: an unmarked image, read at its own size and two candidates, all 16 offsets each.
        miss = median_ms(lambda image=image: detect_watermark(image, candidate_sizes=[(768, 768), (1536, 1536)]), 3)
        codec = median_ms(lambda image=image: jpeg_round_trip(image), runs=7) / mp
        print(f"{side}x{side:<5} {mp:5.2f} {embed:12.1f} {detect:13.1f} {unmarked:9.1f} {miss / mp:14.1f}"
              f" {codec:13.1f} {psnr(image, marked):8.1f}")
        baseline = f"per-block loop {naive:.0f} ms/MP; JPEG dec+enc {codec:.1f} ms/MP; CPU time"
        for what, value in (("embed", embed), ("detect, marked", detect), ("detect, unmarked", unmarked)):
            record(f"image watermark {what}, {mp:.0f} MP", value, "ms/MP", goal=f"<= {GOAL_MS_PER_MP:.0f} ms/MP",
                   baseline=baseline, passed=value <= GOAL_MS_PER_MP, issue="17")
    ours = median_ms(lambda: embed_watermark(image, PAYLOAD), runs=7) / 4.194304
    print(f"naive per-block baseline, 1 MP embed: {naive:.0f} ms/MP; vectorised: {ours:.1f} ms/MP;"
          f" ratio {naive / ours:.0f}x")


if __name__ == "__main__":
    main()
