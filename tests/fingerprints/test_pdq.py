"""Our numpy PDQ against the reference hasher (Meta's C++ through the `pdqhash` bindings), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aiact_transparency.fingerprints import dihedral_hashes, hamming, pdq_hash
from aiact_transparency.fingerprints.pdq import MATCH_THRESHOLD, MIN_QUALITY

from ..tools import require_module
from .images import PHOTOS, photo, procedural


def reference(array: np.ndarray) -> tuple[bytes, int, list[bytes]]:
    pdqhash = require_module("pdqhash")
    vector, quality = pdqhash.compute(array)
    variants, _ = pdqhash.compute_dihedral(array)
    # The bindings list bit 0 last; our digest stores bit 0 first.
    pack = lambda bits: np.packbits(np.asarray(bits, dtype=np.uint8)[::-1]).tobytes()  # noqa: E731
    return pack(vector), int(quality), [pack(v) for v in variants]


CASES = [*PHOTOS[:12], "procedural-1", "procedural-2", "odd-size"]


def case_image(name: str) -> np.ndarray:
    if name.startswith("procedural"):
        return np.asarray(procedural(int(name[-1])))
    if name == "odd-size":  # sizes that do not divide by 64 or 128, and a window of 1
        return np.ascontiguousarray(np.asarray(photo("coffee"))[:97, :131])
    return np.ascontiguousarray(np.asarray(photo(name)))


@pytest.mark.parametrize("name", CASES)
def test_hash_and_quality_equal_the_reference(name: str) -> None:
    array = case_image(name)
    ref_hash, ref_quality, ref_variants = reference(array)
    ours = pdq_hash(array)
    assert (hamming(ours.digest, ref_hash), ours.quality) == (0, ref_quality)
    assert [v.digest for v in dihedral_hashes(array)] == ref_variants  # same variants, same order
    # A PIL image takes Pillow's luminance conversion (faster): the same hash.
    from_pil = pdq_hash(Image.fromarray(array))
    assert (from_pil.digest, from_pil.quality) == (ours.digest, ours.quality)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
def test_dihedral_variants_match_the_turned_images(name: str) -> None:
    # Not bit-exact, for the reference too: the decimation grid and the box window are not symmetric about
    # the centre, so a turned image samples pixels one off. Well within the match threshold all the same.
    image = photo(name)
    variants = [v.digest for v in dihedral_hashes(image)]
    for n, turn in enumerate(TURNS):
        direct = pdq_hash(image.transpose(turn)).digest
        distances = [hamming(direct, v) for v in variants]
        assert distances[TURN_VARIANT[n]] <= MATCH_THRESHOLD
        assert min(distances) == distances[TURN_VARIANT[n]]
        assert hamming(direct, variants[0]) > MATCH_THRESHOLD  # the unturned hash alone would miss it


# PIL's transposes and the index of the dihedral variant (PDQ's order) each corresponds to.
TURNS = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270,
         Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.TRANSPOSE,
         Image.Transpose.TRANSVERSE)
TURN_VARIANT = (1, 2, 3, 4, 5, 6, 7)


def test_pil_greyscale_and_rgba_inputs() -> None:
    image = photo("chelsea")
    rgba = image.convert("RGBA")
    assert pdq_hash(rgba) == pdq_hash(image)
    grey = image.convert("L")
    assert pdq_hash(grey).digest == pdq_hash(np.asarray(grey)).digest


def test_tiny_and_flat_images_are_not_matchable() -> None:
    assert pdq_hash(np.zeros((4, 40, 3), dtype=np.uint8)).quality == 0
    flat = pdq_hash(np.full((200, 200, 3), 128, dtype=np.uint8))
    assert flat.quality < MIN_QUALITY and not flat.matchable


def test_bad_array_shape_names_the_problem() -> None:
    with pytest.raises(ValueError, match="RGB"):
        pdq_hash(np.zeros((10, 10, 2), dtype=np.uint8))
