"""What `aiact-transparency fingerprints stats | purge | export` calls: the store's figures, the retention
purge (records and manifest stores alike), and a JSON Lines export for audits (one record per line, constant
memory; `--manifests` exports the kept manifest stores instead)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from .store import FingerprintStore

__all__ = ["export_jsonl", "export_manifests_jsonl", "purge_expired", "stats"]

_DAY = 86400.0


def stats(store: FingerprintStore) -> dict[str, Any]:
    return store.stats().to_dict()


def purge_expired(store: FingerprintStore, retention_days: float, *, now: float | None = None) -> int:
    """Delete what is older than the retention period; returns how many records went."""
    if retention_days <= 0:
        raise ValueError("retention_days must be positive")
    return store.purge((time.time() if now is None else now) - retention_days * _DAY)


def export_jsonl(store: FingerprintStore, *, since: float | None = None, until: float | None = None
                 ) -> Iterator[str]:
    """One JSON object per line (with its newline), oldest first; bytes as hex, times as ISO 8601 UTC."""
    for record in store.export(since, until):
        yield json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"


def export_manifests_jsonl(store: FingerprintStore, *, since: float | None = None, until: float | None = None
                           ) -> Iterator[str]:
    """The kept manifest stores (issue 18), one JSON object per line: id, time, the store base64."""
    for entry in store.export_manifests(since, until):
        yield json.dumps(entry.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"
