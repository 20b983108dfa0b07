"""The detector reads every medium the registry marks, not only images: audio (watermark + C2PA), video (frame
and soundtrack watermark + C2PA) and documents (PDF, DOCX: the manifest only), each marked by the real
pipeline, through the HTTP endpoint as anyone would submit them, and unmarked copies are not claimed."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import httpx
import numpy as np
import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.audio.codec import AudioFormat, encode_audio
from aiact_transparency.provenance.media import MediaMarkers
from tests.detection.asgi import PATH
from tests.provenance.audio.clips import music
from tests.provenance.video.clips import ClipSpec, make_clip
from tests.tools import require_tool

from .conftest import endpoint_for, ours_config

pytestmark = pytest.mark.anyio
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _wav() -> bytes:
    return encode_audio(music(4.0, 48_000, np.random.default_rng(3))[:, None], AudioFormat("wav", 48_000, 1))


def _mp4(folder: Path) -> bytes:
    return make_clip(ClipSpec("testsrc2", 160, 90, 2.0), folder, require_tool("ffmpeg")).read_bytes()


def _pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 100), (250, 240, 230)).save(out, "PDF")
    return out.getvalue()


def _docx() -> bytes:
    made = docx.Document()
    made.add_paragraph("A generated summary of the quarter.")
    out = io.BytesIO()
    made.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def config() -> TransparencyConfig:
    return ours_config()


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("every-medium-keys"))


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, str]]:
    folder = tmp_path_factory.mktemp("every-medium-clips")
    return {"wav": (_wav(), "audio/wav"), "mp4": (_mp4(folder), "video/mp4"), "pdf": (_pdf(), "application/pdf"),
            "docx": (_docx(), DOCX)}


@pytest.fixture(scope="module")
def marked(config: TransparencyConfig, signer: keys.LocalKeySigner,
           originals: dict[str, tuple[bytes, str]]) -> dict[str, bytes]:
    markers = MediaMarkers(config, signer=signer)
    return {name: markers.mark(data, media_type).data for name, (data, media_type) in originals.items()}


async def _detect(endpoint: DetectionEndpoint, data: bytes, media_type: str) -> dict[str, object]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint), base_url="http://t") as http:
        response = await http.post(PATH, content=data, headers={"content-type": media_type})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


# What each medium's verdict must rest on: the layers the marker wrote (documents get the manifest only).
EXPECTED = {"wav": {"metadata", "watermark"}, "mp4": {"metadata", "watermark"}, "pdf": {"metadata"},
            "docx": {"metadata"}}


@pytest.mark.parametrize("name", list(EXPECTED))
async def test_a_marked_file_of_every_medium_is_attributed_to_this_system(
    name: str, config: TransparencyConfig, signer: keys.LocalKeySigner, originals: dict[str, tuple[bytes, str]],
    marked: dict[str, bytes],
) -> None:
    media_type = originals[name][1]
    result = await _detect(endpoint_for(config, signer), marked[name], media_type)
    assert result["verdict"] == "generated-by-this-system"
    assert set(result["based_on"]) == EXPECTED[name]  # type: ignore[arg-type]
    assert result["media_type"] == media_type
    layers: dict[str, dict[str, object]] = result["layers"]  # type: ignore[assignment]
    assert layers["c2pa"]["this_system"] is True
    if "watermark" in EXPECTED[name]:
        watermark = layers["watermark"]
        assert watermark["checked"] is True and watermark["this_system"] is True
        assert isinstance(watermark["false_positive_bound"], float) and watermark["false_positive_bound"] < 1e-6
        assert len(str(watermark["item_id"])) == 6  # the payload's item id, hex, as for images' image_id
    else:  # nothing else is written into a document, and the answer does not pretend it was looked for
        assert layers["watermark"]["checked"] is False and "not applicable" in str(layers["watermark"]["based_on"])
        assert layers["xmp"]["checked"] is False


@pytest.mark.parametrize("name", list(EXPECTED))
async def test_the_unmarked_original_of_every_medium_is_not_claimed(
    name: str, config: TransparencyConfig, signer: keys.LocalKeySigner, originals: dict[str, tuple[bytes, str]],
) -> None:
    data, media_type = originals[name]
    result = await _detect(endpoint_for(config, signer), data, media_type)
    # "not-detected" rests on the layers checked: the same kinds a marked copy's verdict rests on.
    assert result["verdict"] == "not-detected" and set(result["based_on"]) == EXPECTED[name]  # type: ignore[arg-type]
    layers: dict[str, dict[str, object]] = result["layers"]  # type: ignore[assignment]
    if name in ("wav", "mp4"):  # the watermark was looked for, and the answer says so
        assert layers["watermark"]["checked"] is True and layers["watermark"]["found"] is False


async def test_the_file_picker_offers_every_medium(config: TransparencyConfig, signer: keys.LocalKeySigner) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint_for(config, signer)),
                                 base_url="http://t") as http:
        page = (await http.get(PATH, headers={"accept": "text/html"})).text
    for media_type in ("image/png", "audio/wav", "video/mp4", "application/pdf", DOCX, "text/plain"):
        assert media_type in page
