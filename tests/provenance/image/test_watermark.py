"""Imperceptible watermark: quality, robustness, false positives, payload integrity, modes and capacity.

Every test image is generated here with numpy and Pillow (no downloads); the set is deliberately varied:
gradients, noise, textures, hard-edged graphics, text, dark, bright, saturated and photo-like scenes,
sizes that are and are not multiples of 8, RGB, L and RGBA.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
import pywt
from PIL import Image, ImageDraw, ImageFilter

from aiact_transparency.provenance.image.dwt_svd import _approx_band, _dominant, _luma, _split, _strips
from aiact_transparency.provenance.image.watermark import (
    FALSE_POSITIVE_LIMIT,
    MAX_SIZES,
    MIN_BLOCKS,
    PayloadChecksumError,
    WatermarkCapacityError,
    WatermarkDetection,
    WatermarkPayload,
    _embed_bits,
    detect_watermark,
    embed_watermark,
    system_id_for,
)
from aiact_transparency.provenance.image.watermark_detect import _block_values
from aiact_transparency.provenance.payload import WORD_BITS, checksum

PAYLOAD = WatermarkPayload(system_id_for("studio-xl"), 0x5A17C3)
Rgb = npt.NDArray[np.float64]


# --- image generators -------------------------------------------------------------------------------------------


def _img(arr: Rgb) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def _grid(w: int, h: int) -> tuple[Rgb, Rgb]:
    return np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))


def _plasma(w: int, h: int, rng: np.random.Generator, channels: int = 3) -> Rgb:
    """Multi-octave smooth noise in [0, 255]: clouds, terrain, skin-like shading."""
    total = np.zeros((h, w, channels))
    for octave, weight in ((4, 0.5), (12, 0.3), (40, 0.2)):
        small = Image.fromarray(
            (rng.random((octave, octave, channels)) * 255).astype(np.uint8).squeeze(2)
            if channels == 1
            else (rng.random((octave, octave, channels)) * 255).astype(np.uint8)
        )
        total += weight * np.asarray(small.resize((w, h), Image.Resampling.BICUBIC)).reshape(h, w, channels)
    return total


def _photo(w: int, h: int, rng: np.random.Generator) -> Rgb:
    """Photo-like: soft background, a few blurred objects with edges, sensor noise."""
    base = Image.fromarray(np.clip(_plasma(w, h, rng), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(base)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        box = (x0, y0, x0 + int(rng.integers(15, w // 2)), y0 + int(rng.integers(15, h // 2)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    soft = np.asarray(base.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float64)
    return soft + rng.normal(0, 3, soft.shape)


def _text(w: int, h: int, rng: np.random.Generator) -> Rgb:
    page = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    for row in range(8, h - 12, 14):
        draw.text((6, row), "".join(chr(int(c)) for c in rng.integers(65, 91, w // 7)), fill=(0, 0, 0))
    return np.asarray(page, dtype=np.float64)


def _cartoon(w: int, h: int, rng: np.random.Generator) -> Rgb:
    img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        points = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(4)]
        draw.polygon(points, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), outline=(0, 0, 0))
    return np.asarray(img, dtype=np.float64)


def _gray(arr: Rgb) -> Rgb:
    return np.repeat(arr.mean(axis=2, keepdims=True), 3, axis=2)


Generator = Callable[[int, int, np.random.Generator], Rgb]
_GENERATORS: dict[str, Generator] = {
    "h-gradient": lambda w, h, r: np.stack(
        [_grid(w, h)[0] * 255, _grid(w, h)[0] * 128 + 60, 200 - _grid(w, h)[0] * 150], -1
    ),
    "radial": lambda w, h, r: np.repeat((255 * np.hypot(_grid(w, h)[0] - 0.5, _grid(w, h)[1] - 0.4))[..., None], 3, 2),
    "sky": lambda w, h, r: (
        np.stack([80 + 100 * _grid(w, h)[1], 140 + 80 * _grid(w, h)[1], 250 - 20 * _grid(w, h)[1]], -1)
        + 0.25 * _plasma(w, h, r, 1)
    ),
    "uniform-noise": lambda w, h, r: r.random((h, w, 3)) * 255,
    "gaussian-noise": lambda w, h, r: r.normal(128, 40, (h, w, 3)),
    "stripes": lambda w, h, r: np.repeat((127 + 120 * np.sin(_grid(w, h)[0] * w / 3.0))[..., None], 3, 2),
    "checker-8": lambda w, h, r: np.repeat(((np.indices((h, w)) // 8).sum(0) % 2 * 200 + 20)[..., None], 3, 2),
    "checker-3": lambda w, h, r: np.repeat(((np.indices((h, w)) // 3).sum(0) % 2 * 255)[..., None], 3, 2),
    "diagonal-lines": lambda w, h, r: np.repeat((np.indices((h, w)).sum(0) % 5 < 2)[..., None] * 230.0 + 10, 3, 2),
    "plasma": lambda w, h, r: _plasma(w, h, r),
    "marble": lambda w, h, r: np.repeat(
        (127 + 127 * np.sin(_grid(w, h)[0] * 30 + _plasma(w, h, r, 1)[..., 0] / 20))[..., None], 3, 2
    ),
    "photo": _photo,
    "photo-gray": lambda w, h, r: _gray(_photo(w, h, r)),
    "dark-photo": lambda w, h, r: _photo(w, h, r) * 0.22,
    "bright-photo": lambda w, h, r: 190 + _photo(w, h, r) * 0.25,
    "saturated": lambda w, h, r: (
        np.kron(r.integers(0, 2, (h // 32 + 1, w // 32 + 1, 3)), np.ones((32, 32, 1)))[:h, :w] * 255
    ),
    "text": _text,
    "cartoon": _cartoon,
    "blurred-noise": lambda w, h, r: np.asarray(
        _img(r.random((h, w, 3)) * 255).filter(ImageFilter.GaussianBlur(2)), dtype=np.float64
    ),
    "vignette-portrait": lambda w, h, r: (
        _photo(w, h, r) * np.exp(-((_grid(w, h)[0] - 0.5) ** 2 + (_grid(w, h)[1] - 0.5) ** 2) * 3)[..., None]
    ),
    "flat-grey": lambda w, h, r: np.full((h, w, 3), 128.0),
    "flat-white": lambda w, h, r: np.full((h, w, 3), 255.0),
    "flat-black": lambda w, h, r: np.zeros((h, w, 3)),
    "flat-red": lambda w, h, r: np.broadcast_to(np.array([255.0, 0, 0]), (h, w, 3)),
}
_SIZES = [(256, 256), (320, 240), (384, 288), (301, 257), (480, 320), (256, 400)]


def _varied(seed: int) -> list[tuple[str, Image.Image]]:
    rng = np.random.default_rng(seed)
    images = []
    for n, (name, make) in enumerate(_GENERATORS.items()):
        w, h = _SIZES[(n + seed) % len(_SIZES)]
        images.append((f"{name}-{w}x{h}", _img(make(w, h, rng))))
    return images


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _down_up(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.resize((w // 2, h // 2), Image.Resampling.LANCZOS).resize((w, h), Image.Resampling.BICUBIC)


def _psnr(a: Image.Image, b: Image.Image) -> float:
    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


# Pixel-level content (per-pixel noise, 3-pixel checkerboards, thin lines, text, saturated mosaics): resampling
# removes the content itself, so 8x8 block singular values move by more than the quantisation margin and a 50%
# down/up-scale loses the mark there. A known, reported limit of the scheme, measured separately below.
_PIXEL_PATTERNS = ("uniform-noise", "gaussian-noise", "checker-3", "diagonal-lines", "saturated", "text")


@pytest.fixture(scope="module")
def marked() -> list[tuple[str, Image.Image, Image.Image]]:
    return [(name, image, embed_watermark(image, PAYLOAD)) for name, image in _varied(seed=1) + _varied(seed=2)]


def _survival(
    marked: list[tuple[str, Image.Image, Image.Image]], attack: Callable[[Image.Image], Image.Image]
) -> tuple[float, list[str]]:
    lost = [name for name, _, image in marked if detect_watermark(attack(image)).payload != PAYLOAD]
    return 1 - len(lost) / len(marked), lost


# --- quality and robustness -------------------------------------------------------------------------------------


def test_set_is_varied_enough(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    assert len(marked) >= 20


def test_psnr_at_least_34_db(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    psnrs = {name: _psnr(original, image) for name, original, image in marked}
    assert min(psnrs.values()) >= 34, psnrs
    assert np.mean([p for p in psnrs.values() if p != float("inf")]) >= 40  # typical: ~44 dB


def test_round_trip(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    for name, _, image in marked:
        result = detect_watermark(image)
        assert result.found and result.payload == PAYLOAD, (name, result.based_on)
        assert result.decoded_at == image.size
        # The checksum bound and nothing else: one size x 16 offsets x 2^-33 (no clamp, no agreement term).
        assert result.false_positive_probability == 16 * 2.0**-33, name
        assert "1.9e-09 = 1 size(s) x 16 offsets tried x 2^-33" in result.based_on, result.based_on
        assert result.bit_agreement > 0.9, name


def test_survives_jpeg_quality_75(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    rate, lost = _survival(marked, lambda image: _jpeg(image, 75))
    assert rate >= 0.95, lost


def test_survives_half_downscale_then_upscale(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    natural = [item for item in marked if not item[0].startswith(_PIXEL_PATTERNS)]
    assert len(natural) >= 20
    rate, lost = _survival(natural, _down_up)
    assert rate >= 0.95, lost
    # Whole set, pixel-level content included: measured 77% (37/48); this floor catches regressions.
    rate, lost = _survival(marked, _down_up)
    assert rate >= 0.75, lost


def test_survives_a_brightness_change(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    _, _, image = marked[11]  # photo
    brighter = Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + 3, 0, 255).astype(np.uint8))
    result = detect_watermark(brighter)
    assert result.payload == PAYLOAD and "brightness" in result.based_on


def test_rescaled_copy_is_read_at_a_candidate_size(marked: list[tuple[str, Image.Image, Image.Image]]) -> None:
    _, _, image = marked[11]  # photo
    w, h = image.size
    small = image.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS)
    result = detect_watermark(small, candidate_sizes=[(1024, 1024), (w, h)])
    assert result.found and result.payload == PAYLOAD
    assert result.decoded_at == (w, h)
    assert result.sizes_tried == (small.size, (1024, 1024), (w, h))
    assert "rescaled" in result.based_on


def test_flat_images_carry_the_mark_through_jpeg() -> None:
    for value in (0, 128, 255):
        marked = embed_watermark(Image.new("RGB", (256, 256), (value,) * 3), PAYLOAD)
        assert detect_watermark(_jpeg(marked, 75)).payload == PAYLOAD, value


# --- false positives and payload integrity ----------------------------------------------------------------------


def test_unmarked_images_are_never_detected() -> None:
    images = [image for _, image in _varied(seed=7) + _varied(seed=8)]
    images += [_jpeg(image, 80) for _, image in _varied(seed=9)[:10]]
    images += [Image.new(mode, (256, 256), colour) for mode, colour in (("RGB", (0, 0, 0)), ("L", 255), ("L", 77))]
    assert len(images) >= 50
    for n, image in enumerate(images):
        result = detect_watermark(image, candidate_sizes=[(512, 512), (200, 150)])
        assert not result.found and result.payload is None, (n, result.based_on)
        assert len(result.sizes_tried) == len({image.size, (512, 512), (200, 150)})  # every size was read


def test_the_bound_counts_every_reading_that_could_be_tried() -> None:
    image = embed_watermark(_img(_photo(256, 256, np.random.default_rng(15))), PAYLOAD)
    sizes = [(256 + 8 * n, 256) for n in range(1, MAX_SIZES)]  # with the image's own size: MAX_SIZES sizes
    result = detect_watermark(image, candidate_sizes=sizes)
    assert result.found and result.decoded_at == (256, 256)  # found at the first size, bound over all of them
    assert result.false_positive_probability == MAX_SIZES * 16 * 2.0**-33 <= FALSE_POSITIVE_LIMIT
    # One size more and the checksum can no longer keep the bound under the limit: no mark is claimed.
    refused = detect_watermark(image, candidate_sizes=[*sizes, (512, 512)])
    assert not refused.found and refused.payload is None
    assert f"at most {MAX_SIZES} candidate sizes" in refused.based_on


def test_marked_image_with_corrupted_checksum_is_not_accepted() -> None:
    bits = list(PAYLOAD.to_bits())
    bits[-1] ^= 1  # last CRC bit
    image = _embed_bits(_img(_photo(320, 240, np.random.default_rng(3))), bits, 36.0)
    result = detect_watermark(image)
    assert not result.found and result.payload is None
    assert "CRC-32" in result.based_on


def test_every_single_bit_error_is_detected_by_the_checksum() -> None:
    bits = PAYLOAD.to_bits()
    assert WatermarkPayload.from_bits(bits) == PAYLOAD
    for n in range(WORD_BITS):
        corrupted = list(bits)
        corrupted[n] ^= 1
        with pytest.raises(PayloadChecksumError):
            WatermarkPayload.from_bits(corrupted)


def test_constant_and_periodic_words_are_not_codewords() -> None:
    # Flat and striped images decode to constant or periodic words: the public mask keeps them invalid.
    for period in (1, 3, 9):
        for pattern in range(1 << period):
            unit = [(pattern >> i) & 1 for i in range(period)]
            with pytest.raises(PayloadChecksumError):
                WatermarkPayload.from_bits(unit * (WORD_BITS // period))


def test_payload_layout_and_validation() -> None:
    assert checksum(b"123456789") == 0xCBF43926  # CRC-32 check value
    assert len(PAYLOAD.to_bytes()) == 10 and len(PAYLOAD.to_bits()) == WORD_BITS == 81
    assert WatermarkPayload.from_bytes(PAYLOAD.to_bytes()) == PAYLOAD
    assert system_id_for("demo") == 2791249  # stable across releases: a verifier relies on it
    with pytest.raises(ValueError, match="system_id"):
        WatermarkPayload(1 << 24, 0)
    with pytest.raises(ValueError, match="image_id"):
        WatermarkPayload(0, -1)
    with pytest.raises(ValueError):
        system_id_for("")


# --- the transform --------------------------------------------------------------------------------------------


def test_haar_band_equals_pywavelets() -> None:
    # The band is taken from the colour planes (pairs summed before Y): it must equal the haar DWT of Y.
    photo = _img(_photo(264, 200, np.random.default_rng(4)))
    for image in (photo, photo.convert("L")):
        colour = _split(image)[1]
        y = _luma(colour)
        band = _approx_band(colour)
        hb, _, wb, _ = band.shape
        reference = pywt.dwt2(y[: hb * 8, : wb * 8].astype(np.float64), "haar")[0]
        np.testing.assert_allclose(band.reshape(hb * 4, wb * 4), reference, atol=1e-3)
        np.testing.assert_allclose(_approx_band(y), band, atol=1e-3)  # a luminance plane (rescaled reading)


def test_power_iteration_matches_svd_and_dct_changes_nothing() -> None:
    band = _approx_band(_split(_img(_photo(256, 256, np.random.default_rng(5)) * 0.3))[1])
    blocks = band.transpose(0, 2, 1, 3).reshape(-1, 4, 4).astype(np.float64)
    u, exact, vt = np.linalg.svd(blocks)
    dom = _dominant(band)
    np.testing.assert_allclose(dom.s0.ravel(), exact[:, 0], atol=1e-3)
    np.testing.assert_allclose(dom.rest.ravel(), np.sqrt((exact[:, 1:] ** 2).sum(axis=1)), atol=0.05)
    # The singular vectors (up to sign) the rank-one update uses: u0 v0^T of every block.
    outer = np.einsum("nk,ni->nki", u[:, :, 0], vt[:, 0, :])
    ours = np.einsum("khw,ihw->hwki", dom.u, dom.v).reshape(-1, 4, 4)
    np.testing.assert_allclose(ours, outer, atol=1e-4)
    # The reference scheme takes the SVD after an orthonormal 4x4 DCT-II: singular values do not change.
    k, n = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    dct = np.sqrt(np.where(k == 0, 0.25, 0.5)) * np.cos(np.pi * (2 * n + 1) * k / 8)
    np.testing.assert_allclose(np.linalg.svd(dct @ blocks @ dct.T, compute_uv=False), exact, atol=1e-6)


def test_luminance_change_is_the_same_in_every_channel() -> None:
    original = _img(_photo(256, 256, np.random.default_rng(6)) * 0.6 + 40)
    diff = np.asarray(embed_watermark(original, PAYLOAD), dtype=np.int16) - np.asarray(original, dtype=np.int16)
    assert np.abs(diff).max() > 0
    assert np.abs(diff[..., 0] - diff[..., 1]).max() <= 1  # rounding only: chroma is left alone
    assert np.abs(diff[..., 2] - diff[..., 1]).max() <= 1


# --- modes, alpha, capacity, API --------------------------------------------------------------------------------


def test_alpha_is_preserved() -> None:
    rgb = _img(_photo(256, 192, np.random.default_rng(10)))
    alpha = Image.fromarray((np.indices((192, 256)).sum(0) % 256).astype(np.uint8))
    for mode, base in (("RGBA", rgb), ("LA", rgb.convert("L"))):
        image = base.copy()
        image.putalpha(alpha)
        out = embed_watermark(image, PAYLOAD)
        assert out.mode == mode
        assert np.array_equal(np.asarray(out)[..., -1], np.asarray(alpha))
        assert detect_watermark(out).payload == PAYLOAD


def test_modes_and_metadata() -> None:
    photo = _img(_photo(256, 256, np.random.default_rng(11)))
    gray = photo.convert("L")
    gray.info["icc_profile"] = b"fake-profile"
    out = embed_watermark(gray, PAYLOAD)
    assert out.mode == "L" and out.info["icc_profile"] == b"fake-profile"
    assert embed_watermark(photo.convert("P"), PAYLOAD).mode == "RGB"
    transparent = photo.convert("P")
    transparent.info["transparency"] = 0
    assert embed_watermark(transparent, PAYLOAD).mode == "RGBA"
    assert embed_watermark(photo.convert("CMYK"), PAYLOAD).mode == "RGB"
    assert embed_watermark(photo.convert("I;16"), PAYLOAD).mode == "L"


def test_small_images_raise_a_typed_capacity_error() -> None:
    for size in ((100, 100), (2000, 8), (64, 64)):
        with pytest.raises(WatermarkCapacityError, match=r"128x128") as info:
            embed_watermark(Image.new("RGB", size, (90, 90, 90)), PAYLOAD)
        assert info.value.min_blocks == MIN_BLOCKS and info.value.size == size
    embed_watermark(Image.new("RGB", (128, 128), (90, 90, 90)), PAYLOAD)  # the documented minimum works
    result = detect_watermark(Image.new("RGB", (100, 100)))
    assert not result.found and "too small" in result.based_on and result.sizes_tried == ()


def test_strips_join_seamlessly() -> None:
    # 2052x1100: 256 blocks a row, so strips of 64 block rows: 64 + 64 + 9, then margins of 4 pixels (right and
    # bottom). Every block is marked once, in raster order, and the margins are left alone.
    image = _img(_photo(2052, 1100, np.random.default_rng(15)))
    colour = _split(image)[1]
    assert [rows.stop - rows.start for rows in _strips(colour.shape)] == [512, 512, 72]
    np.testing.assert_allclose(_block_values(colour), _dominant(_approx_band(colour)).s0.ravel(), rtol=1e-6)
    marked = embed_watermark(image, PAYLOAD)
    assert detect_watermark(marked).payload == PAYLOAD
    s0 = _block_values(_split(marked)[1])
    bits = (np.mod(s0, 36.0) > 18).astype(int)
    expected = np.resize(np.asarray(PAYLOAD.to_bits()), bits.size)
    assert np.mean(bits == expected) > 0.99  # block n carries bit n mod 81 across the strip boundary too
    before, after = np.asarray(image), np.asarray(marked)
    assert np.array_equal(before[1096:], after[1096:]) and np.array_equal(before[:, 2048:], after[:, 2048:])


def test_marking_twice_is_idempotent() -> None:
    once = embed_watermark(_img(_photo(320, 240, np.random.default_rng(12))), PAYLOAD)
    assert _psnr(once, embed_watermark(once, PAYLOAD)) > 55


def test_detection_to_dict_is_json_and_says_what_it_is_based_on() -> None:
    result = detect_watermark(embed_watermark(_img(_plasma(256, 256, np.random.default_rng(13))), PAYLOAD))
    assert isinstance(result, WatermarkDetection)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["found"] is True and data["decoded_at"] == [256, 256]
    assert data["payload"] == {"system_id": PAYLOAD.system_id, "image_id": PAYLOAD.image_id}
    assert "CRC-32" in data["based_on"] and "blocks agree" in data["based_on"]


def test_strength_is_validated_and_must_match() -> None:
    image = _img(_photo(256, 256, np.random.default_rng(14)))
    with pytest.raises(ValueError, match="strength"):
        embed_watermark(image, PAYLOAD, strength=0)
    strong = embed_watermark(image, PAYLOAD, strength=60)
    assert detect_watermark(strong, strength=60).payload == PAYLOAD
    assert not detect_watermark(strong).found
