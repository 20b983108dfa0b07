"""Issue 18 end to end on a real uvicorn server, on SQLite and on PostgreSQL: an image marked through the
middleware keeps its signed manifest store in the log; a copy stripped of metadata and re-encoded as JPEG q70
gets its credentials back through the watermark with `verify --recover --url`, c2pa saying that the hard
binding no longer matches; a copy turned 90 degrees (watermark gone) through the fingerprint; an unmarked image
finds nothing. The stores the API serves are read back by c2pa-python's own Reader."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import c2pa
import httpx
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.cli import main
from aiact_transparency.fingerprints import open_store

from ...servers import serve
from ...wired.flows import SYSTEM, image_app, photo_png, stripped

API = "/.well-known/ai-disclosure/c2pa/v1"


@pytest.fixture
def config(store_url: str) -> TransparencyConfig:
    return TransparencyConfig(system=SYSTEM, fingerprints={"enabled": True, "store": store_url, "flush_interval": 0.05})


@pytest.fixture
def base(config: TransparencyConfig) -> Iterator[str]:
    with serve(image_app(config), lifespan="on") as url:
        yield url


def marked_output(base: str, config: TransparencyConfig) -> bytes:
    response = httpx.get(base + "/generate/astronaut", timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with open_store(config.fingerprints.store) as store:
        for _ in range(300):  # the writer stores it after the response: let time pass without sleeping blind
            if store.stats().manifests and store.stats().records:
                break
            httpx.get(base + "/.well-known/ai-disclosure", timeout=10)
        assert store.stats().manifests == 1
    return response.content


def recover(tmp_path: Path, data: bytes, url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "copy.jpg"
    path.write_bytes(data)
    status = main(["verify", "--recover", str(path), "--url", url])
    return status, capsys.readouterr().out


def reader_json(asset: bytes, media_type: str, store: bytes) -> dict[str, object]:
    with c2pa.Reader(media_type, io.BytesIO(asset), store) as reader:
        parsed: dict[str, object] = json.loads(reader.json())
    return parsed


def test_stripped_and_turned_copies_get_their_credentials_back(
    base: str, config: TransparencyConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marked = marked_output(base, config)
    api = base + API

    status, out = recover(tmp_path, stripped(marked, quality=70), api, capsys)
    assert status == 0, out
    assert ("credentials recovered through the watermark; the asset changed after signing (hard binding does "
            "not match)") in out
    assert "trainedAlgorithmicMedia" in out and "Acme Studio" in out and "signature and claim valid" in out

    status, out = recover(tmp_path, stripped(marked, turn=True), api, capsys)
    assert status == 0, out
    assert "credentials recovered through the fingerprint; the asset changed after signing" in out

    status, out = recover(tmp_path, stripped(photo_png("coffee")), api, capsys)
    assert status == 1 and "no credentials found" in out

    # The JSON form names the manifest; the API serves its store, which c2pa's Reader validates against the
    # output as served (intact hard binding), as a whole store and as the active manifest alone.
    path = tmp_path / "copy.jpg"
    path.write_bytes(stripped(marked, quality=70))
    assert main(["verify", "--recover", str(path), "--url", api, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[str(path)]
    assert report["through"] == "watermark" and report["similarity_score"] == 100
    manifest_id = report["manifest_id"]
    for query in ("", "?returnActiveManifest=true"):
        fetched = httpx.get(f"{api}/manifests/{manifest_id}{query}", timeout=30)
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/c2pa"
        read = reader_json(marked, "image/png", fetched.content)
        assert read["active_manifest"] == manifest_id and read["validation_state"] == "Valid"


def test_resolution_without_url_reads_the_configured_log(
    base: str, config: TransparencyConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marked = marked_output(base, config)
    config_file = tmp_path / "aiact.yaml"  # JSON is YAML
    config_file.write_text(json.dumps({"system": SYSTEM, "fingerprints": {"enabled": True,
                                                                           "store": config.fingerprints.store}}))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(stripped(marked, quality=70))
    assert main(["verify", "--recover", str(copy), "--config", str(config_file)]) == 0
    assert "credentials recovered through the watermark" in capsys.readouterr().out
