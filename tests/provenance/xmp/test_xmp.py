from __future__ import annotations

import io
import json
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from aiact_transparency.provenance.xmp import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI,
    TRAINED_ALGORITHMIC_MEDIA_URI,
    ImageFormatError,
    XmpError,
    add_ai_xmp,
    build_xmp,
    extract_xmp,
    insert_xmp,
    read_digital_source_type,
    sniff_media_type,
)

from ...tools import require_tool

TOOL = 'demo-service 1.2 <&> "quoted"'
MODEL = "Studio XL"
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


@pytest.fixture(scope="session")
def exiftool() -> str:
    # The independent XMP reader (Debian: libimage-exiftool-perl); CI installs it and fails without it.
    return require_tool("exiftool")


def run_exiftool(exiftool: str, path: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [exiftool, "-j", "-a", "-G1", "-n", "-validate", "-warning", "-XMP:all", *args, str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    result: list[dict[str, object]] = json.loads(out.stdout)
    return result[0]


def warnings(info: dict[str, object]) -> set[str]:
    value = info.get("ExifTool:Warning", [])
    return set(value) if isinstance(value, list) else {str(value)}


def _pixels(seed: int = 0, alpha: bool = False) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (40, 56, 4 if alpha else 3), dtype=np.uint8)
    if alpha:
        arr[:10, :, 3] = 0  # real transparency, or encoders drop the alpha channel
    return Image.fromarray(arr, "RGBA" if alpha else "RGB")


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    return exif.tobytes()


ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

SAMPLES: dict[str, Callable[[], bytes]] = {
    "png-rgb": lambda: _encode(_pixels(), "PNG"),
    "png-rgba-icc": lambda: _encode(_pixels(alpha=True), "PNG", icc_profile=ICC),
    "png-palette": lambda: _encode(_pixels().convert("P"), "PNG"),
    "jpeg-plain": lambda: _encode(_pixels(), "JPEG", quality=90),
    "jpeg-exif-icc": lambda: _encode(_pixels(), "JPEG", exif=_exif(), icc_profile=ICC),
    "jpeg-progressive-exif": lambda: _encode(_pixels(), "JPEG", progressive=True, exif=_exif()),
    "webp-lossy": lambda: _encode(_pixels(), "WEBP", quality=80),
    "webp-lossless": lambda: _encode(_pixels(), "WEBP", lossless=True),
    "webp-lossy-alpha": lambda: _encode(_pixels(alpha=True), "WEBP", quality=80),
    "webp-lossless-alpha": lambda: _encode(_pixels(alpha=True), "WEBP", lossless=True),
    "webp-icc-exif": lambda: _encode(_pixels(), "WEBP", quality=80, icc_profile=ICC, exif=_exif()),
}


def _ext(data: bytes) -> str:
    kind = sniff_media_type(data)
    return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[kind or ""]


def _decode(data: bytes) -> tuple[str, np.ndarray]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, np.asarray(im)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_marked_file_keeps_pixels_and_exiftool_reads_it(name: str, exiftool: str, tmp_path: Path) -> None:
    original = SAMPLES[name]()
    marked = add_ai_xmp(original, creator_tool=TOOL, model=MODEL, model_version="2.1")

    mode, pixels = _decode(original)
    marked_mode, marked_pixels = _decode(marked)
    assert marked_mode == mode
    np.testing.assert_array_equal(marked_pixels, pixels)

    src, dst = tmp_path / f"orig.{_ext(original)}", tmp_path / f"marked.{_ext(original)}"
    src.write_bytes(original)
    dst.write_bytes(marked)
    info = run_exiftool(exiftool, dst)
    assert info["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert info["XMP-xmp:CreatorTool"] == TOOL
    assert info["XMP-iptcExt:AISystemUsed"] == MODEL
    assert str(info["XMP-iptcExt:AISystemVersionUsed"]) == "2.1"
    # Our surgery must not introduce structural problems exiftool's validator sees in the container.
    assert warnings(info) <= warnings(run_exiftool(exiftool, src))

    assert read_digital_source_type(marked) == TRAINED_ALGORITHMIC_MEDIA_URI
    assert read_digital_source_type(original) is None
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(marked)) as after:
        assert after.info.get("icc_profile") == before.info.get("icc_profile")
        assert dict(after.getexif()) == dict(before.getexif())


def _titled_by_exiftool(exiftool: str, tmp_path: Path, ext: str) -> bytes:
    """A file whose XMP was written by independent tools: exiftool, and for WebP (which exiftool 12 cannot
    write) exiftool's packet embedded by libwebp's muxer through Pillow."""
    carrier = "jpg" if ext == "webp" else ext
    plain = tmp_path / f"plain.{carrier}"
    plain.write_bytes(_encode(_pixels(), {"png": "PNG", "jpg": "JPEG"}[carrier]))
    titled = tmp_path / f"titled.{carrier}"
    subprocess.run(
        [
            exiftool,
            "-q",
            "-XMP-dc:Title=Sunset & Sea",
            "-XMP-xmp:CreatorTool=Old Tool",
            "-XMP-dc:Subject=beach",
            "-o",
            str(titled),
            str(plain),
        ],
        check=True,
        timeout=60,
    )
    if ext != "webp":
        return titled.read_bytes()
    packet = subprocess.run([exiftool, "-b", "-XMP", str(titled)], check=True, capture_output=True, timeout=60).stdout
    assert b"Sunset" in packet
    return _encode(_pixels(), "WEBP", quality=80, xmp=packet)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_existing_xmp_written_by_exiftool_survives_the_merge(ext: str, exiftool: str, tmp_path: Path) -> None:
    marked = tmp_path / f"marked.{ext}"
    marked.write_bytes(add_ai_xmp(_titled_by_exiftool(exiftool, tmp_path, ext), creator_tool=TOOL, model=None))

    info = run_exiftool(exiftool, marked)
    assert info["XMP-dc:Title"] == "Sunset & Sea"
    assert info["XMP-dc:Subject"] == "beach"
    assert info["XMP-xmp:CreatorTool"] == TOOL  # ours replaces theirs rather than sitting next to it
    assert info["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert "XMP-xmp:XMPToolkit" in info or "XMP-x:XMPToolkit" in info  # exiftool's own attribute kept


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-exif-icc", "webp-lossy", "webp-icc-exif"])
def test_marking_twice_leaves_exactly_one_packet(name: str, exiftool: str, tmp_path: Path) -> None:
    composite = COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI
    once = add_ai_xmp(SAMPLES[name](), creator_tool="a", model="m1")
    twice = add_ai_xmp(once, creator_tool="b", model="m2", digital_source_type=composite)
    assert twice.count(b"<?xpacket begin") == 1
    assert twice.count(b"DigitalSourceType>") == 2  # one element: open and close tag
    # Idempotent: a cache handing the same output through twice gets byte-identical files.
    assert add_ai_xmp(twice, creator_tool="b", model="m2", digital_source_type=composite) == twice
    path = tmp_path / f"twice.{_ext(twice)}"
    path.write_bytes(twice)
    info = run_exiftool(exiftool, path)
    assert info["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI
    assert info["XMP-xmp:CreatorTool"] == "b"
    assert info["XMP-iptcExt:AISystemUsed"] == "m2"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(ctype + body), ctype
        chunks.append((ctype, body))
        pos += 12 + length
    return chunks


def test_png_itxt_is_uncompressed_before_idat_with_valid_crc() -> None:
    marked = add_ai_xmp(SAMPLES["png-rgba-icc"](), creator_tool=TOOL, model=MODEL)
    types = [ctype for ctype, _ in _png_chunks(marked)]
    assert types.index(b"iTXt") < types.index(b"IDAT")
    body = dict(_png_chunks(marked))[b"iTXt"]
    assert body.startswith(b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<?xpacket")
    assert extract_xmp(marked) == body[len(b"XML:com.adobe.xmp") + 5 :]


def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    chunks, pos = [], 12
    while pos < len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("webp-lossy", 0x04),
        ("webp-lossless", 0x04),
        ("webp-lossless-alpha", 0x14),
        ("webp-lossy-alpha", 0x14),
        ("webp-icc-exif", 0x2C),
    ],
)
def test_webp_becomes_extended_with_xmp_flag_and_keeps_chunks(name: str, flags: int) -> None:
    original = SAMPLES[name]()
    marked = add_ai_xmp(original, creator_tool=TOOL, model=MODEL)
    chunks = _webp_chunks(marked)
    assert chunks[0][0] == b"VP8X"
    assert chunks[0][1][0] == flags
    width, height = Image.open(io.BytesIO(original)).size
    assert int.from_bytes(chunks[0][1][4:7], "little") + 1 == width
    assert int.from_bytes(chunks[0][1][7:10], "little") + 1 == height
    assert chunks[-1][0] == b"XMP "
    kept = [c for c in chunks if c[0] not in (b"VP8X", b"XMP ")]
    assert kept == [c for c in _webp_chunks(original) if c[0] != b"VP8X"]


def test_jpeg_xmp_segment_follows_app0_and_exif() -> None:
    marked = add_ai_xmp(SAMPLES["jpeg-exif-icc"](), creator_tool=TOOL, model=MODEL)
    markers, pos = [], 2
    while marked[pos + 1] != 0xDA:
        (length,) = struct.unpack_from(">H", marked, pos + 2)
        markers.append((marked[pos + 1], marked[pos + 4 : pos + 4 + 4]))
        pos += 2 + length
    assert markers[:4] == [(0xE0, b"JFIF"), (0xE1, b"Exif"), (0xE1, b"http"), (0xE2, b"ICC_")]


def test_jpeg_packet_over_the_app1_limit_is_a_clear_error() -> None:
    with pytest.raises(XmpError, match="APP1"):
        add_ai_xmp(SAMPLES["jpeg-plain"](), creator_tool=TOOL, model="x" * 70_000)


def test_existing_attribute_form_property_is_replaced_not_duplicated() -> None:
    existing = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:my="urn:example:my"'
        b' xmp:CreatorTool="Old" my:keep="yes"/></rdf:RDF></x:xmpmeta>'
    )
    packet = build_xmp(creator_tool="New", model=None, existing=existing)
    assert b"Old" not in packet
    assert packet.count(b"CreatorTool") == 2
    assert b'my:keep="yes"' in packet
    assert b'xmlns:my="urn:example:my"' in packet


def test_bare_rdf_packet_is_wrapped_in_xmpmeta() -> None:
    existing = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    packet = build_xmp(creator_tool="t", model=None, existing=existing)
    assert b"<x:xmpmeta" in packet
    assert b"DigitalSourceType>" in packet


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&xxe;</x:xmpmeta>',
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol2;</x:xmpmeta>',
        b"\xef\xbb\xbf<!doctype x>",
        "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>".encode("utf-16"),
    ],
)
def test_doctype_or_entities_in_existing_xmp_are_refused(hostile: bytes) -> None:
    with pytest.raises(XmpError, match="DOCTYPE"):
        build_xmp(creator_tool="t", model=None, existing=hostile)
    image = insert_xmp(SAMPLES["png-rgb"](), "image/png", hostile)
    with pytest.raises(XmpError):
        read_digital_source_type(image)
    with pytest.raises(XmpError):
        add_ai_xmp(image, creator_tool="t", model=None)


@pytest.mark.parametrize(
    "bad",
    [b"not xml at all <", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", b"\xff\xfe\x00", b"<a>" * 200 + b"</a>" * 200],
)
def test_malformed_existing_xmp_raises_xmp_error(bad: bytes) -> None:
    with pytest.raises(XmpError):
        build_xmp(creator_tool="t", model=None, existing=bad)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="full URI"):
        build_xmp(digital_source_type="trainedAlgorithmicMedia", creator_tool="t", model=None)
    with pytest.raises(ValueError, match="control characters"):
        build_xmp(creator_tool="t\x00", model=None)
    with pytest.raises(ImageFormatError, match="declared media type image/png but the bytes are image/jpeg"):
        insert_xmp(SAMPLES["jpeg-plain"](), "image/png", b"<x/>")
    with pytest.raises(ImageFormatError, match="not supported"):
        insert_xmp(_encode(_pixels(), "GIF"), "image/gif", b"<x/>")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_truncated_files_raise_image_format_error(name: str) -> None:
    data = add_ai_xmp(SAMPLES[name](), creator_tool=TOOL, model=MODEL)
    media_type = sniff_media_type(data)
    assert media_type is not None
    for cut in sorted({1, 4, 11, 12, 16, 20, 30, 33, 60, 100, 400, len(data) // 2, len(data) - 3, len(data) - 1}):
        with pytest.raises(ImageFormatError):
            insert_xmp(data[:cut], media_type, b"<x/>")
        with pytest.raises(ImageFormatError):
            extract_xmp(data[:cut], media_type)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_corrupted_bytes_never_leak_low_level_errors(name: str) -> None:
    data = add_ai_xmp(SAMPLES[name](), creator_tool=TOOL, model=MODEL)
    rng = np.random.default_rng(7)
    for _ in range(300):
        corrupt = bytearray(data)
        for pos in rng.integers(0, min(len(data), 600), 3):
            corrupt[pos] = int(rng.integers(0, 256))
        try:
            add_ai_xmp(bytes(corrupt), creator_tool="t", model=None)
            read_digital_source_type(bytes(corrupt))
        except ImageFormatError:
            pass


def test_png_crc_mismatch_in_xmp_chunk_is_reported() -> None:
    marked = bytearray(add_ai_xmp(SAMPLES["png-rgb"](), creator_tool=TOOL, model=MODEL))
    at = marked.index(b"DigitalSourceType")
    marked[at] ^= 0x20
    with pytest.raises(ImageFormatError, match="CRC"):
        extract_xmp(bytes(marked))


def test_sniff_media_type() -> None:
    assert sniff_media_type(SAMPLES["png-rgb"]()) == "image/png"
    assert sniff_media_type(SAMPLES["jpeg-plain"]()) == "image/jpeg"
    assert sniff_media_type(SAMPLES["webp-lossless"]()) == "image/webp"
    assert sniff_media_type(_encode(_pixels(), "GIF")) == "image/gif"
    assert sniff_media_type(_encode(_pixels(), "TIFF")) == "image/tiff"
    assert sniff_media_type(_encode(_pixels(), "BMP")) == "image/bmp"
    assert sniff_media_type(b"\x00\x00\x00\x1cftypavif") == "image/avif"
    assert sniff_media_type(b"hello") is None
    assert sniff_media_type(b"") is None


def test_extract_accepts_media_type_aliases_and_parameters() -> None:
    marked = add_ai_xmp(SAMPLES["jpeg-plain"](), "image/jpg", creator_tool=TOOL, model=MODEL)
    assert extract_xmp(marked, "IMAGE/JPEG; q=1") == extract_xmp(marked)


def _frames(data: bytes) -> list[np.ndarray]:
    frames = []
    with Image.open(io.BytesIO(data)) as im:
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frames.append(np.asarray(im.convert("RGBA")))
    return frames


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_keep_every_frame(fmt: str, exiftool: str, tmp_path: Path) -> None:
    frames = [_pixels(seed) for seed in range(3)]
    original = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    marked = add_ai_xmp(original, creator_tool=TOOL, model=MODEL)
    before, after = _frames(original), _frames(marked)
    assert len(after) == len(before) == 3
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / f"anim.{_ext(marked)}"
    path.write_bytes(marked)
    info = run_exiftool(exiftool, path)
    assert info["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI
