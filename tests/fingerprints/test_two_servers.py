"""Two server processes (real uvicorn subprocesses) share one real PostgreSQL fingerprint store: an image marked
through one is found by the other's detector, even with its metadata stripped and turned 90 degrees, where
only the fingerprint layer can still see it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..servers import free_port
from ..wired.flows import DETECT, layers_found, stripped
from .pg_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_store(postgres_server: PostgresServer) -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_server.url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _replica(store: str, keys: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "AIACT_SYSTEM__NAME": "Acme Studio", "AIACT_SYSTEM__PROVIDER": "Acme GmbH",
           "AIACT_SYSTEM__CONTACT": "mailto:ai@acme.example", "AIACT_FINGERPRINTS__ENABLED": "true",
           "AIACT_FINGERPRINTS__STORE": store, "AIACT_FINGERPRINTS__FLUSH_INTERVAL": "0.05",
           "AIACT_KEYS_DIR": str(keys)}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.wired.served_app:app", "--port", str(port),
                                "--lifespan", "on", "--log-level", "warning"], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{port}"


def _wait(process: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(base + "/.well-known/ai-disclosure", timeout=5)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the replica did not start: {process.communicate()[1]}") from None
            time.sleep(0.1)


def test_marked_by_one_replica_detected_by_the_other(pg_store: str, tmp_path: Path) -> None:
    replicas = [_replica(pg_store, tmp_path / "keys") for _ in range(2)]
    try:
        for process, base in replicas:
            _wait(process, base)
        (_, first), (_, second) = replicas
        marked = httpx.get(first + "/generate/astronaut", timeout=60)
        assert marked.status_code == 200 and marked.headers["content-type"] == "image/png"
        turned = stripped(marked.content, turn=True)
        result: dict[str, object] = {}
        for _ in range(100):  # the first replica's writer stores the record off the response path
            result = httpx.post(second + DETECT, content=turned, headers={"content-type": "image/jpeg"},
                                timeout=60).json()
            if result["verdict"] != "not-detected":
                break
            time.sleep(0.1)
        assert result["verdict"] == "generated-by-this-system" and result["based_on"] == ["fingerprint"]
        found = layers_found(result)
        assert found["fingerprint"] and not (found["c2pa"] or found["xmp"] or found["watermark"])
        record = result["layers"]["fingerprint"]["record"]  # type: ignore[index]
        assert record["route"] == "/generate/astronaut" and record["manifest_id"].startswith("urn:")
    finally:
        for process, _ in replicas:
            process.terminate()
        for process, _ in replicas:
            process.communicate(timeout=30)
