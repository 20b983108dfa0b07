"""The signed manifest stores the log keeps beside the fingerprints (issue 18: C2PA Soft Binding Resolution).

Every marked output's manifest store (the JUMBF bytes embedded in it, `application/c2pa`) is kept under its
active manifest's label in `fp_manifests`, written by the same background writer as the fingerprint records
and purged by the same retention rule (`created_at`), so a stripped copy of the output can be resolved from
its watermark payload or its perceptual hash to the manifest that was signed for it. Output data only: the
store is what was served inside the output itself.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_MANIFEST_ID", "MAX_STORE_BYTES", "ManifestEntry", "manifest_entry_of"]

MAX_MANIFEST_ID = 512  # as FingerprintRecord.manifest_id
MAX_STORE_BYTES = 16 * 1024 * 1024  # a store with thumbnails and ingredients stays far below this


@dataclass(frozen=True)
class ManifestEntry:
    manifest_id: str  # the active manifest's label (a URN such as urn:c2pa:<uuid>)
    store: bytes = field(repr=False)  # the signed C2PA manifest store (JUMBF)
    created_at: float = field(default_factory=time.time)  # the output's time, so retention treats both alike

    def __post_init__(self) -> None:
        if not 0 < len(self.manifest_id) <= MAX_MANIFEST_ID:
            raise ValueError(f"manifest_id must be 1-{MAX_MANIFEST_ID} characters")
        if not 0 < len(self.store) <= MAX_STORE_BYTES:
            raise ValueError(f"a manifest store must be 1-{MAX_STORE_BYTES} bytes, got {len(self.store)}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of exports: the store base64 (RFC 4648 section 4), the time ISO 8601 UTC."""
        return {
            "manifest_id": self.manifest_id,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at)),
            "store": base64.b64encode(self.store).decode("ascii"),
            "store_bytes": len(self.store),
        }


def manifest_entry_of(report: Any, created_at: float) -> ManifestEntry | None:
    """The entry of one marked output, when its marker kept the signed store (images, audio, video); else None."""
    store, label = getattr(report, "manifest_store", None), getattr(report, "manifest_id", None)
    if not isinstance(store, bytes) or not store or not isinstance(label, str) or not label:
        return None
    return ManifestEntry(label, store, created_at)
