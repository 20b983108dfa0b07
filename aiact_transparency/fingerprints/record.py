"""What the fingerprint log keeps for one marked output, and what a lookup answers.

Output data only: hashes of the bytes served, what the marks carry, the media type, size, time and route
template. Never a prompt, a client address, a user id or the content itself.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from .minhash import KIND as TEXT_KIND
from .minhash import SIGNATURE_BYTES, TextSignature
from .pdq import HASH_BYTES, PdqHash

__all__ = ["KINDS", "FingerprintRecord", "Match", "record_for", "text_record_for"]

# Perceptual hash algorithms by name, each with a small code that keeps its index keys apart. Audio and video
# will bring their own kinds; "none" marks outputs logged by SHA-256 only. "minhash": text (minhash.py), indexed
# in its own band table.
KINDS: dict[str, int] = {"none": 0, "pdq": 1, TEXT_KIND: 2}
_MAX_PAYLOAD = 64
_MAX_TEXT = 512


@dataclass(frozen=True)
class FingerprintRecord:
    sha256: bytes  # of the marked bytes as served
    media_type: str
    size: int
    kind: str = "pdq"
    perceptual: bytes | None = None  # the perceptual hash of `kind` (PDQ: 32 bytes)
    quality: int | None = None
    payload: bytes | None = None  # the watermark payload word as embedded
    manifest_id: str | None = None  # the C2PA active manifest's label
    route: str | None = None  # the route (path template), never a query string
    created_at: float = field(default_factory=time.time)  # seconds since the epoch, UTC

    def __post_init__(self) -> None:
        if len(self.sha256) != 32:
            raise ValueError(f"sha256 must be 32 bytes, got {len(self.sha256)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown fingerprint kind {self.kind!r}; known: {', '.join(sorted(KINDS))}")
        if self.kind == "pdq" and self.perceptual is not None and len(self.perceptual) != HASH_BYTES:
            raise ValueError(f"a PDQ hash is {HASH_BYTES} bytes, got {len(self.perceptual)}")
        if self.kind == TEXT_KIND and self.perceptual is not None and len(self.perceptual) != SIGNATURE_BYTES:
            raise ValueError(f"a text MinHash signature is {SIGNATURE_BYTES} bytes, got {len(self.perceptual)}")
        if self.kind == "none" and self.perceptual is not None:
            raise ValueError("kind 'none' carries no perceptual hash")
        if self.payload is not None and not 0 < len(self.payload) <= _MAX_PAYLOAD:
            raise ValueError(f"payload must be 1-{_MAX_PAYLOAD} bytes")
        if self.size < 0:
            raise ValueError("size must not be negative")
        for name in ("media_type", "manifest_id", "route"):
            value = getattr(self, name)
            if value is not None and len(value) > _MAX_TEXT:
                raise ValueError(f"{name} is longer than {_MAX_TEXT} characters")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (exports): bytes as lowercase hex, the time as an ISO 8601 UTC string."""
        return {
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at)),
            "kind": self.kind,
            "perceptual": self.perceptual.hex() if self.perceptual is not None else None,
            "quality": self.quality,
            "sha256": self.sha256.hex(),
            "payload": self.payload.hex() if self.payload is not None else None,
            "manifest_id": self.manifest_id,
            "media_type": self.media_type,
            "size": self.size,
            "route": self.route,
        }


@dataclass(frozen=True)
class Match:
    """One stored record found by a lookup: how (exact field or perceptual) and, when perceptual, at what
    Hamming distance and through which rotation/flip of the query, in PDQ's dihedral order (0: as given;
    3: the query turned 270 degrees matches, i.e. the output had been turned 90 degrees)."""

    record: FingerprintRecord
    by: str  # "sha256" | "payload" | "manifest_id" | "perceptual" | "text"
    distance: int | None = None
    variant: int | None = None
    similarity: float | None = None  # by "text": the estimated Jaccard similarity of the word shingles
    # Whether the log keeps the signed manifest store the record names (read in the same statement as the
    # record, so the soft-binding API needs no second round trip); None when the lookup did not read it.
    manifest_kept: bool | None = None


def record_for(
    data: bytes,
    media_type: str,
    *,
    pdq: PdqHash | None = None,
    payload: bytes | None = None,
    manifest_id: str | None = None,
    route: str | None = None,
) -> FingerprintRecord:
    """The record of marked bytes; `pdq` is the hash of the image as served (see `pdq.pdq_hash`)."""
    return FingerprintRecord(
        sha256=hashlib.sha256(data).digest(),
        media_type=media_type,
        size=len(data),
        kind="pdq" if pdq is not None else "none",
        perceptual=pdq.digest if pdq is not None else None,
        quality=pdq.quality if pdq is not None else None,
        payload=payload,
        manifest_id=manifest_id,
        route=route,
    )


def text_record_for(
    text: str,
    *,
    signature: TextSignature | None,
    manifest_id: str | None = None,
    route: str | None = None,
) -> FingerprintRecord:
    """The record of a marked text as served (wrapper included: its SHA-256 is of those UTF-8 bytes); the
    MinHash signature only when the text is long enough to carry one (`TextSignature.indexable`)."""
    data = text.encode("utf-8", "surrogatepass")
    indexed = signature is not None and signature.indexable
    return FingerprintRecord(
        sha256=hashlib.sha256(data).digest(),
        media_type="text/plain",
        size=len(data),
        kind=TEXT_KIND if indexed else "none",
        perceptual=signature.digest if signature is not None and indexed else None,
        manifest_id=manifest_id,
        route=route,
    )
