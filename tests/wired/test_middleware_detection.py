"""Issue 11 end to end on SQLite: an image marked through the middleware's route is logged, and the detector
the same middleware serves finds it by watermark after a metadata strip + JPEG q70, by fingerprint alone after
a 90-degree turn, and finds nothing in an unmarked image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.fingerprints import export_jsonl, open_store

from ..servers import serve
from .flows import DETECT, SYSTEM, image_app, layers_found, photo_png, stripped


@pytest.fixture
def config(tmp_path: Path) -> TransparencyConfig:
    store = f"sqlite:///{tmp_path / 'log' / 'fingerprints.db'}"
    return TransparencyConfig(system=SYSTEM, fingerprints={"enabled": True, "store": store, "flush_interval": 0.05})


@pytest.fixture
def base(config: TransparencyConfig) -> Iterator[str]:
    app = image_app(config)
    with serve(app, lifespan="on") as url:
        yield url
    assert app.output_log is not None and app.output_log._closed  # lifespan shutdown wrote it out and closed it


def detect(base: str, data: bytes) -> dict[str, object]:
    response = httpx.post(base + DETECT, content=data, headers={"content-type": "image/jpeg"}, timeout=60)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_marked_output_is_logged_and_detected_after_strips(base: str, config: TransparencyConfig) -> None:
    marked = httpx.get(base + "/generate/astronaut?prompt=secret-prompt", timeout=60)
    assert marked.status_code == 200 and marked.headers["content-type"] == "image/png"
    # Wait until the writer has the record (the response never waited for it).
    with open_store(config.fingerprints.store) as store:
        for _ in range(200):
            if store.stats().records:
                break
            httpx.get(base + "/.well-known/ai-disclosure", timeout=10)  # let time pass without sleeping blind
        records = list(export_jsonl(store))
    assert len(records) == 1
    line = records[0]
    assert '"route":"/generate/astronaut"' in line and "secret-prompt" not in line and "127.0.0.1" not in line
    assert '"manifest_id":"urn:' in line and '"payload":"' in line

    as_served = detect(base, marked.content)
    assert as_served["verdict"] == "generated-by-this-system"
    assert {"metadata", "watermark", "fingerprint"} <= set(as_served["based_on"])  # type: ignore[arg-type]

    recompressed = detect(base, stripped(marked.content, quality=70))
    assert recompressed["verdict"] == "generated-by-this-system"
    assert layers_found(recompressed)["watermark"] and not layers_found(recompressed)["c2pa"]

    turned = detect(base, stripped(marked.content, turn=True))
    assert turned["verdict"] == "generated-by-this-system" and turned["based_on"] == ["fingerprint"]
    fingerprint = turned["layers"]["fingerprint"]  # type: ignore[index]
    assert fingerprint["found"] and fingerprint["distance"] <= fingerprint["threshold"] == 31
    assert fingerprint["record"]["route"] == "/generate/astronaut"

    unmarked = detect(base, stripped(photo_png("coffee")))
    assert unmarked["verdict"] == "not-detected" and not any(layers_found(unmarked).values())
    assert unmarked["layers"]["fingerprint"]["checked"]  # type: ignore[index]


def test_detector_can_be_switched_off(tmp_path: Path) -> None:
    app = image_app(TransparencyConfig(system=SYSTEM, detection={"enabled": False}))
    with serve(app) as url:
        assert httpx.get(url + DETECT).status_code == 404
    assert app.detection is None and app.output_log is None
