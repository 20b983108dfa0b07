"""Audio marking in TransparencyMiddleware: real Starlette routes serving real WAV, FLAC, MP3 and M4A files, the
real middleware (httpx ASGITransport, and uvicorn for a streamed body), checked with verify and the c2pa Reader."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio

from ..provenance.audio.clips import _stereo, music
from ..servers import serve
from ..tools import require_module, require_tool
from .test_media_content_coding import CodingRecorder

pytestmark = pytest.mark.anyio
require_module("av")
sf = require_module("soundfile")

FORMATS = {
    "wav": AudioFormat("wav", 48_000, 2, subtype="PCM_16"),
    "flac": AudioFormat("flac", 22_050, 1, subtype="PCM_16"),
    "mp3": AudioFormat("mp3", 44_100, 2, bit_rate=128_000, lossless=False),
    "m4a": AudioFormat("m4a", 48_000, 1, bit_rate=96_000, lossless=False),
}
# What apps send: the canonical type, or a common alias
DECLARED = {"wav": "audio/x-wav", "flac": "audio/flac", "mp3": "audio/mpeg", "m4a": "audio/x-m4a"}


def clip(name: str, seconds: float = 3.0) -> bytes:
    fmt = FORMATS[name]
    mono = music(seconds, fmt.rate, np.random.default_rng(7))
    samples = _stereo(mono, np.random.default_rng(7), fmt.rate) if fmt.channels == 2 else mono[:, None]
    return encode_audio(samples, fmt)


# Cached: libsndfile stamps float WAVs (PEAK chunk) with the current second, so two calls straddling a second
# differ and the "the original is sent" comparison would fail at random.
@functools.cache
def _wav(channels: int = 1, rate: int = 48_000, seconds: float = 3.0, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    noise = 0.1 * np.random.default_rng(1).standard_normal((int(rate * seconds), channels))
    sf.write(out, noise, rate, subtype=subtype, format="WAV")
    return out.getvalue()


BAD = {
    "truncated": lambda: (clip("wav")[:6000], "audio/wav"),
    "corrupt-mp3": lambda: (clip("mp3")[:40] + bytes(3000), "audio/mpeg"),
    "lying-type": lambda: (clip("flac"), "audio/mpeg"),  # marked: the bytes decide, the lie is noted
    "empty": lambda: (b"", "audio/wav"),
    "too-long": lambda: (_wav(seconds=12.0), "audio/wav"),
    "8-channels": lambda: (_wav(channels=8), "audio/wav"),
    "8-khz": lambda: (_wav(rate=8000), "audio/wav"),
    "float": lambda: (_wav(subtype="FLOAT"), "audio/wav"),
}


def make_config(**audio: Any) -> TransparencyConfig:
    return TransparencyConfig(
        system={"name": "Acme Voice", "provider": "Acme GmbH"}, model={"id": "acme/tts-1"},
        images={"routes": ["/audio/*"]}, audio={"max_seconds": 10.0, **audio},
    )


def build_app(config: TransparencyConfig) -> TransparencyMiddleware:
    async def by_format(request: Request) -> Response:
        name = request.path_params["fmt"]
        return Response(clip(name), media_type=DECLARED[name], headers={"ETag": '"v1"'})

    async def bad(request: Request) -> Response:
        data, media_type = BAD[request.path_params["case"]]()
        return Response(data, media_type=media_type)

    async def streamed(request: Request) -> Response:
        data = clip("mp3", 6.0)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 4096):
                await asyncio.sleep(0.001)
                yield data[start : start + 4096]

        return StreamingResponse(chunks(), media_type="audio/mpeg")

    async def elsewhere(request: Request) -> Response:
        return Response(clip("wav"), media_type="audio/wav")

    app = Starlette(routes=[Route("/audio/bad/{case}", bad), Route("/audio/stream.mp3", streamed),
                            Route("/audio/{fmt}", by_format), Route("/plain.wav", elsewhere)])
    return TransparencyMiddleware(app, config=config)


async def fetch(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path)


@pytest.mark.parametrize("name", list(FORMATS))
async def test_audio_responses_on_media_routes_are_marked(name: str) -> None:
    config = make_config()
    response = await fetch(build_app(config), f"/audio/{name}")
    fmt = FORMATS[name]
    assert response.status_code == 200 and response.headers["content-type"] == fmt.media_type
    assert int(response.headers["content-length"]) == len(response.content) and "etag" not in response.headers
    assert "no-transform" in response.headers["cache-control"]
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    report = verify(response.content, config=config)
    assert report.c2pa["valid"] and report.c2pa["ai_generated"] and report.c2pa["disclosed_system"] == "Acme Voice"
    # The watermark is claimed (soft binding) exactly when it reads back from the output
    assert report.watermark["found"] == (report.c2pa["soft_binding_alg"] is not None)
    assert report.watermark.get("system_matches", True)
    assert decode_audio(response.content).format == fmt


async def test_audio_compressed_by_an_inner_gzip_middleware_is_decoded_and_marked() -> None:
    # A GZipMiddleware whose exclude list does not name audio (Starlette's default does): the clip arrives
    # gzip-encoded, the responder decodes it, marks it and sends it unencoded.
    config = make_config()
    recorder = CodingRecorder(GZipMiddleware(build_app(config).app, minimum_size=1, exclude_content_types=()))
    response = await fetch(TransparencyMiddleware(recorder, config=config), "/audio/wav")
    assert recorder.seen == ["gzip"] and response.status_code == 200
    assert "content-encoding" not in response.headers and response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(response.content)  # httpx had nothing to decode
    report = verify(response.content, config=config)
    assert report.c2pa["valid"] and report.c2pa["ai_generated"] and report.watermark["found"]
    assert decode_audio(response.content).format == FORMATS["wav"]


async def test_audio_off_the_media_routes_passes_untouched() -> None:
    response = await fetch(build_app(make_config()), "/plain.wav")
    assert response.status_code == 200 and not verify(response.content).marked


async def test_audio_disabled_passes_audio_untouched() -> None:
    response = await fetch(build_app(make_config(enabled=False)), "/audio/wav")
    assert response.status_code == 200 and response.headers["etag"] == '"v1"'
    assert not verify(response.content).c2pa["found"]


@pytest.mark.parametrize("case", [c for c in BAD if c != "lying-type"])
async def test_bad_audio_fail_closed_is_a_problem_response(case: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(build_app(make_config()), f"/audio/bad/{case}")
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"].startswith(("The audio", "Unsupported audio")), problem
    assert any("audio.on_error = fail-closed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("case", [c for c in BAD if c != "lying-type"])
async def test_bad_audio_fail_open_sends_the_original_and_logs(case: str, caplog: pytest.LogCaptureFixture) -> None:
    data, media_type = BAD[case]()
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(build_app(make_config(on_error="fail-open")), f"/audio/bad/{case}")
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == media_type
    assert any("UNMARKED audio" in r.getMessage() and "audio.on_error = fail-open" in r.getMessage()
               for r in caplog.records)


async def test_a_lying_content_type_is_corrected() -> None:
    response = await fetch(build_app(make_config()), "/audio/bad/lying-type")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    assert verify(response.content).c2pa["valid"]


async def test_over_audio_max_bytes_is_refused_under_its_policy() -> None:
    response = await fetch(build_app(make_config(max_bytes=4096)), "/audio/wav")
    assert response.status_code == 500 and "audio.max_bytes = 4096" in response.json()["detail"]


def test_a_streamed_mp3_over_uvicorn_is_collected_and_marked() -> None:
    config = make_config()
    with serve(build_app(config), log_config=None) as base, httpx.Client(base_url=base, timeout=60) as client:
        response = client.get("/audio/stream.mp3")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    assert verify(response.content, config=config).c2pa["valid"]
    assert abs(decode_audio(response.content).seconds - 6.0) < 0.1


async def test_the_discovery_document_describes_audio_marking() -> None:
    document = (await fetch(build_app(make_config()), "/.well-known/ai-disclosure")).json()
    audio = document["marking"]["audio"]
    assert audio["enabled"] and audio["c2pa"] and audio["invisible_watermark"] and not audio["spoken_disclaimer"]
    assert audio["types"] == ["audio/flac", "audio/mp4", "audio/mpeg", "audio/wav"]
    assert audio["signer"]["development"] is True
    off = (await fetch(build_app(make_config(enabled=False)), "/.well-known/ai-disclosure")).json()
    assert off["marking"]["audio"]["enabled"] is False and off["marking"]["audio"]["signer"] is None


def _hum_wav(rate: int = 16_000, seconds: float = 4.0) -> tuple[bytes, np.ndarray]:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.05 * np.sin(2 * np.pi * 220 * t))[:, None].astype(np.float32)
    out = io.BytesIO()
    sf.write(out, samples, rate, subtype="PCM_16", format="WAV")
    return out.getvalue(), decode_audio(out.getvalue()).samples


def _spoken_in(data: bytes, original: np.ndarray, rate: int) -> str:
    """Which language's disclaimer the marked WAV carries: the one whose mix (before the watermark, which sits
    30 dB down) matches the output; espeak-ng renders each sentence the same every time."""
    from aiact_transparency.disclosure.i18n import AUDIO_DISCLAIMERS
    from aiact_transparency.provenance.audio.disclaimer import mix_disclaimer, synthesize

    out = decode_audio(data).samples
    errors = {}
    for language in ("de", "en", "fr", "pl"):
        voice, voice_rate = synthesize(AUDIO_DISCLAIMERS[language], language)
        expected = mix_disclaimer(original, rate, voice, voice_rate, None)
        errors[language] = float(np.sum((out - expected) ** 2) / np.sum(expected**2))
    best = min(errors, key=errors.__getitem__)
    assert errors[best] < 0.01, errors  # the output is that mix plus the faint watermark, nothing else
    return best


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_the_spoken_disclaimer_follows_accept_language(executor: str) -> None:
    require_tool("espeak-ng")
    data, original = _hum_wav()

    async def hum(request: Request) -> Response:
        return Response(data, media_type="audio/wav")

    def app(**disclaimer: Any) -> TransparencyMiddleware:
        config = TransparencyConfig(system={"name": "Acme Voice"}, images={"routes": ["/audio/*"], "executor": executor,
                                                                           "workers": 1},
                                    audio={"disclaimer": {"enabled": True, **disclaimer}})
        return TransparencyMiddleware(Starlette(routes=[Route("/audio/hum.wav", hum)]), config=config)

    negotiated, fixed = app(), app(language="pl")
    try:
        with serve(negotiated, log_config=None) as base, httpx.Client(base_url=base, timeout=60) as client:
            spoken = {accept: _spoken_in(client.get("/audio/hum.wav", headers=headers).content, original, 16_000)
                      for accept, headers in (("de-AT, fr;q=0.5", {"accept-language": "de-AT, fr;q=0.5"}),
                                              ("ja, fr;q=0.3", {"accept-language": "ja, fr;q=0.3"}),
                                              ("none", {}))}
        assert spoken == {"de-AT, fr;q=0.5": "de", "ja, fr;q=0.3": "fr", "none": "en"}
        # A language configured for the content wins over the visitor's preference.
        with serve(fixed, log_config=None) as base, httpx.Client(base_url=base, timeout=60) as client:
            response = client.get("/audio/hum.wav", headers={"accept-language": "de"})
        assert _spoken_in(response.content, original, 16_000) == "pl"
    finally:
        negotiated.close()
        fixed.close()
