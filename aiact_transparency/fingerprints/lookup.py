"""Lookups as the detection service asks them: exact first (SHA-256, watermark payload, manifest id), then
the nearest perceptual match over the query image's 8 rotations and flips; for a text, SHA-256 then the most
similar stored text by MinHash (`lookup_text`). `lookup_async` runs the same in a
worker thread, so a database round trip never holds the event loop."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from numpy.typing import NDArray
from PIL import Image

from .minhash import MATCH_SIMILARITY, MIN_QUERY_WORDS, text_signature
from .pdq import MATCH_THRESHOLD, dihedral_hashes, pdq_hash
from .record import Match
from .store import FingerprintStore

__all__ = ["LookupAnswer", "lookup", "lookup_async", "lookup_text"]


@dataclass(frozen=True)
class LookupAnswer:
    matches: tuple[Match, ...]
    searched: tuple[str, ...]  # what it rests on: "sha256", "payload", "manifest_id", "perceptual", "text"
    quality: int | None = None  # the query image's PDQ quality, when it was hashed
    note: str | None = None  # e.g. why no perceptual search ran


def lookup(
    store: FingerprintStore,
    *,
    data: bytes | None = None,
    image: Image.Image | NDArray[Any] | None = None,
    payload: bytes | None = None,
    manifest_id: str | None = None,
    max_distance: int = MATCH_THRESHOLD,
    dihedral: bool = True,
    limit: int = 10,
) -> LookupAnswer:
    searched: list[str] = []
    for field, value in (("sha256", hashlib.sha256(data).digest() if data is not None else None),
                         ("payload", payload), ("manifest_id", manifest_id)):
        if value is None:
            continue
        searched.append(field)
        found = store.find_exact(field, value, limit)
        if found:
            return LookupAnswer(tuple(found), tuple(searched))
    if image is None:
        return LookupAnswer((), tuple(searched))
    hashes = dihedral_hashes(image) if dihedral else (pdq_hash(image),)
    quality = hashes[0].quality
    if not hashes[0].matchable:
        note = f"PDQ quality {quality} is below 50: too featureless for a perceptual match"
        return LookupAnswer((), tuple(searched), quality, note)
    searched.append("perceptual")
    found = store.nearest([h.digest for h in hashes], max_distance=max_distance, limit=limit)
    return LookupAnswer(tuple(found), tuple(searched), quality)


def lookup_text(store: FingerprintStore, text: str, *, data: bytes | None = None,
                min_similarity: float = MATCH_SIMILARITY, limit: int = 10) -> LookupAnswer:
    """`text` as submitted (`data`: its bytes, for the exact SHA-256 lookup; default its UTF-8): an exact copy
    first, then stored texts whose word shingles are at least `min_similarity` alike."""
    raw = data if data is not None else text.encode("utf-8", "surrogatepass")
    found = store.find_exact("sha256", hashlib.sha256(raw).digest(), limit)
    if found:
        return LookupAnswer(tuple(found), ("sha256",))
    signature = text_signature(text)
    if signature is None or signature.words < MIN_QUERY_WORDS:
        words = signature.words if signature is not None else 0
        return LookupAnswer((), ("sha256",), note=f"{words} words: a text fingerprint needs at least "
                                                  f"{MIN_QUERY_WORDS} to compare")
    matches = store.similar_texts(signature.digest, min_similarity=min_similarity, limit=limit)
    return LookupAnswer(tuple(matches), ("sha256", "text"))


async def lookup_async(store: FingerprintStore, **query: Any) -> LookupAnswer:
    answer: LookupAnswer = await anyio.to_thread.run_sync(partial(lookup, store, **query))
    return answer
