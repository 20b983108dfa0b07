"""The numpy PNG writer, read back by independent decoders: Pillow's PNG reader and exiftool's validator."""

from __future__ import annotations

import io
import json
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from aiact_transparency.provenance.image import codec
from aiact_transparency.provenance.image.png_writer import _strategy, can_write, filter_rows, write_png

from ...tools import require_tool
from .test_watermark import _GENERATORS, _img

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _content(name: str, w: int = 203, h: int = 131) -> Image.Image:
    return _img(_GENERATORS[name](w, h, np.random.default_rng(3)))


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("name", ["photo", "flat-white", "h-gradient", "uniform-noise", "text", "checker-3"])
def test_lossless_round_trip(mode: str, name: str) -> None:
    image = _content(name).convert(mode)
    if "A" in mode:
        alpha = Image.fromarray((np.indices((131, 203)).sum(0) % 256).astype(np.uint8))
        image.putalpha(alpha)
    back = _decode(write_png(image))
    assert back.format == "PNG" and back.mode == mode and back.size == image.size
    assert np.array_equal(np.asarray(back), np.asarray(image))


def test_tiny_and_odd_shapes() -> None:
    for size in ((1, 1), (1, 7), (7, 1), (2, 3), (129, 1)):
        image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
        assert np.array_equal(np.asarray(_decode(write_png(image))), np.asarray(image))


def test_strips_join_seamlessly() -> None:
    # 700 x 1200 RGB: rows of 2100 bytes, so about 500 rows a strip and two seams, where Up and Average rows
    # read the last row of the strip before.
    image = _content("photo", 700, 1200)
    scanlines = filter_rows(np.asarray(image).reshape(1200, 2100), 3)
    assert set(scanlines[[499, 998], 0].tolist()) & {2, 3}  # the first rows of the second and third strip
    assert np.array_equal(np.asarray(_decode(write_png(image))), np.asarray(image))


def test_every_filter_is_chosen_and_undone() -> None:
    # Rows of different kinds: flat (None), a horizontal ramp (Sub), a copy of the row above (Up), a smooth
    # photo (Average or Up): the mixture must decode exactly whatever each row's filter is.
    w = 240
    ramp = np.tile(np.arange(w, dtype=np.uint8)[:, None] * 3, (1, 3))
    noise = np.random.default_rng(2).integers(0, 256, (w, 3), dtype=np.uint8)
    photo = np.asarray(_content("photo", w, 40))
    rows = [np.zeros((w, 3), np.uint8)] * 4 + [ramp] * 4 + [noise] * 6 + list(photo)
    pixels = np.stack(rows).astype(np.uint8)
    kinds = set(filter_rows(pixels.reshape(len(rows), w * 3), 3)[:, 0].tolist())
    assert kinds == {0, 1, 2, 3}, kinds
    image = Image.fromarray(pixels)
    assert np.array_equal(np.asarray(_decode(write_png(image))), pixels)


def test_metadata_is_read_back_by_pillow() -> None:
    image = _content("photo")
    text = {"Title": "Grüße", "Comment": "x"}
    data = write_png(image, icc_profile=ICC, text=text, dpi=(300.0, 150.0), exif=_exif())
    back = _decode(data)
    assert back.info["icc_profile"] == ICC
    assert back.text == text
    assert back.info["dpi"] == pytest.approx((300, 150), abs=0.05)
    assert back.getexif()[0x010F] == "Camera maker"


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    return exif.tobytes()


def test_exiftool_validates_the_file_and_reads_the_metadata(tmp_path: Path) -> None:
    exiftool = require_tool("exiftool")
    path = tmp_path / "out.png"
    path.write_bytes(write_png(_content("photo", 400, 300), text={"Title": "t"}, dpi=(72.0, 72.0), exif=_exif()))
    out = subprocess.run([exiftool, "-j", "-validate", "-warning", "-a", "-PNG:all", "-EXIF:Make", str(path)],
                         capture_output=True, check=True, text=True)
    tags = json.loads(out.stdout)[0]
    assert tags["Validate"] == "OK", tags
    assert tags["ImageWidth"] == 400 and tags["ImageHeight"] == 300 and tags["BitDepth"] == 8
    assert tags["Title"] == "t" and tags["Make"] == "Camera maker"


def test_size_is_close_to_pillows() -> None:
    # Photographs come out smaller (Average beats Pillow's choice there); very smooth synthetic clouds, where
    # Pillow's Paeth rows win, are the worst measured: +17% at 512x384.
    for name in ("photo", "plasma", "sky", "cartoon", "text", "flat-grey"):
        image = _content(name, 512, 384)
        pillow = io.BytesIO()
        image.save(pillow, "PNG", compress_level=3, compress_type=3)  # what codec.encode wrote before
        assert len(write_png(image)) <= 1.2 * len(pillow.getvalue()), name


def test_codec_uses_it_for_the_plain_modes_and_pillow_for_the_rest() -> None:
    rgb = _content("photo")
    assert can_write(rgb) and can_write(rgb.convert("L")) and can_write(rgb.convert("RGBA"))
    assert not can_write(rgb.convert("P")) and not can_write(rgb.convert("I;16"))
    keyed = rgb.copy()
    keyed.info["transparency"] = (0, 0, 0)  # a colour key: Pillow writes the tRNS chunk
    assert not can_write(keyed)
    png = io.BytesIO()
    keyed.save(png, "PNG")
    decoded = codec.decode(png.getvalue(), "image/png", 10**8)
    out = codec.encode(keyed, decoded, 90)
    assert _decode(out).info.get("transparency") == (0, 0, 0)
    palette = rgb.convert("P")
    assert _decode(codec.encode(palette, decoded, 90)).mode == "P"


def test_runs_of_zeros_choose_rle_and_photographs_huffman_only() -> None:
    def strategy(name: str) -> int:
        image = _content(name, 512, 384)
        return _strategy(filter_rows(np.asarray(image).reshape(384, 512 * 3), 3))

    assert strategy("photo") == zlib.Z_HUFFMAN_ONLY
    for name in ("cartoon", "text", "flat-white", "sky"):
        assert strategy(name) == zlib.Z_RLE, name
