"""`detect`, `serve-detector` and `fingerprints` as a user runs them: real subprocesses, files and stores."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aiact_transparency import TransparencyConfig, mark_image
from aiact_transparency.fingerprints import open_store
from aiact_transparency.fingerprints.outputs import record_of

from ..servers import free_port
from ..wired.flows import photo_png, stripped
from .test_cli import run

SYSTEM = "system: {name: Acme Studio, provider: Acme GmbH, contact: 'mailto:ai@acme.example'}\n"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "aiact.yaml"
    path.write_text(SYSTEM + f"fingerprints: {{enabled: true, store: 'sqlite:///{tmp_path}/fp.db', "
                    "retention_days: 30}\n", encoding="utf-8")
    return path


@pytest.fixture
def logged(tmp_path: Path, config_file: Path) -> Path:
    """A marked image, logged in the config's store as the middleware would log it; returns its file."""
    from aiact_transparency.startup import load_config

    config = load_config(config_file)
    marked = mark_image(photo_png(), config=config)
    with open_store(config.fingerprints.store) as store:
        store.add_many([record_of(marked.data, marked.media_type, marked.report, "/generate")])
    path = tmp_path / "marked.png"
    path.write_bytes(marked.data)
    return path


def test_detect_without_config_is_system_neutral(tmp_path: Path) -> None:
    marked = tmp_path / "m.png"
    marked.write_bytes(mark_image(photo_png(), config=TransparencyConfig(system={"name": "Other"})).data)
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(stripped(photo_png("coffee")))
    both = run("--json", "detect", str(marked), str(plain))
    assert both.returncode == 1, both.stderr  # one file has no AI mark
    results = json.loads(both.stdout)
    assert results[str(plain)]["verdict"] == "not-detected"
    assert results[str(marked)]["verdict"] != "not-detected"
    alone = run("detect", str(marked), "--json")
    assert alone.returncode == 0 and json.loads(alone.stdout)[str(marked)]["layers"]["watermark"]["found"]


def test_detect_with_config_finds_a_turned_output_in_the_log(tmp_path: Path, config_file: Path, logged: Path) -> None:
    turned = tmp_path / "turned.jpg"
    turned.write_bytes(stripped(logged.read_bytes(), turn=True))
    answer = run("detect", str(turned), "--config", str(config_file), "--json")
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)[str(turned)]
    assert result["verdict"] == "generated-by-this-system" and result["based_on"] == ["fingerprint"]


def test_detect_jws(config_file: Path, logged: Path) -> None:
    answer = run("detect", "--jws", "--config", str(config_file), str(logged))
    assert answer.returncode == 0, answer.stderr
    token = answer.stdout.split(": ", 1)[1].strip()
    assert token.count(".") == 2


def test_fingerprints_stats_export_purge(tmp_path: Path, config_file: Path, logged: Path) -> None:
    figures = run("fingerprints", "stats", "--json", "--config", str(config_file))
    assert figures.returncode == 0, figures.stderr
    assert json.loads(figures.stdout)["records"] == 1
    out = tmp_path / "audit.jsonl"
    exported = run("--config", str(config_file), "fingerprints", "export", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["route"] == "/generate" and json.loads(line)["media_type"] == "image/png"
    to_stdout = run("fingerprints", "export", "--config", str(config_file))
    assert to_stdout.stdout == out.read_text()
    # Nothing is older than 30 days yet: the purge keeps the record.
    purged = run("fingerprints", "purge", "--config", str(config_file), "--json")
    assert purged.returncode == 0 and json.loads(purged.stdout) == {"purged": 0, "retention_days": 30}


def test_fingerprints_with_a_bad_config_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fingerprints: {store: 'mysql://x'}\n", encoding="utf-8")
    answer = run("fingerprints", "stats", "--config", str(bad))
    assert answer.returncode == 2 and "fingerprints.store" in answer.stderr


def test_serve_detector(tmp_path: Path, config_file: Path, logged: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiact_transparency.cli", "serve-detector", "--config",
                               str(config_file), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                usage = httpx.get(base + "/.well-known/ai-disclosure/detect", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "serve-detector did not start"
                time.sleep(0.1)
        assert usage.status_code == 200 and usage.json()["detector"].startswith(base)
        turned = stripped(logged.read_bytes(), turn=True)
        result = httpx.post(base + "/.well-known/ai-disclosure/detect", content=turned,
                            headers={"content-type": "image/jpeg"}, timeout=60).json()
        assert result["verdict"] == "generated-by-this-system" and result["based_on"] == ["fingerprint"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
