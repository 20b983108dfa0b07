"""The store backend a URL names, imported only when chosen (psycopg is an optional extra).

Kept apart from store.py, which both backends import: choosing one there would be an import circle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .store import FingerprintStore

__all__ = ["check_store_url", "open_store"]


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


def check_store_url(url: str) -> str | None:
    """Without opening the store: None when it can be opened, else the problem in words. The PostgreSQL driver
    missing raises ImportError naming the `postgres` extra; a database that is down is not a start-up error
    (the writer retries and responses never wait for it)."""
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import _import_pool

        _import_pool()
        return None
    path = Path(url[len("sqlite:///"):])
    if path.is_dir():
        return f"{path} is a folder; name the database file, e.g. sqlite:///{path / 'fingerprints.db'}"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the first folder that exists must be writable
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} cannot hold {path} (not a writable folder)"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"{path} exists but is not readable and writable"
    return None
