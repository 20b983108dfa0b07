"""docker/compose.yaml (no Docker engine here to run it: buildah only): two app replicas share one PostgreSQL
fingerprint log; the file parses, and the settings it passes are real config keys that load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiact_transparency import TransparencyConfig

COMPOSE = Path(__file__).resolve().parents[1] / "docker" / "compose.yaml"
REPLICAS = ("demo", "demo-2")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # merge keys (<<) resolved
    found: dict[str, Any] = document["services"]
    return found


def _interpolated(value: str) -> str:
    """Compose's ${NAME:-default} with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_two_replicas_share_one_postgres_log(services: dict[str, Any]) -> None:
    assert set(REPLICAS) | {"postgres"} <= set(services)
    stores = {_interpolated(services[name]["environment"]["AIACT_FINGERPRINTS__STORE"]) for name in REPLICAS}
    (store,) = stores
    assert store.startswith("postgresql://aiact:") and "@postgres:5432/aiact" in store
    for name in REPLICAS:
        service = services[name]
        assert "postgres" in service["build"]["args"]["EXTRAS"].split(",")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "aiact-keys:/var/lib/aiact/keys" in service["volumes"]  # one signing identity for both
    assert services["demo-2"]["depends_on"]["demo"]["condition"] == "service_healthy"
    ports = [services[name]["ports"][0].rsplit(":", 1)[0] for name in REPLICAS]
    assert len(set(ports)) == 2 and all(p.startswith("127.0.0.1:") for p in ports)
    database = services["postgres"]
    assert "ports" not in database and database["healthcheck"]["test"][0] == "CMD-SHELL"
    password = _interpolated(database["environment"]["POSTGRES_PASSWORD"])
    assert f"aiact:{password}@" in store


def test_replica_environment_loads_as_config(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in services["demo"]["environment"].items():
        monkeypatch.setenv(name, _interpolated(str(value)))
    config = TransparencyConfig()
    assert config.fingerprints.enabled and config.fingerprints.describe()["engine"] == "postgresql"
    assert config.images.on_error == "fail-closed"
