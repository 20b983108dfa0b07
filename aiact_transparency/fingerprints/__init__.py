"""The fingerprint log: perceptual hashes (PDQ) and exact hashes of marked outputs, stored in SQLite or
PostgreSQL, written in the background and looked up by exact value or by Hamming distance (multi-index
hashing). Output data only; off unless `fingerprints.enabled`."""

from __future__ import annotations

from ..config.fingerprints import FingerprintSettings
from .audit import export_jsonl, export_manifests_jsonl, purge_expired, stats
from .engines import open_store
from .lookup import LookupAnswer, lookup, lookup_async
from .manifests import ManifestEntry
from .pdq import MATCH_THRESHOLD, MIN_QUALITY, PdqHash, dihedral_hashes, hamming, pdq_hash
from .record import FingerprintRecord, Match, record_for
from .store import FingerprintStore, StoreError, StoreStats
from .writer import FingerprintWriter, WriterCounters

__all__ = [
    "MATCH_THRESHOLD",
    "MIN_QUALITY",
    "FingerprintRecord",
    "FingerprintSettings",
    "FingerprintStore",
    "FingerprintWriter",
    "LookupAnswer",
    "ManifestEntry",
    "Match",
    "PdqHash",
    "StoreError",
    "StoreStats",
    "WriterCounters",
    "dihedral_hashes",
    "export_jsonl",
    "export_manifests_jsonl",
    "hamming",
    "lookup",
    "lookup_async",
    "open_store",
    "pdq_hash",
    "purge_expired",
    "record_for",
    "stats",
]
