"""Video marking in TransparencyMiddleware: real Starlette routes serving generated MP4 and MOV files, the real
middleware and marking service (worker processes by default, threads on request), checked with verify."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify

from ..provenance.video.clips import ClipSpec, make_clip
from ..tools import require_module, require_tool

pytestmark = pytest.mark.anyio
require_module("av")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder: Path = tmp_path_factory.mktemp("served-video")
    ffmpeg = require_tool("ffmpeg")
    mp4 = make_clip(ClipSpec("testsrc2", 160, 90, 2.0), folder, ffmpeg).read_bytes()
    mov = make_clip(ClipSpec("card", 160, 90, 2.0, container="mov"), folder, ffmpeg).read_bytes()
    return {"mp4": mp4, "mov": mov, "truncated": mp4[: len(mp4) // 3]}


def make_config(**video: Any) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Video", "provider": "Acme GmbH"}, images={"routes": ["/video/*"]},
                              video=video)


@pytest.fixture
async def served(clips: dict[str, bytes]) -> AsyncIterator[Any]:
    apps: list[TransparencyMiddleware] = []

    def build(config: TransparencyConfig) -> TransparencyMiddleware:
        async def video(request: Request) -> Response:
            name = request.path_params["name"]
            kind = "video/quicktime" if name == "mov" else "video/mp4"
            return Response(clips[name], media_type=kind, headers={"ETag": '"v1"'})

        app = TransparencyMiddleware(Starlette(routes=[Route("/video/{name}", video), Route("/plain/{name}", video)]),
                                     config=config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.close()  # no lifespan under httpx's transport: stop the worker processes here


async def fetch(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=120) as client:
        return await client.get(path)


@pytest.mark.parametrize("executor", ["process", "thread"])
@pytest.mark.parametrize(("name", "media_type"), [("mp4", "video/mp4"), ("mov", "video/quicktime")])
async def test_video_responses_on_media_routes_are_marked(served: Any, executor: str, name: str, media_type: str
                                                         ) -> None:
    config = make_config(executor=executor)
    app = served(config)
    response = await fetch(app, f"/video/{name}")
    assert app.images is not None and (app.images._video_pool is not None) == (executor == "process")
    assert response.status_code == 200 and response.headers["content-type"] == media_type
    assert int(response.headers["content-length"]) == len(response.content) and "etag" not in response.headers
    assert "no-transform" in response.headers["cache-control"]
    assert response.headers["ai-disclosure"].startswith("mode=ai-originated")
    report = verify(response.content, config=config)
    assert report.c2pa["valid"] and report.c2pa["disclosed_system"] == "Acme Video"
    assert report.watermark["found"] and report.watermark["system_matches"]


async def test_video_off_the_media_routes_passes_untouched(served: Any, clips: dict[str, bytes]) -> None:
    response = await fetch(served(make_config()), "/plain/mp4")
    assert response.status_code == 200 and response.content == clips["mp4"]


async def test_video_disabled_passes_video_untouched(served: Any, clips: dict[str, bytes]) -> None:
    response = await fetch(served(make_config(enabled=False)), "/video/mp4")
    assert response.status_code == 200 and response.content == clips["mp4"] and response.headers["etag"] == '"v1"'


async def test_a_truncated_video_fail_closed(served: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="aiact_transparency"):
        response = await fetch(served(make_config(executor="thread")), "/video/truncated")
    assert response.status_code == 500 and response.json()["title"] == "The video data is corrupt"
    assert "no index" in response.json()["detail"]
    assert any("video.on_error = fail-closed" in r.getMessage() for r in caplog.records)


async def test_a_truncated_video_fail_open(served: Any, clips: dict[str, bytes], caplog: pytest.LogCaptureFixture
                                           ) -> None:
    with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
        response = await fetch(served(make_config(on_error="fail-open", executor="thread")), "/video/truncated")
    assert response.status_code == 200 and response.content == clips["truncated"]
    assert any("UNMARKED video" in r.getMessage() for r in caplog.records)


async def test_over_video_max_bytes(served: Any) -> None:
    response = await fetch(served(make_config(max_bytes=4096)), "/video/mp4")
    assert response.status_code == 500 and "video.max_bytes = 4096" in response.json()["detail"]


async def test_video_alone_is_marked_with_images_and_audio_off(served: Any) -> None:
    config = TransparencyConfig(images={"routes": ["/video/*"], "enabled": False}, audio={"enabled": False},
                                video={"executor": "thread"})
    response = await fetch(served(config), "/video/mp4")
    assert response.status_code == 200 and verify(response.content, config=config).watermark["found"]


async def test_the_discovery_document_describes_video_marking(served: Any) -> None:
    response = await fetch(served(make_config(visible_label=True)), "/.well-known/ai-disclosure")
    video = response.json()["marking"]["video"]
    assert video["enabled"] and video["types"] == ["video/mp4", "video/quicktime"] and video["visible_label"]
    assert video["signer"] is not None
