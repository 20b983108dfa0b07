"""The detector's fingerprint layer over this system's output log (aiact_transparency.fingerprints).

`StoreIndex` implements `FingerprintIndex`: an exact SHA-256 match first, then the nearest PDQ hash over the
query's 8 rotations and flips within `fingerprints.max_distance`. It runs in the detector's worker thread.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from ..config.fingerprints import FingerprintSettings
from ..fingerprints.lookup import lookup
from ..fingerprints.record import Match
from ..fingerprints.store import FingerprintStore
from .fingerprint import FingerprintMatch

__all__ = ["UNMARKED_TEST_IMAGES", "StoreIndex", "decode_submitted"]

# tests/fingerprints/test_matching.py looks up at least this many varied unmarked images (8 orientations
# each) against the marked outputs and finds 0 matches at the reference threshold; with 0 of n, the 95 %
# upper bound of the false-match rate is 3 / n (the "rule of three"). That bound is what a match reports.
UNMARKED_TEST_IMAGES = 200
FALSE_MATCH_BOUND = 3 / UNMARKED_TEST_IMAGES
_MEASURED_ON = (f"{UNMARKED_TEST_IMAGES} varied unmarked test images x 8 orientations, 0 false matches "
                "(95 % upper bound, rule of three)")
MAX_PIXELS = 50_000_000  # a submitted image larger than this is looked up by SHA-256 only


class StoreIndex:
    def __init__(self, store: FingerprintStore, settings: FingerprintSettings) -> None:
        self.store = store
        self.settings = settings

    def match(self, data: bytes, media_type: str) -> FingerprintMatch | None:
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
