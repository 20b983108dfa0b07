"""mark_image / ImageMarker end to end with real components: Pillow, c2pa-python, exiftool.

Every input is generated here (procedural textures, no downloads); every output is checked the way a third
party would: decoded by Pillow, read by c2pa-python (through `verify`) and by exiftool.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import c2pa
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from aiact_transparency import ImageMarker, ImageMarkingError, TransparencyConfig, mark_image, verify
from aiact_transparency.provenance.c2pa.manifest import build_manifest, sign_manifest
from aiact_transparency.provenance.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from aiact_transparency.provenance.image.label import label_box
from aiact_transparency.provenance.image.watermark import SOFT_BINDING_ALG, WatermarkPayload, system_id_for
from aiact_transparency.provenance.xmp import TRAINED_ALGORITHMIC_MEDIA_URI, add_ai_xmp, sniff_media_type

from ...tools import require_tool

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example"}
MEDIA_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
SIZE = (320, 256)  # width, height: not square, so a rotation shows in the size
U8 = npt.NDArray[np.uint8]


def make_config(**images: Any) -> TransparencyConfig:
    return TransparencyConfig(system=SYSTEM, model={"id": "acme/studio-xl"}, images=images)


@pytest.fixture(scope="module")
def config() -> TransparencyConfig:
    return make_config()


@pytest.fixture(scope="module")
def plain_config() -> TransparencyConfig:
    """No pixel changes: XMP and C2PA only."""
    return make_config(watermark=False, visible_label=False)


@pytest.fixture(scope="module")
def exiftool() -> str:
    return require_tool("exiftool")


# -- procedural inputs --------------------------------------------------------------------------------------


def texture(size: tuple[int, int] = SIZE, seed: int = 0) -> U8:
    """Smooth colour gradients with soft waves and a little noise: photo-like, not flat, not pure noise."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    r = 128 + 90 * np.sin(x / 23.0 + seed) * np.cos(y / 31.0)
    g = 40 + 160 * (x + y) / (width + height)
    b = 128 + 80 * np.cos((x - y) / 17.0 + seed)
    arr = np.stack([r, g, b], axis=-1) + rng.normal(0, 4, (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def rgb(size: tuple[int, int] = SIZE, seed: int = 0) -> Image.Image:
    return Image.fromarray(texture(size, seed), "RGB")


def rgba(size: tuple[int, int] = SIZE) -> Image.Image:
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    radius = np.hypot(x - width / 2, y - height / 2)
    alpha = np.clip(255 - radius * 2, 0, 255).astype(np.uint8)  # opaque centre, fully transparent corners
    return Image.fromarray(np.dstack([texture(size), alpha]), "RGBA")


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))  # in memory: nothing to close; keeps .format and PNG .text
    image.load()
    return image


def psnr(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def riff_chunks(data: bytes) -> list[bytes]:
    """Top-level chunk ids of a WebP file, in order."""
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        fourcc, length = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        chunks.append(fourcc)
        offset += 8 + length + (length & 1)
    return chunks


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, data offset, data length) of every PNG chunk."""
    chunks, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunks.append((kind, offset + 8, length))
        offset += 12 + length
    return chunks


def exif_with(**tags: int | str) -> bytes:
    exif = Image.Exif()
    names = {"orientation": 0x0112, "make": 0x010F}
    for name, value in tags.items():
        exif[names[name]] = value
    return exif.tobytes()


def png_text_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk, steps: 30")
    info.add_itxt("Description", "Leuchtturm in der Dämmerung ✓")
    info.add_text("Software", "acme-gen", zip=True)
    return info


def sixteen_bit_png() -> bytes:
    width, height = SIZE
    y, x = np.mgrid[0:height, 0:width]
    values = (x * 65535 // width * 0.7 + y * 65535 // height * 0.3).astype(np.uint16)
    return encode(Image.fromarray(values), "PNG")


def animated(fmt: str) -> bytes:
    frames = [rgb(seed=seed) for seed in range(3)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


@dataclass(frozen=True)
class Case:
    build: Callable[[], bytes]
    media_type: str
    mode: str  # Pillow mode of the marked output
    lossless: bool = False
    alpha: bool = False
    icc: bool = False
    rotated: bool = False  # EXIF orientation 6: the output is upright, so width and height swap
    animated: bool = False
    notes: tuple[str, ...] = ()  # substrings expected in report.notes
    reference: Callable[[Image.Image], Image.Image] = field(default=lambda image: image)


CASES: dict[str, Case] = {
    "png-rgb": Case(lambda: encode(rgb(), "PNG"), "image/png", "RGB", lossless=True),
    "png-rgba": Case(lambda: encode(rgba(), "PNG"), "image/png", "RGBA", lossless=True, alpha=True),
    "png-icc-text": Case(
        lambda: encode(rgb(), "PNG", icc_profile=ICC, pnginfo=png_text_info()),
        "image/png",
        "RGB",
        lossless=True,
        icc=True,
    ),
    "png-16bit-gray": Case(
        sixteen_bit_png,
        "image/png",
        "L",
        lossless=True,
        notes=("reduced to 8 bits",),
        reference=lambda image: Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8), "L"),
    ),
    "png-palette": Case(
        lambda: encode(rgb().quantize(64), "PNG"),
        "image/png",
        "RGB",
        lossless=True,
        reference=lambda image: image.convert("RGB"),
    ),
    "png-palette-transparent": Case(
        lambda: encode(rgb().quantize(64), "PNG", transparency=0),
        "image/png",
        "RGBA",
        lossless=True,
        alpha=True,
        reference=lambda image: image.convert("RGBA"),
    ),
    "png-animated": Case(
        lambda: animated("PNG"), "image/png", "RGB", lossless=True, animated=True, notes=("animated image",)
    ),
    "jpeg-rgb": Case(lambda: encode(rgb(), "JPEG", quality=92), "image/jpeg", "RGB"),
    "jpeg-gray": Case(lambda: encode(rgb().convert("L"), "JPEG", quality=92), "image/jpeg", "L"),
    "jpeg-icc-exif": Case(
        lambda: encode(rgb(), "JPEG", quality=92, icc_profile=ICC, exif=exif_with(make="AcmeCam")),
        "image/jpeg",
        "RGB",
        icc=True,
    ),
    "jpeg-orientation-6": Case(
        lambda: encode(rgb(), "JPEG", quality=92, exif=exif_with(orientation=6, make="AcmeCam")),
        "image/jpeg",
        "RGB",
        rotated=True,
        notes=("EXIF orientation 6 applied",),
        reference=lambda image: ImageOps.exif_transpose(image),
    ),
    "jpeg-cmyk": Case(
        lambda: encode(rgb().convert("CMYK"), "JPEG", quality=95, icc_profile=ICC),
        "image/jpeg",
        "RGB",
        notes=("CMYK converted to RGB",),
        reference=lambda image: image.convert("RGB"),
    ),
    "webp-lossy": Case(lambda: encode(rgb(), "WEBP", quality=90), "image/webp", "RGB"),
    "webp-lossy-alpha": Case(lambda: encode(rgba(), "WEBP", quality=90), "image/webp", "RGBA", alpha=True),
    "webp-lossless": Case(lambda: encode(rgb(), "WEBP", lossless=True), "image/webp", "RGB", lossless=True),
    "webp-lossless-alpha": Case(
        lambda: encode(rgba(), "WEBP", lossless=True), "image/webp", "RGBA", lossless=True, alpha=True
    ),
    "webp-lossless-icc": Case(
        lambda: encode(rgb(), "WEBP", lossless=True, icc_profile=ICC), "image/webp", "RGB", lossless=True, icc=True
    ),
    "webp-lossy-icc-exif": Case(
        lambda: encode(rgb(), "WEBP", quality=90, icc_profile=ICC, exif=exif_with(make="AcmeCam")),
        "image/webp",
        "RGB",
        icc=True,
    ),
    "webp-animated": Case(lambda: animated("WEBP"), "image/webp", "RGB", animated=True, notes=("animated image",)),
}


@cache
def sample(name: str) -> bytes:
    return CASES[name].build()


@cache
def marked_sample(name: str) -> tuple[bytes, Any]:
    """Marked once per session with the default config (watermark on, label off)."""
    result = mark_image(sample(name), config=DEFAULT_CONFIG)
    return result.data, result


DEFAULT_CONFIG = make_config()


# -- every format: decodes, keeps what it had, verifies ------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_output_keeps_format_and_properties(name: str) -> None:
    case = CASES[name]
    original = sample(name)
    data, result = marked_sample(name)
    assert result.media_type == case.media_type
    report = result.report
    assert report.media_type == case.media_type and not report.already_marked
    for note in case.notes:
        assert any(note in n for n in report.notes), (note, report.notes)

    before, after = decode(original), decode(data)
    assert after.format == {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}[case.media_type]
    assert after.mode == case.mode, (after.mode, report.notes)
    expected_size = (before.size[1], before.size[0]) if case.rotated else before.size
    assert after.size == expected_size
    if case.animated:
        # Frames are kept as they were: the watermark and label mark single frames, so they are skipped.
        assert getattr(after, "n_frames", 1) == getattr(before, "n_frames", 1) > 1
        assert not report.re_encoded and report.watermark is None
        return
    assert report.re_encoded and report.watermark is not None

    if case.media_type == "image/webp":
        chunks = riff_chunks(data)
        if case.lossless:
            assert b"VP8L" in chunks and b"VP8 " not in chunks, chunks
        else:
            assert b"VP8 " in chunks, chunks
    if case.icc:
        assert after.info.get("icc_profile") == ICC
    else:
        assert not after.info.get("icc_profile")
    if case.alpha:
        alpha_before = np.asarray(case.reference(before).convert("RGBA"))[:, :, 3]
        alpha_after = np.asarray(after)[:, :, 3]
        if case.lossless:
            np.testing.assert_array_equal(alpha_after, alpha_before)
        else:
            assert np.abs(alpha_after.astype(int) - alpha_before).max() <= 8
    # What people see did not change beyond the imperceptible: PSNR against the upright, converted input.
    reference = np.asarray(case.reference(before).convert(case.mode))
    colour = slice(0, 3) if case.mode in ("RGB", "RGBA") else slice(0, 1)
    ref_c = reference.reshape(*reference.shape[:2], -1)[:, :, colour]
    out_c = np.asarray(after).reshape(*reference.shape[:2], -1)[:, :, colour]
    if case.alpha:  # fully transparent pixels carry no visible colour
        visible = np.asarray(after)[:, :, 3] > 0
        ref_c, out_c = ref_c[visible], out_c[visible]
    assert psnr(ref_c, out_c) >= 34, psnr(ref_c, out_c)


@pytest.mark.parametrize("name", list(CASES))
def test_verify_finds_every_layer(name: str) -> None:
    data, result = marked_sample(name)
    report = verify(data, config=DEFAULT_CONFIG)
    assert report.media_type == CASES[name].media_type
    c2pa = report.c2pa
    assert c2pa["found"] and c2pa["valid"], c2pa
    assert c2pa["validation_state"] == "Valid" and not c2pa["trusted"]  # the development chain
    assert any("does not chain to a trusted root" in note for note in c2pa["notes"])
    assert "NOT on a trust list" in c2pa["based_on"]
    assert c2pa["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert c2pa["software_agent"] == "Acme Studio (acme/studio-xl)"
    assert str(c2pa["claim_generator"]).startswith("aiact-transparency/")
    assert report.xmp["ai_generated"] and report.xmp["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert result.report.xmp and result.report.c2pa is not None and result.report.c2pa["development"]
    if CASES[name].animated:
        assert not c2pa["has_watermark_assertion"]
        assert "c2pa.soft-binding" not in c2pa["assertion_labels"]
        return
    watermark = report.watermark
    assert watermark["found"] and watermark["system_matches"], watermark
    assert watermark["payload"]["image_id"] == result.report.watermark["image_id"]
    assert c2pa["has_watermark_assertion"] and "c2pa.soft-binding" in c2pa["assertion_labels"]
    # One soft-binding algorithm id for the library, the one c2pa/manifest.py documents; its value is the payload.
    assert c2pa["soft_binding_alg"] == SOFT_BINDING_ALG
    assert c2pa["soft_binding_value"] == result.report.watermark["value"]
    assert report.marked


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-rgb", "webp-lossy", "webp-lossless"])
def test_unmarked_inputs_verify_as_not_marked(name: str) -> None:
    report = verify(sample(name), config=DEFAULT_CONFIG)
    assert not report.marked
    assert not report.c2pa["found"] and not report.xmp["found"] and not report.watermark["found"]


def test_png_text_chunks_are_kept() -> None:
    data, _ = marked_sample("png-icc-text")
    text = decode(data).text  # type: ignore[attr-defined]
    assert text["parameters"] == "a lighthouse at dusk, steps: 30"
    assert text["Description"] == "Leuchtturm in der Dämmerung ✓"
    assert text["Software"] == "acme-gen"


@pytest.mark.parametrize("name", ["jpeg-icc-exif", "webp-lossy-icc-exif", "jpeg-orientation-6"])
def test_exif_is_kept_and_orientation_reset(name: str) -> None:
    data, _ = marked_sample(name)
    exif = decode(data).getexif()
    assert exif.get(0x010F) == "AcmeCam"
    assert exif.get(0x0112) in (None, 1)


def test_orientation_6_is_applied_to_the_pixels() -> None:
    # A red square in the stored image's top-left corner: orientation 6 (rotate 90 degrees clockwise to
    # display) puts it top-right; the marked file must show it there with no tag left to rotate it again.
    stored = texture()
    stored[:40, :40] = (255, 0, 0)
    data = encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif_with(orientation=6))
    out = decode(mark_image(data, config=DEFAULT_CONFIG).data)
    assert out.size == (SIZE[1], SIZE[0])
    corner = np.asarray(out)[4:36, -36:-4].astype(int)
    assert corner[:, :, 0].mean() > 200 and corner[:, :, 1:].mean() < 60
    # ...and exif_transpose of the output is a no-op: no second rotation in any viewer.
    assert ImageOps.exif_transpose(out).size == out.size


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_print_density_is_kept(fmt: str) -> None:
    result = mark_image(encode(rgb(), fmt, quality=92, dpi=(300, 150)), config=DEFAULT_CONFIG)
    assert result.report.re_encoded
    assert decode(result.data).info["dpi"] == pytest.approx((300, 150), abs=0.05)  # PNG stores dots per metre


def test_print_density_turns_with_the_orientation() -> None:
    data = encode(rgb(), "JPEG", quality=92, dpi=(300, 150), exif=exif_with(orientation=6))
    out = decode(mark_image(data, config=DEFAULT_CONFIG).data)
    assert out.size == (SIZE[1], SIZE[0]) and out.info["dpi"] == (150, 300)


def test_jpeg_quality_comes_from_the_config() -> None:
    data = sample("jpeg-rgb")
    low = mark_image(data, config=make_config(jpeg_quality=40)).data
    high = mark_image(data, config=make_config(jpeg_quality=98)).data
    assert len(low) < len(high) * 0.7
    assert verify(low, config=DEFAULT_CONFIG).watermark["found"]


@pytest.mark.parametrize(
    ("watermark", "label", "xmp", "c2pa"),
    [
        (True, False, False, True),
        (True, False, True, False),
        (False, False, True, False),
        (False, False, False, True),
        (True, True, False, False),
        (False, True, True, True),
    ],
)
def test_each_layer_follows_its_switch(watermark: bool, label: bool, xmp: bool, c2pa: bool) -> None:
    config = make_config(watermark=watermark, visible_label=label, xmp=xmp, c2pa=c2pa)
    result = mark_image(sample("png-rgb"), config=config)
    report = result.report
    assert (report.watermark is not None, report.visible_label, report.xmp, report.c2pa is not None) == (
        watermark,
        label,
        xmp,
        c2pa,
    )
    assert report.re_encoded is (watermark or label)
    checked = verify(result.data, config=config)
    assert checked.watermark["found"] is watermark
    assert checked.xmp["found"] is xmp
    assert checked.c2pa["found"] is c2pa and checked.c2pa.get("valid", False) is c2pa
    if c2pa:
        assert checked.c2pa["has_watermark_assertion"] is watermark


# -- exiftool, an independent reader ------------------------------------------------------------------------


def run_exiftool(exiftool: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [exiftool, "-j", "-G1", "-n", "-XMP:all", str(path)], check=True, capture_output=True, timeout=60
    )
    result: list[dict[str, Any]] = json.loads(out.stdout)
    return result[0]


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-icc-exif", "webp-lossy", "webp-lossless-alpha"])
def test_exiftool_reads_the_digital_source_type(name: str, exiftool: str, tmp_path: Path) -> None:
    data, _ = marked_sample(name)
    path = tmp_path / f"marked.{MEDIA_EXT[CASES[name].media_type]}"
    path.write_bytes(data)
    info = run_exiftool(exiftool, path)
    assert info["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert str(info["XMP-xmp:CreatorTool"]).startswith("Acme Studio (aiact-transparency ")
    assert info["XMP-iptcExt:AISystemUsed"] == "acme/studio-xl"


def titled_by_exiftool(exiftool: str, tmp_path: Path, ext: str) -> bytes:
    """Input whose XMP an independent tool wrote. exiftool 12 cannot write WebP: there its packet goes in
    through libwebp's muxer (Pillow's `xmp=`)."""
    carrier = "jpg" if ext == "webp" else ext
    plain, titled = tmp_path / f"plain.{carrier}", tmp_path / f"titled.{carrier}"
    plain.write_bytes(encode(rgb(), {"png": "PNG", "jpg": "JPEG"}[carrier], quality=92))
    subprocess.run(
        [exiftool, "-q", "-XMP-dc:Title=Sunset & Sea", "-XMP-dc:Subject=beach", "-o", str(titled), str(plain)],
        check=True,
        timeout=60,
    )
    if ext != "webp":
        return titled.read_bytes()
    packet = subprocess.run([exiftool, "-b", "-XMP", str(titled)], check=True, capture_output=True, timeout=60).stdout
    return encode(rgb(), "WEBP", quality=90, xmp=packet)


@pytest.mark.parametrize("pixels", [True, False], ids=["watermarked", "metadata-only"])
@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_existing_xmp_survives_marking(
    ext: str, pixels: bool, exiftool: str, tmp_path: Path, config: TransparencyConfig, plain_config: TransparencyConfig
) -> None:
    original = titled_by_exiftool(exiftool, tmp_path, ext)
    result = mark_image(original, config=config if pixels else plain_config)
    assert result.report.re_encoded is pixels
    path = tmp_path / f"marked.{ext}"
    path.write_bytes(result.data)
    info = run_exiftool(exiftool, path)
    assert info["XMP-dc:Title"] == "Sunset & Sea"
    assert info["XMP-dc:Subject"] == "beach"
    assert info["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert verify(result.data, config=config).c2pa["valid"]


# -- idempotency ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-rgb", "webp-lossy", "webp-lossless-alpha", "png-animated"])
def test_marking_a_marked_image_returns_it_unchanged(name: str) -> None:
    # A fresh config: the development chain lives in this test's key directory (see conftest).
    config = make_config()
    first = mark_image(sample(name), config=config)
    again = mark_image(first.data, config=config)
    assert again.data == first.data  # the very same bytes
    assert again.report.already_marked and not again.report.re_encoded and again.report.watermark is None
    assert again.media_type == first.media_type
    # A second marker with the same signer (e.g. another worker process) agrees.
    assert ImageMarker(config).mark(first.data).report.already_marked


def test_a_manifest_from_another_signer_is_not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = mark_image(sample("png-rgb"), config=make_config())
    monkeypatch.setenv("AIACT_KEYS_DIR", str(tmp_path / "other-keys"))  # another development chain
    other = ImageMarker(make_config()).mark(first.data)
    assert not other.report.already_marked and other.report.c2pa is not None
    # The earlier provenance is kept, not stripped: the first manifest stays in the store as an ingredient.
    assert any("kept as an ingredient" in note for note in other.report.notes)
    with c2pa.Reader("image/png", io.BytesIO(other.data)) as reader:
        store = json.loads(reader.json())
    assert len(store["manifests"]) == 2
    active = store["manifests"][store["active_manifest"]]
    assert [i["relationship"] for i in active["ingredients"]] == ["componentOf"]
    assert verify(other.data).c2pa["valid"]
    # The report names the active manifest (the new one, not the ingredient's), as c2pa's Reader does.
    assert other.report.manifest_id == store["active_manifest"] != first.report.manifest_id


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-rgb", "webp-lossy"])
def test_the_report_names_the_active_manifest(name: str, config: TransparencyConfig) -> None:
    marked = mark_image(sample(name), config=config)
    with c2pa.Reader(marked.media_type, io.BytesIO(marked.data)) as reader:
        active = json.loads(reader.json())["active_manifest"]
    assert active.startswith("urn:") and marked.report.manifest_id == active


def test_an_image_of_another_system_on_the_same_chain_is_marked_again() -> None:
    # Both systems sign with the one development chain of this machine: the certificate cannot tell them apart.
    other_config = TransparencyConfig(system={**SYSTEM, "name": "Other Studio"}, model={"id": "other/model"})
    theirs = mark_image(sample("png-rgb"), config=other_config)
    ours = ImageMarker(make_config())
    assert theirs.report.c2pa is not None and ours.identity is not None
    assert theirs.report.c2pa["serial_number"] == ours.identity.serial_number  # the same certificate
    again = ours.mark(theirs.data)
    assert not again.report.already_marked and again.data != theirs.data
    assert again.report.watermark is not None and again.report.watermark["system_id"] == ours.maker.system_id
    assert any("kept as an ingredient" in note for note in again.report.notes)
    c2pa = verify(again.data, config=make_config()).c2pa
    assert c2pa["valid"] and c2pa["disclosed_system"] == "Acme Studio", c2pa
    assert c2pa["software_agent"] == "Acme Studio (acme/studio-xl)"


def test_a_manifest_naming_us_over_another_systems_watermark_is_not_ours() -> None:
    # Our name in the manifest facts, but the soft binding records another system's watermark id.
    marker = ImageMarker(make_config())
    assert marker.signer is not None
    foreign = WatermarkPayload(system_id_for("Other Studio"), 7).to_bytes().hex()
    manifest = build_manifest(software_agent=marker.maker.software_agent, model_facts={"system": "Acme Studio"},
                              watermark={"alg": SOFT_BINDING_ALG, "value": foreign})
    data = sign_manifest(sample("png-rgb"), "image/png", manifest, signer=marker.signer)
    assert not marker.mark(data).report.already_marked
    # The same manifest with our own watermark id is ours: marking it again changes nothing.
    own = WatermarkPayload(marker.maker.system_id, 7).to_bytes().hex()
    manifest["assertions"][1]["data"]["blocks"][0]["value"] = own
    data = sign_manifest(sample("png-rgb"), "image/png", manifest, signer=marker.signer)
    assert marker.mark(data).report.already_marked


def test_an_xmp_claim_alone_does_not_count_as_marked(config: TransparencyConfig) -> None:
    # Only a valid manifest of ours makes marking a no-op; XMP anyone can write.
    claimed = add_ai_xmp(encode(rgb(), "PNG"), creator_tool="someone else", model=None)
    result = mark_image(claimed, config=config)
    assert not result.report.already_marked and result.report.watermark is not None
    assert verify(result.data, config=config).c2pa["valid"]


def test_a_marked_image_with_a_broken_manifest_is_marked_again() -> None:
    config = make_config()
    data = flip_pixel_byte(mark_image(sample("jpeg-rgb"), config=config).data)
    again = mark_image(data, config=config)
    assert not again.report.already_marked
    report = verify(again.data, config=config)
    assert report.c2pa["valid"], report.c2pa


# -- tamper evidence -----------------------------------------------------------------------------------------


def flip_pixel_byte(data: bytes) -> bytes:
    """One bit flipped in the middle of the compressed pixel data (never creating or breaking a marker)."""
    kind = verify_media(data)
    if kind == "image/jpeg":
        start, end = data.rindex(b"\xff\xda") + 20, len(data) - 2
    elif kind == "image/png":
        _, start, length = next(c for c in png_chunks(data) if c[0] == b"IDAT")
        end = start + length
    else:
        offset = 12
        while data[offset : offset + 4] not in (b"VP8 ", b"VP8L"):
            offset += 8 + struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        start, end = offset + 8 + 16, offset + 8 + struct.unpack("<I", data[offset + 4 : offset + 8])[0]
    index = (start + end) // 2
    while data[index] in (0xFE, 0xFF) or data[index - 1] == 0xFF:
        index += 1
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def large_icc(entries: int = 2048) -> bytes:
    """A valid sRGB ICC profile of about 13 KB: the built-in one with 2048-entry sampled tone curves, as many
    camera and monitor profiles carry (LittleCMS loads it and converts with it)."""
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    (count,) = struct.unpack_from(">I", base, 128)
    tags = [struct.unpack_from(">4sII", base, 132 + 12 * n) for n in range(count)]
    x = np.linspace(0, 1, entries)
    curve = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    trc = b"curv" + bytes(4) + struct.pack(">I", entries) + np.rint(curve * 65535).astype(">u2").tobytes()
    offset, table, body = 132 + 12 * count, b"", b""
    for sig, start, size in tags:
        payload = trc if sig in (b"rTRC", b"gTRC", b"bTRC") else base[start : start + size]
        table += struct.pack(">4sII", sig, offset + len(body), len(payload))
        body += payload + bytes(-len(payload) % 4)
    header = bytearray(base[:128])
    struct.pack_into(">I", header, 0, 128 + 4 + len(table) + len(body))
    header[84:100] = bytes(16)  # profile id: not computed (allowed)
    return bytes(header) + struct.pack(">I", count) + table + body


def test_lossless_webp_behind_a_large_icc_chunk_stays_lossless(config: TransparencyConfig) -> None:
    icc = large_icc()
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))  # a profile LittleCMS accepts
    assert ImageCms.profileToProfile(rgb((8, 8)), profile, ImageCms.createProfile("sRGB")) is not None
    original = encode(rgb(), "WEBP", lossless=True, icc_profile=icc)
    assert riff_chunks(original)[:3] == [b"VP8X", b"ICCP", b"VP8L"] and original.index(b"VP8L") > 4096
    result = mark_image(original, config=config)
    assert result.report.re_encoded and result.report.watermark is not None
    chunks = riff_chunks(result.data)
    assert b"VP8L" in chunks and b"VP8 " not in chunks, chunks  # still lossless
    after = decode(result.data)
    assert after.info.get("icc_profile") == icc
    assert verify(result.data, config=config).watermark["found"]


def verify_media(data: bytes) -> str:
    kind = sniff_media_type(data)
    assert kind is not None
    return kind


@pytest.mark.parametrize("name", ["jpeg-rgb", "png-rgb", "webp-lossy"])
def test_one_flipped_pixel_byte_breaks_the_hard_binding(name: str) -> None:
    data, _ = marked_sample(name)
    tampered = flip_pixel_byte(data)
    assert len(tampered) == len(data) and tampered != data
    c2pa = verify(tampered, config=DEFAULT_CONFIG).c2pa
    assert c2pa["found"] and not c2pa["valid"], c2pa
    assert c2pa["hard_binding_intact"] is False
    assert "hard binding broken" in str(c2pa["reason"])
    assert c2pa["validation_state"] == "Invalid" and c2pa["ai_generated"] is False
    assert "NOT valid, so no AI mark: hard binding broken" in c2pa["based_on"], c2pa["based_on"]


# -- metadata only: no pixel changes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["png-rgba", "jpeg-orientation-6", "jpeg-cmyk", "webp-lossy", "webp-lossless", "png-16bit-gray"]
)
def test_without_watermark_and_label_the_pixels_are_untouched(name: str, plain_config: TransparencyConfig) -> None:
    original = sample(name)
    result = mark_image(original, config=plain_config)
    report = result.report
    assert not report.re_encoded and report.watermark is None and not report.visible_label
    before, after = decode(original), decode(result.data)
    assert (after.mode, after.size) == (before.mode, before.size)
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
    assert after.info.get("icc_profile") == before.info.get("icc_profile")
    assert dict(after.getexif()) == dict(before.getexif())  # orientation too: nothing was rotated
    checked = verify(result.data, config=plain_config)
    assert checked.c2pa["valid"] and checked.xmp["ai_generated"], checked.c2pa
    assert not checked.watermark["found"]
    assert "c2pa.soft-binding" not in checked.c2pa["assertion_labels"]


# -- visible label -------------------------------------------------------------------------------------------


def test_visible_label_changes_only_the_top_right_corner() -> None:
    config = make_config(watermark=False, visible_label=True)
    original = encode(rgb(), "PNG")
    result = mark_image(original, config=config)
    assert result.report.visible_label and result.report.re_encoded
    before, after = np.asarray(decode(original)).astype(int), np.asarray(decode(result.data)).astype(int)
    left, top, right, bottom = label_box(SIZE)
    assert right > SIZE[0] * 0.75 and top < SIZE[1] * 0.25  # the box itself is top-right
    inside = np.abs(after[top:bottom, left:right] - before[top:bottom, left:right]).mean()
    assert inside > 20
    outside = after.copy()
    outside[top:bottom, left:right] = before[top:bottom, left:right]
    np.testing.assert_array_equal(outside, before)  # PNG is lossless: nothing else moved
    assert verify(result.data, config=config).c2pa["valid"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_label_and_watermark_together_both_survive(fmt: str) -> None:
    config = make_config(visible_label=True)
    result = mark_image(encode(rgb(), fmt, quality=92), config=config)
    assert result.report.visible_label and result.report.watermark is not None
    after = np.asarray(decode(result.data)).astype(int)
    left, top, right, bottom = label_box(SIZE)
    assert np.abs(after[top:bottom, left:right] - texture()[top:bottom, left:right]).mean() > 20
    report = verify(result.data, config=config)
    assert report.watermark["found"] and report.watermark["system_matches"]
    assert report.c2pa["valid"] and report.c2pa["has_watermark_assertion"]


# -- tiny images ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_tiny_image_is_marked_without_a_watermark_and_says_so(fmt: str, config: TransparencyConfig) -> None:
    result = mark_image(encode(rgb((32, 32)), fmt), config=config)
    report = result.report
    assert report.watermark is None
    assert any(note.startswith("no watermark:") and "too small" in note for note in report.notes), report.notes
    assert decode(result.data).size == (32, 32)
    checked = verify(result.data, config=config)
    assert checked.c2pa["valid"] and checked.xmp["ai_generated"]
    # The manifest must not claim a mark the image does not carry.
    assert not checked.c2pa["has_watermark_assertion"]
    assert not any(label.startswith("c2pa.soft-binding") for label in checked.c2pa["assertion_labels"])
    assert not checked.watermark["found"]


def test_tiny_image_with_label_on_is_still_marked() -> None:
    labelled = make_config(visible_label=True)
    result = mark_image(encode(rgb((16, 16)), "PNG"), config=labelled)
    assert result.report.watermark is None
    assert verify(result.data, config=labelled).c2pa["valid"]


# -- hostile input -------------------------------------------------------------------------------------------


def png_declaring(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A structurally valid PNG header (IHDR with CRC) declaring width x height 8-bit grey."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@cache
def real_bomb(width: int, height: int) -> bytes:
    """A complete, valid flat grey PNG: tiny on disk, width x height bytes once decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return png_declaring(width, height, b"".join(parts))


def _garbage() -> bytes:
    return np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()


HOSTILE: dict[str, tuple[Callable[[], bytes], type[ImageMarkingError], str]] = {
    "zero-bytes": (lambda: b"", UnsupportedImageError, "unrecognised"),
    "garbage": (_garbage, UnsupportedImageError, "unrecognised"),
    "text": (lambda: b"<html>not an image</html>", UnsupportedImageError, "supported: PNG, JPEG and WebP"),
    "gif": (lambda: encode(rgb((64, 64)), "GIF"), UnsupportedImageError, "image/gif"),
    "bmp": (lambda: encode(rgb((64, 64)), "BMP"), UnsupportedImageError, "image/bmp"),
    "png-signature-only": (lambda: b"\x89PNG\r\n\x1a\n", CorruptImageError, "image/png"),
    "png-signature-garbage": (lambda: b"\x89PNG\r\n\x1a\n" + _garbage(), CorruptImageError, "image/png"),
    "jpeg-soi-garbage": (lambda: b"\xff\xd8\xff" + _garbage(), CorruptImageError, "image/jpeg"),
    "webp-riff-garbage": (lambda: b"RIFF\x00\x10\x00\x00WEBP" + _garbage(), CorruptImageError, "image/webp"),
    "png-truncated-half": (lambda: sample("png-rgb")[: len(sample("png-rgb")) // 2], CorruptImageError, "trunc"),
    "png-no-iend": (lambda: sample("png-rgb")[:-12], CorruptImageError, "image/png"),
    "png-truncated-end": (lambda: sample("png-rgb")[:-5], CorruptImageError, "image/png"),
    "jpeg-truncated-half": (lambda: sample("jpeg-rgb")[: len(sample("jpeg-rgb")) // 2], CorruptImageError, "trunc"),
    "jpeg-header-only": (lambda: sample("jpeg-rgb")[:200], CorruptImageError, "image/jpeg"),
    "webp-truncated-half": (
        lambda: sample("webp-lossy")[: len(sample("webp-lossy")) // 2],
        CorruptImageError,
        "image/webp",
    ),
    "webp-lossless-truncated": (lambda: sample("webp-lossless")[:-100], CorruptImageError, "image/webp"),
    "bomb-header-20000x20000": (lambda: png_declaring(20000, 20000), ImageTooLargeError, "pixels"),
    "bomb-real-10000x10000": (lambda: real_bomb(10000, 10000), ImageTooLargeError, "pixels"),
    "over-max-pixels-7000x7000": (lambda: png_declaring(7000, 7000), ImageTooLargeError, "images.max_pixels"),
    "bomb-zero-width": (lambda: png_declaring(0, 100), CorruptImageError, "image/png"),
}


@pytest.mark.parametrize("pixels", [True, False], ids=["watermark", "metadata-only"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_raises_the_documented_error(
    name: str, pixels: bool, config: TransparencyConfig, plain_config: TransparencyConfig
) -> None:
    build, expected, fragment = HOSTILE[name]
    data = build()
    with pytest.raises(ImageMarkingError) as caught:
        mark_image(data, config=config if pixels else plain_config)
    assert type(caught.value) is expected, (type(caught.value), caught.value)
    message = str(caught.value)
    assert fragment in message, message
    assert "<_io.BytesIO" not in message  # say what is wrong with the data, not which Python object held it
    assert caught.value.title and caught.value.status == 500


@pytest.mark.parametrize("name", list(HOSTILE))
def test_verify_reports_or_refuses_hostile_input(name: str) -> None:
    data, expected, _ = HOSTILE[name]
    if expected is UnsupportedImageError:  # not PNG, JPEG or WebP: an error, never "no AI marks found"
        with pytest.raises(UnsupportedImageError, match=r"^not a supported medium: "):
            verify(data(), config=DEFAULT_CONFIG)
        return
    report = verify(data(), config=DEFAULT_CONFIG)  # a PNG, JPEG or WebP, however broken: a report
    assert not report.marked
    assert report.to_dict()["c2pa"]["found"] is False


def test_verify_refuses_to_scan_a_bomb_the_config_would_refuse_to_mark() -> None:
    # 49 megapixels from a few kilobytes: under Pillow's bomb warning, over images.max_pixels (40 M).
    # Decoding and scanning it would take seconds and over half a gigabyte.
    report = verify(real_bomb(7000, 7000), config=DEFAULT_CONFIG)
    assert not report.watermark["found"]
    assert "too large" in report.watermark["based_on"]
    assert not report.marked


def test_declared_type_that_lies_is_noted_and_the_bytes_win(config: TransparencyConfig) -> None:
    result = mark_image(sample("png-rgb"), config=config, media_type="image/jpeg")
    assert result.media_type == "image/png" and result.report.media_type == "image/png"
    assert "declared as image/jpeg but the bytes are image/png" in result.report.notes
    assert decode(result.data).format == "PNG"
    assert verify(result.data, config=config).c2pa["valid"]


@pytest.mark.parametrize("declared", ["image/jpg", "image/jpeg; charset=binary", "IMAGE/JPEG", None])
def test_declared_type_variants_that_agree_add_no_note(declared: str | None, config: TransparencyConfig) -> None:
    result = mark_image(sample("jpeg-rgb"), config=config, media_type=declared)
    assert not any("declared" in note for note in result.report.notes)


def test_over_max_bytes_is_refused_before_decoding() -> None:
    config = make_config(max_bytes=4096)
    data = sample("png-rgb")
    assert len(data) > 4096
    with pytest.raises(ImageTooLargeError, match=r"images\.max_bytes = 4096"):
        mark_image(data, config=config)
    # The check is on the bytes, so not even garbage of that size reaches a decoder.
    with pytest.raises(ImageTooLargeError):
        mark_image(b"\x89PNG\r\n\x1a\n" + bytes(8192), config=config)


def test_max_pixels_from_the_config_applies() -> None:
    config = make_config(max_pixels=100 * 100)
    with pytest.raises(ImageTooLargeError, match=r"320x256 = 81920 pixels, above images.max_pixels = 10000"):
        mark_image(sample("png-rgb"), config=config)


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-rgb", "webp-lossy", "webp-lossless"])
def test_random_corruption_never_leaks_a_foreign_exception(name: str, config: TransparencyConfig) -> None:
    # Bytes flipped at random places (headers included): either the image still marks, or a documented error.
    original = sample(name)
    rng = np.random.default_rng(sum(name.encode()))
    for _ in range(12):
        mutated = bytearray(original)
        for index in rng.integers(0, len(original), 4):
            mutated[index] = int(rng.integers(0, 256))
        try:
            result = mark_image(bytes(mutated), config=config)
        except ImageMarkingError as exc:
            assert str(exc)
        else:
            assert verify(result.data, config=config).c2pa["valid"]
