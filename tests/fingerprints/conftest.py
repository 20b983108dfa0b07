"""A real PostgreSQL server for the fingerprint store tests, and a `store` fixture that runs each test on
SQLite and on PostgreSQL.

The server is Debian's `postgresql` package, started once per session by pg_server.py. In CI (CI set) a
missing server fails the tests; locally they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiact_transparency.fingerprints import FingerprintStore, open_store

from ..tools import require_module
from .pg_server import PostgresServer, PostgresUnavailable, start_postgres


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run must install the postgresql package")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require_module("psycopg")
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        _missing(str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's URL: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fingerprints.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server.url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(store_url: str) -> Iterator[FingerprintStore]:
    with open_store(store_url) as opened:
        yield opened
