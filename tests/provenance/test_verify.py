"""verify(): what counts as an AI mark, and what is not a medium it can read.

Real components only: manifests are signed with c2pa-python, XMP is written by our writer and read back.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aiact_transparency import verify
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.c2pa import manifest as cm
from aiact_transparency.provenance.errors import ImageMarkingError, UnsupportedImageError
from aiact_transparency.provenance.xmp import DIGITAL_SOURCE_TYPE_VOCABULARY, add_ai_xmp

AI_TYPES = ["trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"]
# Every other term of the IPTC vocabulary (retired ones included): none of them says "generative AI".
OTHER_TYPES = [
    "digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print", "minorHumanEdits",
    "humanEdits", "algorithmicallyEnhanced", "softwareImage", "digitalArt", "digitalCreation", "dataDrivenMedia",
    "algorithmicMedia", "screenCapture", "virtualRecording", "composite", "compositeCapture", "compositeSynthetic",
]


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("keys"))


def png(seed: int = 7) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def signed_with_source_type(source_type: str, signer: keys.ManifestSigner) -> bytes:
    """A valid manifest whose c2pa.created action declares `source_type` (as a camera's or editor's would)."""
    manifest = cm.build_manifest(software_agent="some other tool")
    manifest["assertions"][0]["data"]["actions"][0]["digitalSourceType"] = source_type
    return cm.sign_manifest(png(), "image/png", manifest, signer=signer)


@pytest.mark.parametrize("term", AI_TYPES + OTHER_TYPES)
def test_a_valid_manifest_is_an_ai_mark_only_with_an_ai_source_type(term: str, signer: keys.LocalKeySigner) -> None:
    source_type = DIGITAL_SOURCE_TYPE_VOCABULARY + term
    report = verify(signed_with_source_type(source_type, signer))
    c2pa = report.c2pa
    assert c2pa["found"] and c2pa["valid"], c2pa
    assert c2pa["digital_source_type"] == source_type  # reported either way
    assert source_type in c2pa["based_on"]
    ai = term in AI_TYPES
    assert c2pa["ai_generated"] is ai
    assert report.marked is ai
    assert report.to_dict()["marked"] is ai
    if not ai:
        assert "not an AI mark" in c2pa["based_on"]


@pytest.mark.parametrize("term", AI_TYPES + OTHER_TYPES)
def test_an_xmp_source_type_is_an_ai_mark_only_with_an_ai_type(term: str) -> None:
    source_type = DIGITAL_SOURCE_TYPE_VOCABULARY + term
    report = verify(add_ai_xmp(png(), creator_tool="some tool", model=None, digital_source_type=source_type))
    assert report.xmp["found"] and report.xmp["digital_source_type"] == source_type
    assert report.xmp["ai_generated"] is (term in AI_TYPES)
    assert report.marked is (term in AI_TYPES)


def test_a_broken_manifest_with_an_ai_type_is_no_mark(signer: keys.LocalKeySigner) -> None:
    data = bytearray(signed_with_source_type(DIGITAL_SOURCE_TYPE_VOCABULARY + "trainedAlgorithmicMedia", signer))
    idat = data.index(b"IDAT")
    data[idat + 40] ^= 0x01  # one bit of the compressed pixels: the hard binding breaks
    report = verify(bytes(data))
    assert report.c2pa["found"] and not report.c2pa["valid"]
    assert report.c2pa["ai_generated"] is False and not report.marked


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n0 0 moveto 16 16 lineto stroke\nshowpage\n%%EOF\n"


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (EPS, "unrecognised data"),  # Pillow's EPS plugin would hand this to Ghostscript
        (b"", "unrecognised data"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unrecognised data"),
        (b"GIF89a" + bytes(20), "image/gif data"),
        (b"II*\x00" + bytes(20), "image/tiff data"),
    ],
    ids=["eps", "empty", "svg", "gif", "tiff"],
)
def test_what_is_not_png_jpeg_or_webp_is_an_error_not_an_unmarked_image(data: bytes, found: str) -> None:
    with pytest.raises(UnsupportedImageError, match=r"^not a supported medium: ") as caught:
        verify(data)
    assert isinstance(caught.value, ImageMarkingError)  # what the CLI turns into exit 2
    assert found in str(caught.value)
    assert "PNG, JPEG, WebP, WAV, FLAC, MP3, M4A (AAC), MP4, MOV, PDF and DOCX" in str(caught.value)


def test_pixels_are_decoded_with_the_sniffed_format_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Record which Pillow plugins are even asked: only the sniffed format's may see untrusted bytes.
    asked: list[str] = []
    real_open = Image.open

    def spy(fp: object, mode: str = "r", formats: list[str] | tuple[str, ...] | None = None) -> Image.Image:
        asked.append(",".join(formats) if formats else "ALL")
        return real_open(fp, mode, formats)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", spy)
    report = verify(png())
    assert report.media_type == "image/png"
    assert asked == ["PNG"], asked
