"""Time the image watermark per megapixel: embed, detect, and a naive per-block baseline.

Run: .venv/bin/python bench/bench_watermark.py
Prints only; thresholds live nowhere (the machine running it decides what the numbers mean).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pywt
from PIL import Image, ImageFilter

from aiact_transparency.provenance.image.watermark import WatermarkPayload, detect_watermark, embed_watermark

PAYLOAD = WatermarkPayload(0x123456, 0x654321)
STEP = 36.0


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
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
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


def main() -> None:
    print(f"{'size':>10} {'MP':>5} {'embed ms/MP':>12} {'detect ms/MP':>13} {'miss, 3 sizes':>14} {'PSNR dB':>8}")
    for side in (1024, 2048):
        image = photo_like(side, side)
        mp = side * side / 1e6
        marked = embed_watermark(image, PAYLOAD)
        assert detect_watermark(marked).payload == PAYLOAD
        embed = median_ms(lambda image=image: embed_watermark(image, PAYLOAD), runs=7)
        detect = median_ms(lambda marked=marked: detect_watermark(marked), runs=7)
        # Worst case: an unmarked image, read at its own size and two candidates, all 8 offsets each.
        miss = median_ms(lambda image=image: detect_watermark(image, candidate_sizes=[(768, 768), (1536, 1536)]), 3)
        print(
            f"{side}x{side:<5} {mp:5.2f} {embed / mp:12.1f} {detect / mp:13.1f} {miss / mp:14.1f} "
            f"{psnr(image, marked):8.1f}"
        )
    image = photo_like(1024, 1024)
    naive = median_ms(lambda: naive_embed(image, PAYLOAD.to_bits()), runs=1)
    ours = median_ms(lambda: embed_watermark(image, PAYLOAD), runs=7)
    print(f"naive per-block baseline, 1 MP embed: {naive:.0f} ms; vectorised: {ours:.1f} ms; ratio {naive / ours:.0f}x")


if __name__ == "__main__":
    main()
