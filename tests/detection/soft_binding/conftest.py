"""The fingerprint tests' real PostgreSQL server and per-engine store URLs, for the resolution API's tests."""

from __future__ import annotations

from ...fingerprints.conftest import postgres_server, store_url

__all__ = ["postgres_server", "store_url"]
