"""The fingerprint layer's seam: the detector asks the system's output log whether it holds the content.

The log itself (perceptual hashes in SQLite or PostgreSQL) lives in aiact_transparency.fingerprints; the
detector only needs `match`. A match is evidence that this system produced the content, with a distance and
the false-match rate measured for that distance on unmarked content, so a reader can weigh it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["OFF", "FingerprintIndex", "FingerprintMatch", "fingerprint_layer"]

OFF = "fingerprint log off: this deployment keeps no log of its outputs"


@dataclass(frozen=True)
class FingerprintMatch:
    distance: int  # Hamming distance of the perceptual hashes (0: the same hash, or an exact SHA-256 match)
    threshold: float  # the largest distance the index counts as a match (text: the smallest similarity)
    false_match_rate: float  # measured on the tests' unmarked set at `threshold`
    algorithm: str  # e.g. "pdq" or "sha256"
    # What the log holds about the stored output: media type, when it was served, manifest id, watermark
    # payload, route. Never the content itself.
    record: Mapping[str, Any] = field(default_factory=dict)
    measured_on: str = "the unmarked test set"
    similarity: float | None = None  # a text fingerprint (MinHash): the estimated Jaccard similarity, 0-1


@runtime_checkable
class FingerprintIndex(Protocol):
    """Anything that finds the closest stored output of this system; None when nothing is within reach."""

    def match(self, data: bytes, media_type: str) -> FingerprintMatch | None: ...


def fingerprint_layer(index: FingerprintIndex | None, data: bytes, media_type: str) -> dict[str, Any]:
    if index is None:
        return {"found": False, "checked": False, "ai_mark": False, "this_system": False, "based_on": OFF}
    found = index.match(data, media_type)
    if found is None:
        return {"found": False, "checked": True, "ai_mark": False, "this_system": False,
                "based_on": "no output within the match threshold in this system's fingerprint log"}
    layer = {
        "found": True,
        "checked": True,
        "ai_mark": True,  # the log holds this system's AI outputs only
        "this_system": True,
        "algorithm": found.algorithm,
        "distance": found.distance,
        "threshold": found.threshold,
        "false_match_rate": found.false_match_rate,
        "record": dict(found.record),
        "based_on": (f"{found.algorithm} fingerprint at distance {found.distance} (match threshold "
                     f"{found.threshold}) of an output in this system's log; false-match rate at that threshold "
                     f"{found.false_match_rate:.1e}, measured on {found.measured_on}"),
    }
    if found.similarity is not None:
        del layer["distance"]
        layer["similarity"] = found.similarity
        layer["based_on"] = (f"text fingerprint ({found.algorithm} of the words) {found.similarity:.2f} similar (match "
                             f"threshold {found.threshold:.2f}) to a text in this system's log; false-match rate at "
                             f"that threshold {found.false_match_rate:.1e}, measured on {found.measured_on}")
    return layer
