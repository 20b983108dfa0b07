"""Fingerprints as detection evidence, end to end: real photographs marked by the real pipeline (watermark,
XMP, signed C2PA), logged, then looked up after what strips marks; and unmarked images that must not match.

The false-match figure: every unmarked image (variants of photographs that were not marked, plus generated
images) is looked up with all 8 rotations/flips against the log of marked outputs; at PDQ's threshold 31 none
may match. The test prints the count and the closest distance seen.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from functools import cache

import c2pa
import numpy as np
import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig, mark_image
from aiact_transparency.detection.output_log import UNMARKED_TEST_IMAGES, UNRELATED_IMAGE_PAIRS
from aiact_transparency.fingerprints import FingerprintRecord, FingerprintStore, hamming, lookup, pdq_hash, record_for
from aiact_transparency.fingerprints.pdq import MATCH_THRESHOLD, dihedral_hashes

from .images import PHOTOS, crops, photo, procedural, variants

MARKED_PHOTOS = PHOTOS[:8]
UNMARKED_PHOTOS = PHOTOS[8:]
MARKED_GENERATED = range(1000, 1040)  # seeds of generated images that are marked too
UNMARKED_GENERATED = range(100)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)  # Pillow writes no XMP/C2PA unless asked
    return out.getvalue()


def manifest_id(data: bytes, media_type: str) -> str:
    with c2pa.Reader(media_type, io.BytesIO(data)) as reader:
        return str(json.loads(reader.json())["active_manifest"])


CONFIG = TransparencyConfig(system={"name": "Fingerprint Test"}, model={"id": "acme/studio-xl"})


@cache
def marked(name: str) -> tuple[bytes, FingerprintRecord]:
    """One photograph through the real pipeline (marked once per test session: signing is the slow part),
    and the record the middleware would log for it."""
    result = mark_image(png(photo(name)), config=CONFIG)
    assert result.report.watermark is not None and result.report.c2pa is not None
    served = Image.open(io.BytesIO(result.data))
    record = record_for(result.data, result.media_type, pdq=pdq_hash(served),
                        payload=bytes.fromhex(result.report.watermark["value"]),
                        manifest_id=manifest_id(result.data, result.media_type), route="/generate")
    return result.data, record


@cache
def generated_record(seed: int) -> FingerprintRecord:
    return record_for(png(procedural(seed)), "image/png", pdq=pdq_hash(procedural(seed)))


@pytest.fixture
def marked_log(store: FingerprintStore) -> dict[str, bytes]:
    served = {name: marked(name)[0] for name in MARKED_PHOTOS}
    store.add_many([marked(name)[1] for name in MARKED_PHOTOS])
    store.add_many([generated_record(seed) for seed in MARKED_GENERATED])
    return served


@cache
def unmarked_images() -> tuple[Image.Image, ...]:
    def each() -> Iterator[Image.Image]:
        for n, name in enumerate(UNMARKED_PHOTOS):
            source = photo(name)
            yield source
            yield from variants(source, seed=n)
        for seed in UNMARKED_GENERATED:
            yield procedural(seed)

    return tuple(each())


def stripped(image: Image.Image) -> Image.Image:
    """Re-encoded as JPEG quality 70 from the pixels alone: no XMP, no C2PA, no EXIF left."""
    decoded = Image.open(io.BytesIO(jpeg(image, 70)))
    assert not decoded.info.get("xmp") and "exif" not in decoded.info
    return decoded


TRANSFORMS = {
    "as served": lambda im: im,
    "jpeg q70": stripped,
    "rotated 90": lambda im: stripped(im.transpose(Image.Transpose.ROTATE_90)),
    "rotated 270": lambda im: stripped(im.transpose(Image.Transpose.ROTATE_270)),
    "flipped": lambda im: stripped(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    "flipped upside down": lambda im: stripped(im.transpose(Image.Transpose.FLIP_TOP_BOTTOM)),
    "half size": lambda im: stripped(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_marked_images_are_found_after_what_strips_marks(
    store: FingerprintStore, marked_log: dict[str, bytes], transform: str
) -> None:
    for name, data in marked_log.items():
        served = Image.open(io.BytesIO(data))
        changed = TRANSFORMS[transform](served)
        answer = lookup(store, image=changed)
        assert answer.searched == ("perceptual",)
        assert answer.matches, f"{name} not found after {transform}"
        best = answer.matches[0]
        assert best.by == "perceptual" and best.distance is not None and best.distance <= MATCH_THRESHOLD
        assert best.record.sha256 == record_for(data, "image/png").sha256, f"{name}: matched another output"


def test_exact_lookups_come_first(store: FingerprintStore, marked_log: dict[str, bytes]) -> None:
    data, record = marked("astronaut")
    manifest = record.manifest_id or ""
    by_bytes = lookup(store, data=data, image=Image.open(io.BytesIO(data)))
    assert [m.by for m in by_bytes.matches] == ["sha256"] and by_bytes.searched == ("sha256",)
    by_manifest = lookup(store, manifest_id=manifest)
    assert [m.by for m in by_manifest.matches] == ["manifest_id"]
    payload = by_manifest.matches[0].record.payload
    assert payload is not None and [m.by for m in lookup(store, payload=payload).matches] == ["payload"]


def test_rotations_need_the_dihedral_variants(store: FingerprintStore, marked_log: dict[str, bytes]) -> None:
    served = Image.open(io.BytesIO(marked_log["astronaut"]))
    turned = stripped(served.transpose(Image.Transpose.ROTATE_90))
    assert lookup(store, image=turned, dihedral=False).matches == ()
    # The query's variant that matches is the one that turns it back: 270 degrees (PDQ's variant 3).
    assert lookup(store, image=turned).matches[0].variant == 3


def test_featureless_images_are_not_looked_up(store: FingerprintStore) -> None:
    answer = lookup(store, image=Image.new("RGB", (300, 300), (40, 90, 200)))
    assert answer.matches == () and answer.searched == () and "below 50" in (answer.note or "")


def test_unmarked_images_give_no_false_matches(
    store: FingerprintStore, marked_log: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    stored = [marked(name)[1].perceptual for name in MARKED_PHOTOS]
    stored += [generated_record(seed).perceptual for seed in MARKED_GENERATED]
    looked_up = matchable = false_matches = 0
    closest = 256
    for image in unmarked_images():
        looked_up += 1
        answer = lookup(store, image=image)
        if "perceptual" in answer.searched:
            matchable += 1
        false_matches += len(answer.matches)
        # The closest any variant came to any stored hash, for the report (computed outside the index).
        closest = min(closest, *(hamming(v.digest, s or b"") for v in dihedral_hashes(image) for s in stored))
    with capsys.disabled():
        print(f"\nfingerprint false matches: {false_matches} of {looked_up} unmarked images ({matchable} matchable, "
              f"8 variants each) against {len(stored)} marked outputs; closest distance {closest}, threshold "
              f"{MATCH_THRESHOLD}")
    assert looked_up >= 200 and matchable >= UNMARKED_TEST_IMAGES  # the figure StoreIndex reports rests on it
    assert false_matches == 0


def test_pairs_of_unrelated_images_never_match(capsys: pytest.CaptureFixture[str]) -> None:
    """The false-match figure the detector reports: every matchable crop of one photograph (or generated image)
    against every one of the others, as a stored output (as is) and a query (8 orientations)."""
    hashes: list[bytes] = []
    source: list[int] = []
    images = [(n, crop) for n, name in enumerate(PHOTOS) for crop in crops(photo(name), n, 60)]
    images += [(len(PHOTOS) + seed, procedural(seed)) for seed in UNMARKED_GENERATED]
    for owner, image in images:
        variants_ = dihedral_hashes(image)
        if variants_[0].matchable:
            hashes.append(b"".join(v.digest for v in variants_))
            source.append(owner)
    table = np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), 8, 4)
    owners = np.asarray(source)
    pairs, closest = 0, 256
    for i in range(len(hashes) - 1):
        others = np.flatnonzero(owners[i + 1 :] != owners[i]) + i + 1  # crops of one photo may overlap: skipped
        bits = np.unpackbits((table[i][None, :, :] ^ table[others][:, :1, :]).view(np.uint8), axis=-1)
        distances = bits.sum(axis=-1)  # (others, 8): query i turned 8 ways against each stored j
        pairs += len(others)
        closest = min(closest, int(distances.min()))
    with capsys.disabled():
        print(f"\nPDQ false matches: 0 of {pairs:,} pairs of unrelated images ({len(hashes)} matchable images from "
              f"{len(set(source))} sources, 8 orientations each); closest distance {closest}, threshold "
              f"{MATCH_THRESHOLD}")
    assert closest > MATCH_THRESHOLD
    assert pairs >= UNRELATED_IMAGE_PAIRS  # the figure StoreIndex reports rests on it
