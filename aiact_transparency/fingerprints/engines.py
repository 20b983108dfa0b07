"""The store backend a URL names, imported only when chosen (psycopg is an optional extra).

Kept apart from store.py, which both backends import: choosing one there would be an import circle.
"""

from __future__ import annotations

from typing import Any

from .store import FingerprintStore

__all__ = ["open_store"]


def open_store(url: str, **options: Any) -> FingerprintStore:
    """`sqlite:///path/to/file.db` (embedded, WAL) or `postgresql://user@host/db` (psycopg 3 with a pool)."""
    if url.startswith("sqlite:///"):
        from ._sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///"):], **options)
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresStore

        return PostgresStore(url, **options)
    raise ValueError(
        f"unsupported fingerprint store {url.split(':', 1)[0]!r}: use sqlite:///path/to/fingerprints.db "
        "or postgresql://user@host/dbname"
    )
