"""An audio API whose "generator" is procedural (no model download), marked by the middleware.

Run: ``python examples/audio_api.py`` then open http://127.0.0.1:8003/music?prompt=sunset (or ``make demo``).
Every clip it returns (a 16-bit WAV) carries the spoken disclaimer when `audio.disclaimer.enabled` is set (the
demo's config sets it; needs Debian's espeak-ng), an imperceptible watermark, XMP and a signed C2PA manifest;
check one with ``aiact-transparency verify FILE``. Needs the audio extra (``pip install 'aiact-transparency[audio]'``).
"""

from __future__ import annotations

import hashlib
import io
import wave

import numpy as np
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from aiact_transparency import TransparencyMiddleware, load_config

router = APIRouter()
RATE = 22_050


def generate(prompt: str, seconds: float) -> np.ndarray:
    """A deterministic 'melody' of the prompt, mono float in +-1: plucked notes of a pentatonic scale, seeded by
    its hash, over a soft drone."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = 0.05 * np.sin(2 * np.pi * 110 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.2 * t))
    note = int(0.25 * RATE)
    scale = 220 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    for start in range(0, n - note, note):
        f = rng.choice(scale)
        local = np.arange(note) / RATE
        tone = sum(np.sin(2 * np.pi * f * k * local) / k for k in (1, 2, 3))
        out[start : start + note] += 0.25 * tone * np.exp(-6 * local)
    peak = float(np.max(np.abs(out))) or 1.0
    samples: np.ndarray = 0.7 * out / peak
    return samples


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


@router.get("/music", response_class=Response)
async def generate_music(
    prompt: str = Query("a sunset over the sea", max_length=500),
    seconds: float = Query(8.0, ge=3.0, le=60.0),
) -> Response:
    # The app returns plain samples; the middleware speaks the disclaimer, marks and signs them on the way out.
    return Response(wav_bytes(generate(prompt, seconds)), media_type="audio/wav")


def create_app() -> FastAPI:
    app = FastAPI(title="Procedural audio API")
    app.include_router(router)
    app.add_middleware(TransparencyMiddleware, config=load_config())
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8003)
