"""Soft binding -> manifest ids, and manifest id -> manifest store, over this system's output log.

The queries of the C2PA Soft Binding Resolution API (its OpenAPI document: /matches/byBinding,
/matches/byContent, /manifests/{manifestId}), answered from `fingerprints/`: the watermark payload is an exact
lookup of fp_fingerprints.payload, the PDQ hash a Hamming search (multi-index hashing), both followed by the
manifest ids' presence in fp_manifests (a record whose store was never kept is not offered). Runs in worker
threads: every call here may wait for the database.

Answers are `c2pa.softBindingQueryResult` match objects: manifestId and similarityScore (0-100, "the strength
of match ... where 0 is the weakest possible match and 100 is the strongest"): 100 for a watermark payload or
an exact SHA-256, round(100 * (256 - distance) / 256) for a PDQ match at Hamming `distance`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...fingerprints.lookup import lookup
from ...fingerprints.record import Match
from ...provenance.c2pa.jumbf import active_manifest_only
from ...provenance.formats import FORMATS, sniff_media_type, types_of
from ...provenance.payload import WatermarkPayload
from ..local import IMAGE_TYPES, UnsupportedContent
from ..output_log import decode_submitted
from .algorithms import (
    AUDIO_WATERMARK_ALG,
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    WATERMARK_MEDIA,
    BindingError,
    check_alg,
    decode_value,
)

if TYPE_CHECKING:
    from ...config import TransparencyConfig
    from ...fingerprints.store import FingerprintStore

__all__ = ["CONTENT_TYPES", "MAX_RESULTS", "Resolver", "hint_of", "payload_word", "similarity"]

# What by_content reads, in the registry's order: images (watermark, PDQ fingerprint, an embedded manifest) and
# audio (its watermark, an embedded manifest). A video resolves by binding only (its watermark id), not by content.
CONTENT_TYPES = (*IMAGE_TYPES, *(fmt.media_type for fmt in FORMATS if fmt.medium == "audio"))
MAX_RESULTS = 100  # maxResults beyond this is served as this many (the spec sets a minimum of 1, no maximum)
_PDQ_BITS = 256


def similarity(match: Match) -> int:
    if match.by != "perceptual":
        return 100
    return round(100 * (_PDQ_BITS - int(match.distance or 0)) / _PDQ_BITS)


class Resolver:
    def __init__(self, config: TransparencyConfig, store: FingerprintStore) -> None:
        self.config = config
        self.store = store
        self.settings = config.fingerprints

    def _answer(self, scored: Iterable[tuple[str | None, int]], limit: int, *, kept: set[str] | None = None
                ) -> list[dict[str, Any]]:
        """Best score per manifest id, kept ids only, strongest first (ties: as found, i.e. newest first). `kept`:
        which ids are kept, when the lookup read it with the records (else one more query asks)."""
        best: dict[str, int] = {}
        for manifest_id, score in scored:
            if manifest_id and score > best.get(manifest_id, -1):
                best[manifest_id] = score
        if kept is None:
            kept = self.store.kept_manifests(list(best))
        ranked = sorted((m for m in best if m in kept), key=lambda m: -best[m])
        return [{"manifestId": m, "similarityScore": best[m]} for m in ranked[:limit]]

    def by_binding(self, alg: str, value: str, limit: int) -> list[dict[str, Any]]:
        """Raises BindingError for an unknown alg or a malformed value."""
        raw = decode_value(alg, value)
        if alg in WATERMARK_MEDIA:  # the payload word, of an output of the alg's own medium
            found = [m for m in self.store.find_exact("payload", raw, limit * 2, manifests=True)
                     if m.record.media_type.startswith(WATERMARK_MEDIA[alg])]
        else:
            found = self.store.nearest([raw], max_distance=self.settings.max_distance, limit=limit * 2, manifests=True)
        # The records were read with whether their manifest store is kept: no second round trip.
        known = all(m.manifest_kept is not None for m in found)
        kept = {m.record.manifest_id for m in found if m.manifest_kept and m.record.manifest_id} if known else None
        return self._answer(((m.record.manifest_id, similarity(m)) for m in found), limit, kept=kept)

    def by_content(self, data: bytes, limit: int, *, alg: str | None = None,
                   hint: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """Our watermark detector on the upload (held in memory only) and, for an image, the fingerprint lookup,
        plus the manifest id of a manifest it still carries, plus the hint binding when one is given. `alg` limits
        the search to that algorithm. Raises BindingError (a bad alg or hint) or UnsupportedContent."""
        from ...provenance.verify import verify

        if alg is not None:
            check_alg(alg)
        scored: list[tuple[str | None, int]] = []
        if hint is not None:
            scored += [(m["manifestId"], m["similarityScore"]) for m in self.by_binding(hint[0], hint[1], limit)]
        media_type = sniff_media_type(data) or ""
        audio = media_type in types_of("audio")
        if media_type not in CONTENT_TYPES:
            audio_types = ", ".join(sorted(types_of("audio")))
            raise UnsupportedContent(f"{media_type or 'unrecognised'} content cannot be resolved here; this service "
                                     f"reads {', '.join(IMAGE_TYPES)} and audio ({audio_types})")
        report = verify(data, config=self.config)
        if alg is None and report.c2pa.get("manifest_id"):
            scored.append((str(report.c2pa["manifest_id"]), 100))  # still embedded: the exact manifest
        word = payload_word(report.watermark)
        own = AUDIO_WATERMARK_ALG if audio else WATERMARK_ALG
        if alg in (None, own) and word is not None:
            scored += [(m.record.manifest_id, 100) for m in self.store.find_exact("payload", word, limit * 2)
                       if m.record.media_type.startswith(WATERMARK_MEDIA[own])]
        if alg in (None, FINGERPRINT_ALG) and not audio:
            image = decode_submitted(data)
            try:
                answer = lookup(self.store, data=data, image=image, max_distance=self.settings.max_distance,
                                dihedral=self.settings.dihedral, limit=limit * 2)
            finally:
                if image is not None:
                    image.close()
            scored += [(m.record.manifest_id, similarity(m)) for m in answer.matches]
        return self._answer(scored, limit)

    def manifest(self, manifest_id: str, *, active_only: bool = False) -> bytes | None:
        store = self.store.get_manifest(manifest_id)
        if store is None or not active_only:
            return store
        return active_manifest_only(store)


def payload_word(section: dict[str, Any]) -> bytes | None:
    """The 10 embedded bytes of a watermark `verify` found (images name the item image_id, audio item_id)."""
    payload = section.get("payload") if section.get("found") else None
    if not isinstance(payload, dict):
        return None
    item = payload.get("image_id", payload.get("item_id"))
    return WatermarkPayload(int(payload["system_id"]), int(item)).to_bytes() if item is not None else None


def hint_of(alg: str | None, value: str | None) -> tuple[str, str] | None:
    """hintAlg and hintValue come together or not at all."""
    if alg is None and value is None:
        return None
    if alg is None or value is None:
        raise BindingError("hintAlg and hintValue go together: give both or neither")
    return alg, value

