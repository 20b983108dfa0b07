"""A real PostgreSQL server for the fingerprint store tests, and a `store` fixture that runs each test on
SQLite and on PostgreSQL.

The server is Debian's `postgresql` package (binaries in /usr/lib/postgresql/<version>/bin), initialised
into a fresh temporary directory and started on a free loopback port for the session. PostgreSQL refuses to
run as root, so as root it runs as the `postgres` user the package creates. In CI (CI set) a missing server
fails the tests; locally they are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiact_transparency.fingerprints import FingerprintStore, open_store

from ..tools import require_module

PG_ROOT = Path("/usr/lib/postgresql")
START_ATTEMPTS = 3  # a free port can be taken between our probe and the server's bind


@dataclass(frozen=True)
class PostgresServer:
    url: str
    data_dir: Path


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run must install the postgresql package")
    pytest.skip(reason)


def _bin_dir() -> Path | None:
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name) if
                   p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        _missing("runuser is not installed (needed to start PostgreSQL as a non-root user)")
    return ["runuser", "-u", "postgres", "--", *args]


def _run(args: list[str], log: Path | None = None) -> None:
    result = subprocess.run(_as_server_user(args), capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}{server_log}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        _missing(f"no PostgreSQL server under {PG_ROOT}")
    assert bin_dir is not None
    require_module("psycopg")
    root = Path(tempfile.mkdtemp(prefix="aiact-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    started = False
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "aiact", "-A", "trust", "-E", "UTF8",
              "--locale=C", "--no-sync"])
        for attempt in range(START_ATTEMPTS):
            port = _free_port()
            # Unix socket in our own directory, TCP on loopback only; fsync off: a test server holds no data.
            options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
            try:
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                      "start"], log)
                started = True
                break
            except RuntimeError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        yield PostgresServer(f"postgresql://aiact@127.0.0.1:{port}/postgres", data)
    finally:
        if started:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"])
        shutil.rmtree(root, ignore_errors=True)


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
