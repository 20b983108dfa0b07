"""Lookups as the detection service asks them: exact first (SHA-256, watermark payload, manifest id), then
the nearest perceptual match over the query image's 8 rotations and flips. `lookup_async` runs the same in a
worker thread, so a database round trip never holds the event loop."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from numpy.typing import NDArray
from PIL import Image

from .pdq import MATCH_THRESHOLD, dihedral_hashes, pdq_hash
from .record import Match
from .store import FingerprintStore

__all__ = ["LookupAnswer", "lookup", "lookup_async"]


@dataclass(frozen=True)
class LookupAnswer:
    matches: tuple[Match, ...]
    searched: tuple[str, ...]  # what the answer rests on: "sha256", "payload", "manifest_id", "perceptual"
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


async def lookup_async(store: FingerprintStore, **query: Any) -> LookupAnswer:
    answer: LookupAnswer = await anyio.to_thread.run_sync(partial(lookup, store, **query))
    return answer
