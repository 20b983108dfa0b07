"""How fingerprint records map to the store's table rows, the same on both backends (_sqlite.py, _postgres.py):
the record's columns, the perceptual hashes' chunk rows and the text signatures' band rows of a batch, and the
chunk and band rows a purge deletes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .indexed import is_indexed
from .mih import chunk_key_matrix, chunk_keys
from .minhash import KIND as TEXT_KIND
from .minhash import band_keys
from .record import KINDS, FingerprintRecord

__all__ = ["COLUMNS", "band_rows", "chunk_rows", "purged_bands", "purged_chunks", "record_from_row", "row_values"]

COLUMNS = ("created_at", "kind", "perceptual", "quality", "sha256", "payload", "manifest_id", "media_type",
           "size", "route")


def chunk_rows(ids: Sequence[int], records: Sequence[FingerprintRecord]) -> list[tuple[int, int, bytes]]:
    """The fp_chunks rows of a batch: (key, fingerprint id, hash) for each chunk of each matchable hash, in
    key order, so the B-tree inserts walk the index once instead of jumping between random pages."""
    picked = [(fp_id, r.perceptual, KINDS[r.kind]) for fp_id, r in zip(ids, records, strict=True)
              if r.perceptual is not None and is_indexed(r.kind, r.perceptual, r.quality)]
    if not picked:
        return []
    digests = [digest for _, digest, _ in picked]
    keys = chunk_key_matrix(digests, [code for _, _, code in picked])
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    owner = (order // keys.shape[1]).tolist()  # which record each sorted key belongs to
    fp_ids = [picked[i][0] for i in owner]
    return list(zip(flat[order].tolist(), fp_ids, [digests[i] for i in owner], strict=True))


def band_rows(ids: Sequence[int], records: Sequence[FingerprintRecord]) -> list[tuple[int, int]]:
    """The fp_text_bands rows of a batch: (band key, fingerprint id) for each band of each text signature."""
    return sorted((key, fp_id) for fp_id, r in zip(ids, records, strict=True)
                  if r.kind == TEXT_KIND and r.perceptual is not None for key in band_keys(r.perceptual))


def purged_chunks(rows: Sequence[Sequence[Any]]) -> list[tuple[int, int]]:
    """(chunk key, fingerprint id) of the indexed hashes among purged (id, kind, perceptual, quality) rows: the
    fp_chunks rows to delete, found by their primary key (key, fp_id) recomputed from the hash, so no second
    index on fp_id is needed."""
    return [(key, int(fp_id)) for fp_id, kind, perceptual, quality in rows if is_indexed(kind, perceptual, quality)
            for key in chunk_keys(bytes(perceptual), KINDS[kind])]


def purged_bands(rows: Sequence[Sequence[Any]]) -> list[tuple[int, int]]:
    """(band key, fingerprint id) of the text records among purged (id, kind, perceptual, quality) rows."""
    return [(key, int(fp_id)) for fp_id, kind, perceptual, _ in rows
            if kind == TEXT_KIND and perceptual is not None for key in band_keys(bytes(perceptual))]


def row_values(record: FingerprintRecord) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in COLUMNS)


def record_from_row(row: Sequence[Any]) -> FingerprintRecord:
    values = dict(zip(COLUMNS, row[1:len(COLUMNS) + 1], strict=True))
    for name in ("perceptual", "sha256", "payload"):
        if values[name] is not None:
            values[name] = bytes(values[name])  # psycopg gives bytea as memoryview
    values["created_at"] = float(values["created_at"])
    return FingerprintRecord(**values)
