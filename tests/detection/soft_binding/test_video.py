"""Video outputs resolve too (issue 18): a video marked by the middleware keeps its signed manifest store in the
log, and `matches/byBinding` with the video watermark's own id finds it by the payload its frames carry (read
back from the served file by `verify`), on SQLite and PostgreSQL; the image id does not resolve a video."""

from __future__ import annotations

import base64
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, verify
from aiact_transparency.detection.soft_binding import WATERMARK_ALG
from aiact_transparency.detection.soft_binding.algorithms import VIDEO_WATERMARK_ALG
from aiact_transparency.detection.soft_binding.resolver import payload_word
from aiact_transparency.provenance.c2pa.jumbf import active_manifest_label
from tests.provenance.video.clips import ClipSpec, make_clip
from tests.tools import require_module, require_tool

from ...wired.flows import SYSTEM

require_module("av")

from aiact_transparency.provenance.video.marker import SOFT_BINDING_ALG  # noqa: E402

API = "/.well-known/ai-disclosure/c2pa/v1"


def test_the_video_id_is_the_one_the_marker_writes() -> None:
    assert VIDEO_WATERMARK_ALG == SOFT_BINDING_ALG


def test_a_marked_video_is_found_by_its_payload(store_url: str, tmp_path: Path) -> None:
    clip = make_clip(ClipSpec("testsrc2", 426, 240, 2.0, audio=False), tmp_path, require_tool("ffmpeg")).read_bytes()

    async def video(request: Request) -> Response:
        return Response(clip, media_type="video/mp4")

    config = TransparencyConfig(system=SYSTEM, images={"routes": ["/video/*"]}, video={"executor": "thread"},
                                fingerprints={"enabled": True, "store": store_url})
    app = TransparencyMiddleware(Starlette(routes=[Route("/video/{name}", video)]), config)
    with TestClient(app) as client:
        marked = client.get("/video/clip").content
        assert app.output_log is not None and app.output_log.flush(60)
        (record,) = list(app.output_log.store.export())
        assert record.media_type == "video/mp4" and record.manifest_id is not None

        word = payload_word(verify(marked, config=config).watermark)  # what the served frames carry
        assert word is not None and word == record.payload
        assert {"alg": VIDEO_WATERMARK_ALG} in client.get(f"{API}/services/supportedAlgorithms").json()["watermarks"]
        value = base64.b64encode(word).decode()
        found = client.get(f"{API}/matches/byBinding", params={"alg": VIDEO_WATERMARK_ALG, "value": value})
        assert found.status_code == 200, found.text
        assert found.json() == {"matches": [{"manifestId": record.manifest_id, "similarityScore": 100}]}
        image_alg = client.get(f"{API}/matches/byBinding", params={"alg": WATERMARK_ALG, "value": value})
        assert image_alg.json() == {"matches": []}  # each watermark id resolves its own medium only

        store = client.get(f"{API}/manifests/{record.manifest_id}")
        assert store.status_code == 200 and store.headers["content-type"] == "application/c2pa"
        assert active_manifest_label(store.content) == record.manifest_id
