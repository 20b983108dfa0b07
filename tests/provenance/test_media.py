"""The media registry: one table of markable types that every layer reads, and `mark` dispatching through it."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiact_transparency import MarkedImage, TransparencyConfig, TransparencyMiddleware, verify
from aiact_transparency.asgi.responders.marking_service import MarkingService
from aiact_transparency.provenance import formats, media, xmp
from aiact_transparency.provenance.c2pa import manifest
from aiact_transparency.provenance.errors import UnsupportedImageError
from aiact_transparency.provenance.image import codec

pytestmark = pytest.mark.anyio


def _png() -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), "RGB").save(buf, "PNG")
    return buf.getvalue()


def test_every_table_of_image_types_is_the_registry_s() -> None:
    images = formats.types_of("image")
    assert images == {"image/png", "image/jpeg", "image/webp"}
    assert set(codec.SUPPORTED) == images  # Pillow's plugin per type
    audio = formats.types_of("audio")
    assert audio == {"audio/wav", "audio/flac", "audio/mpeg", "audio/mp4"}
    # XMP byte surgery per container: every image, and WAV among the audio containers
    assert set(xmp._INSERTERS) == set(xmp._EXTRACTORS) == xmp.XMP_TYPES == images | {"audio/wav"}
    video = formats.types_of("video")
    assert video == {"video/mp4", "video/quicktime"}
    documents = {"application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    assert formats.types_of("document") == documents
    assert manifest.SUPPORTED_MEDIA_TYPES == formats.MARKABLE_TYPES == images | audio | video | documents
    assert media.markable_types() == images | audio | video | {
        "image/jpg", "image/pjpeg", "image/x-png", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-flac",
        "audio/mp3", "audio/x-m4a", "audio/m4a", "video/x-m4v"} | documents
    assert {formats.SUFFIX_TYPES[s] for s in (".png", ".jpg", ".jpeg", ".webp")} == images
    assert {formats.SUFFIX_TYPES[s] for s in (".wav", ".flac", ".mp3", ".m4a")} == audio
    assert {formats.SUFFIX_TYPES[s] for s in (".mp4", ".m4v", ".mov")} == video


def test_aliases_and_parameters_resolve_to_the_canonical_type() -> None:
    assert formats.canonical("Image/JPG; q=0.9") == "image/jpeg"
    assert manifest.normalize_media_type("image/x-png") == "image/png"
    assert media.medium_for("image/pjpeg") is media.IMAGE
    assert media.medium_for("image/gif") is None and media.claimed_by("image/gif") is media.IMAGE
    assert media.medium_for(None) is None and media.claimed_by("video/webm") is media.VIDEO
    assert media.medium_for("video/x-m4v") is media.VIDEO and media.claimed_by("text/plain") is None
    assert media.medium_for("audio/x-wav") is media.AUDIO and media.claimed_by("audio/ogg") is media.AUDIO


def test_mark_dispatches_by_declared_or_sniffed_type(config: TransparencyConfig) -> None:
    data = _png()
    for declared in (None, "image/png", "image/x-png", "application/octet-stream"):
        marked = media.mark(data, declared, config=config)
        assert isinstance(marked, MarkedImage) and marked.media_type == "image/png"
        noted = any(note.startswith("declared as") for note in marked.report.notes)
        assert noted == (declared == "application/octet-stream"), declared  # an alias is no lie; another type is
        assert verify(marked.data).c2pa["valid"]
    with pytest.raises(UnsupportedImageError, match="unrecognised data is not markable here"):
        media.mark(b"not an image at all", config=config)


def test_the_marking_service_takes_the_registry_s_types(config: TransparencyConfig) -> None:
    assert MarkingService(media.MediaMarkers(config)).types == media.markable_types()


async def test_an_alias_content_type_is_marked_like_its_canonical_type(config: TransparencyConfig) -> None:
    """image/x-png and image/pjpeg are in the registry's aliases: the middleware marks them too (it took only
    image/jpg before, while XMP and C2PA already accepted all three)."""
    data = _png()

    async def legacy(request: Request) -> Response:
        return Response(data, media_type="image/x-png")

    app = TransparencyMiddleware(Starlette(routes=[Route("/legacy.png", legacy)]), config=config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/legacy.png")
    assert response.headers["content-type"] == "image/png"
    assert response.content != data and verify(response.content).c2pa["valid"]
