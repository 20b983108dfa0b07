"""The detector's fingerprint layer over this system's output log (aiact_transparency.fingerprints).

`StoreIndex` implements `FingerprintIndex`: an exact SHA-256 match first, then the nearest PDQ hash over the
query's 8 rotations and flips within `fingerprints.max_distance`; for text, the most similar stored text by
MinHash (fingerprints/minhash.py). It runs in the detector's worker thread.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from ..config.fingerprints import FingerprintSettings
from ..fingerprints.lookup import lookup, lookup_text
from ..fingerprints.minhash import MATCH_SIMILARITY, SHINGLE_WORDS
from ..fingerprints.record import Match
from ..fingerprints.store import FingerprintStore
from .fingerprint import FingerprintMatch

__all__ = ["UNMARKED_TEST_IMAGES", "UNRELATED_TEST_PASSAGES", "StoreIndex", "decode_submitted"]

# tests/fingerprints/test_matching.py looks up at least UNMARKED_TEST_IMAGES varied unmarked images (8
# orientations each) against marked outputs and finds 0 matches at the reference threshold; and it compares
# every pair of at least UNRELATED_IMAGE_PAIRS unrelated images (crops of different photographs, generated
# images; one as stored, the other as a query in 8 orientations) and finds none within the threshold (the
# closest is far above it). With 0 of n, the 95 % upper bound of the rate is 3 / n (the "rule of three"); per
# stored output compared, so a lookup in a log of N outputs is bounded by N times that. Crops of one photograph
# share content, so fewer than n of the pairs are independent trials: the bound is indicative, not exact.
UNMARKED_TEST_IMAGES = 200
UNRELATED_IMAGE_PAIRS = 900_000
FALSE_MATCH_BOUND = 3 / UNRELATED_IMAGE_PAIRS
_MEASURED_ON = (f"{UNRELATED_IMAGE_PAIRS:,} pairs of unrelated images x 8 orientations, 0 within the threshold "
                "(95 % upper bound per stored output compared, rule of three; a log of N outputs: up to N times it)")
# tests/fingerprints/test_text.py compares at least this many unrelated passages (texts shipped with Python
# and its installed packages, exact shingle Jaccard below 0.1 to each other) with each other's fingerprints
# and finds 0 at MATCH_SIMILARITY: per query, the 95 % upper bound of the false-match rate is 3 / n.
UNRELATED_TEST_PASSAGES = 1500
TEXT_FALSE_MATCH_BOUND = 3 / UNRELATED_TEST_PASSAGES
_TEXT_MEASURED_ON = (f"{UNRELATED_TEST_PASSAGES} unrelated passages, each looked up among the others, 0 false "
                     f"matches (95 % upper bound, rule of three); {SHINGLE_WORDS}-word shingles")
TEXT_TYPE = "text/plain"
MAX_PIXELS = 50_000_000  # a submitted image larger than this is looked up by SHA-256 only


class StoreIndex:
    def __init__(self, store: FingerprintStore, settings: FingerprintSettings) -> None:
        self.store = store
        self.settings = settings

    def match(self, data: bytes, media_type: str) -> FingerprintMatch | None:
        if media_type == TEXT_TYPE:
            return self._match_text(data)
        image = _decode(data) if media_type.startswith("image/") else None
        try:
            answer = lookup(self.store, data=data, image=image, max_distance=self.settings.max_distance,
                            dihedral=self.settings.dihedral, limit=1)
        finally:
            if image is not None:
                image.close()
        if not answer.matches:
            return None
        return _as_match(answer.matches[0], self.settings.max_distance)


    def _match_text(self, data: bytes) -> FingerprintMatch | None:
        text = data.decode("utf-8", "replace")  # the detector only sends text it could decode
        answer = lookup_text(self.store, text, data=data, limit=1)
        if not answer.matches:
            return None
        found = answer.matches[0]
        if found.similarity is None:  # an exact copy
            return _as_match(found, 0)
        described = {key: value for key, value in found.record.to_dict().items() if key not in ("perceptual",
                                                                                               "quality")}
        described["matched_by"] = "text"
        return FingerprintMatch(distance=0, threshold=MATCH_SIMILARITY, false_match_rate=TEXT_FALSE_MATCH_BOUND,
                                algorithm=found.record.kind, record=described, measured_on=_TEXT_MEASURED_ON,
                                similarity=round(found.similarity, 3))


def _decode(data: bytes) -> Image.Image | None:
    """The submitted image's pixels, or None (truncated, a bomb, unreadable): then SHA-256 alone is looked up."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                image.close()
                return None
            image.load()
        return image
    except Exception:  # whatever Pillow raises on hostile input: the other layers already said what they could
        return None


decode_submitted = _decode  # the same guarded decoding for the Soft Binding Resolution API's uploads


def _as_match(found: Match, threshold: int) -> FingerprintMatch:
    record = found.record
    exact = found.by != "perceptual"
    described = {key: value for key, value in record.to_dict().items() if key not in ("perceptual", "quality")}
    described["matched_by"] = found.by
    if found.variant:
        described["orientation"] = f"rotated or flipped (PDQ dihedral variant {found.variant})"
    return FingerprintMatch(
        distance=0 if exact else int(found.distance or 0),
        threshold=0 if exact else threshold,
        false_match_rate=0.0 if exact else FALSE_MATCH_BOUND,
        algorithm=found.by if exact else record.kind,
        record=described,
        measured_on="exact equality of the value" if exact else _MEASURED_ON,
    )
