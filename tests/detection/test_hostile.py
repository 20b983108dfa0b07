"""Hostile submissions: oversize, lying or missing types, truncated files, bombs, slow bodies, floods."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import anyio
import httpx
import pytest

from aiact_transparency.detection.describe import VERDICTS
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.provenance import keys
from tests.detection.asgi import PATH, app_with_own_route, call
from tests.detection.conftest import encode, endpoint_for, ours_config, photo_like
from tests.servers import serve

pytestmark = pytest.mark.anyio


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A few kB declaring 900 megapixels: decoding it would need 2.7 GB."""
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 64, 9)  # only 64 rows present: truncated as well
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


async def test_a_declared_length_over_the_limit_is_413_before_reading(endpoint: DetectionEndpoint) -> None:
    size = endpoint.settings.max_bytes + 1
    exchange = await call(endpoint, [b"x" * 10], headers=[(b"content-length", str(size).encode())])
    assert exchange.status == 413 and exchange.received == 0
    assert exchange.json()["code"] == "too_large"


async def test_a_streamed_body_crossing_the_limit_is_413_at_once(ours_signer: keys.LocalKeySigner) -> None:
    app = endpoint_for(ours_config(), ours_signer, max_bytes=4096)
    exchange = await call(app, [b"y" * 1500] * 20)  # no Content-Length: chunked
    assert exchange.status == 413
    assert exchange.received == 3  # the chunk that crossed 4096 bytes was the last one read


async def test_a_slow_body_is_408(ours_signer: keys.LocalKeySigner) -> None:
    app = endpoint_for(ours_config(), ours_signer, read_timeout=0.5, idle_timeout=0.3)
    paused = await call(app, [b"a", b"b"], delay=0.4)  # one pause longer than idle_timeout
    trickle = await call(app, [b"c"] * 20, delay=0.1)  # every gap short, the whole too long
    assert paused.status == 408 and trickle.status == 408
    assert trickle.received < 20 and paused.json()["code"] == "timeout"


async def test_a_client_that_disconnects_gets_nothing_and_frees_its_slot(endpoint: DetectionEndpoint) -> None:
    sent: list[object] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: object) -> None:
        sent.append(message)

    from tests.tools import http_scope

    await endpoint(http_scope(PATH, "POST"), receive, send)
    assert sent == [] and endpoint._admitted == 0


@pytest.mark.parametrize("declared", [b"image/png", b"text/plain", b"application/octet-stream", None])
async def test_lying_or_missing_types_the_bytes_decide(endpoint: DetectionEndpoint, marked_jpeg: bytes,
                                                       declared: bytes | None) -> None:
    headers = [(b"content-type", declared)] if declared else []
    exchange = await call(endpoint, [marked_jpeg], headers=headers)
    result = exchange.json()
    assert exchange.status == 200 and result["media_type"] == "image/jpeg"
    assert result["verdict"] == "generated-by-this-system"


async def test_an_image_type_on_non_image_bytes_is_415(endpoint: DetectionEndpoint) -> None:
    exchange = await call(endpoint, [b"\x00\x01 not an image at all \xff"], headers=[(b"content-type", b"image/png")])
    assert exchange.status == 415 and "image/png content cannot be checked" in exchange.json()["detail"]


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.02])
async def test_truncated_files_are_answered_honestly(endpoint: DetectionEndpoint, marked_jpeg: bytes,
                                                     keep: float) -> None:
    exchange = await call(endpoint, [marked_jpeg[: int(len(marked_jpeg) * keep)]])
    assert exchange.status == 200
    result = exchange.json()
    assert result["verdict"] in VERDICTS and result["verdict"] != "generated-by-this-system"
    assert not result["layers"]["watermark"]["found"]


@pytest.mark.parametrize(("side", "said"), [(7_000, "too large to scan"), (30_000, "decompression bomb")])
async def test_a_decompression_bomb_is_not_decoded(endpoint: DetectionEndpoint, side: int, said: str) -> None:
    data = bomb_png(side, side)  # 49 MP: above images.max_pixels; 900 MP: above Pillow's own bomb limit
    assert len(data) < 200_000
    exchange = await call(endpoint, [data], headers=[(b"content-type", b"image/png")])
    assert exchange.status == 200
    watermark = exchange.json()["layers"]["watermark"]
    assert not watermark["found"] and said in watermark["based_on"]
    assert exchange.json()["verdict"] == "not-detected"


async def test_a_malformed_multipart_body_is_400(endpoint: DetectionEndpoint) -> None:
    body = b"--bnd\r\nContent-Disposition: form-data; name=\"file\"\r\nBad Header Line\r\n\r\nxx\r\n--bnd--\r\n"
    exchange = await call(endpoint, [body], headers=[(b"content-type", b"multipart/form-data; boundary=bnd")])
    assert exchange.status == 400 and "malformed multipart" in exchange.json()["detail"]
    no_boundary = await call(endpoint, [b"x"], headers=[(b"content-type", b"multipart/form-data")])
    assert no_boundary.status == 400


@pytest.fixture
def flooded_server(ours_signer: keys.LocalKeySigner) -> Iterator[tuple[str, DetectionEndpoint]]:
    detector = endpoint_for(ours_config(), ours_signer, workers=1, max_queue=1,
                            rate_limit={"per_client_per_minute": 8})
    with serve(app_with_own_route(detector)) as url:
        yield url, detector


async def test_a_flood_gets_429_and_503_while_the_apps_own_routes_answer(
        flooded_server: tuple[str, DetectionEndpoint]) -> None:
    url, _ = flooded_server
    image = encode(photo_like(800, 800), quality=90)
    statuses: list[int] = []
    own: list[int] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def detect() -> None:
            statuses.append((await http.post(PATH, content=image, headers={"content-type": "image/jpeg"})).status_code)

        async def own_route() -> None:
            for _ in range(5):
                own.append((await http.get("/hello")).status_code)

        async with anyio.create_task_group() as tasks:
            for _ in range(12):
                tasks.start_soon(detect)
            tasks.start_soon(own_route)
        limited = await http.post(PATH, content=image)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert own == [200] * 5
    assert 429 in statuses and 503 in statuses and 200 in statuses
    assert set(statuses) <= {200, 429, 503}


class BrokenIndex:
    """Fault injection: the fingerprint store fails mid-detection."""

    def match(self, data: bytes, media_type: str) -> None:
        raise ConnectionError(f"store down while matching {data[:40]!r}")


async def test_a_failing_layer_is_a_500_that_logs_the_kind_of_failure_only(
        ours_signer: keys.LocalKeySigner, caplog: pytest.LogCaptureFixture) -> None:
    from aiact_transparency.detection.local import Detector

    config = ours_config()
    app = DetectionEndpoint(config, detector=Detector(config, signer=ours_signer, fingerprints=BrokenIndex()))
    secret = b"FaultMarker-91c2 " * 20
    exchange = await call(app, [secret], headers=[(b"content-type", b"text/plain")])
    assert exchange.status == 500 and exchange.json()["code"] == "failed"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aiact_transparency.detection")] == [
        "detection failed with ConnectionError"]
    assert b"FaultMarker" not in exchange.body and "FaultMarker" not in caplog.text
    assert app._admitted == 0
