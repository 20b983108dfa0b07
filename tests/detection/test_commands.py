"""detect_command (the CLI's `detect`), the remote client against a real server, and serve_detector."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection.commands import EXIT_ERROR, EXIT_NOT_MARKED, EXIT_OK, detect_command, standalone_app
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.detection.local import Detector
from aiact_transparency.detection.remote import detect_remote
from aiact_transparency.provenance import keys
from tests.detection.conftest import encode, photo_like
from tests.servers import free_port, serve


@pytest.fixture
def files(tmp_path: Path, marked_jpeg: bytes) -> dict[str, Path]:
    stripped = encode(Image.open(io.BytesIO(marked_jpeg)).convert("RGB"), quality=70)
    made = {"marked.jpg": marked_jpeg, "stripped.jpg": stripped, "plain.png": encode(photo_like(seed=4), "PNG"),
            "note.txt": b"Written by a person.", "anim.gif": encode(photo_like(64, 64), "GIF")}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


@pytest.fixture
def use_signer(monkeypatch: pytest.MonkeyPatch, ours_signer: keys.LocalKeySigner) -> None:
    # detect_command builds its own Detector: give it the signer that marked the fixtures.
    monkeypatch.setattr("aiact_transparency.provenance.keys.configured.signer_for", lambda _config: ours_signer)


def test_local_detect_exit_codes_and_text(files: dict[str, Path], ours: TransparencyConfig, use_signer: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert detect_command([files["marked.jpg"], files["stripped.jpg"]], config=ours) == EXIT_OK
    out = capsys.readouterr().out
    assert "marked.jpg: generated-by-this-system (based on: metadata, watermark)" in out
    assert "stripped.jpg: generated-by-this-system (based on: watermark)" in out
    assert detect_command([files["marked.jpg"], files["plain.png"], files["note.txt"]], config=ours) == EXIT_NOT_MARKED
    assert detect_command([files["marked.jpg"], files["anim.gif"], files["plain.png"].with_name("missing.png")],
                          config=ours) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "anim.gif: image/gif data cannot be checked" in err and "missing.png: cannot read" in err


def test_local_detect_json_and_jws(files: dict[str, Path], ours: TransparencyConfig, use_signer: None,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert detect_command([files["plain.png"]], config=ours, as_json=True) == EXIT_NOT_MARKED
    answers = json.loads(capsys.readouterr().out)
    assert answers[str(files["plain.png"])]["verdict"] == "not-detected"
    assert detect_command([files["marked.jpg"]], config=ours, as_json=True, as_jws=True) == EXIT_OK
    token = json.loads(capsys.readouterr().out)[str(files["marked.jpg"])]
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["verdict"] == "generated-by-this-system" and payload["signed_by"]["development"] is True


@pytest.fixture
def detector_url(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner) -> Iterator[str]:
    endpoint = DetectionEndpoint(ours, detector=Detector(ours, signer=ours_signer))
    with serve(standalone_app(endpoint)) as base:
        yield base + endpoint.settings.path


def test_remote_detect_asks_the_deployed_detector(files: dict[str, Path], detector_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert detect_command([files["stripped.jpg"], files["plain.png"]], url=detector_url, as_json=True) \
        == EXIT_NOT_MARKED
    answers = json.loads(capsys.readouterr().out)
    assert answers[str(files["stripped.jpg"])]["verdict"] == "generated-by-this-system"
    assert answers[str(files["stripped.jpg"])]["detector"] == detector_url
    assert detect_command([files["marked.jpg"]], url=detector_url, as_jws=True) == EXIT_OK
    assert capsys.readouterr().out.count(".") >= 2
    assert detect_command([files["anim.gif"]], url=detector_url) == EXIT_ERROR
    assert "the detector answered 415" in capsys.readouterr().err
    assert detect_command([files["plain.png"]], url="file:///etc/passwd") == EXIT_ERROR
    assert "not an http(s) URL" in capsys.readouterr().err


def test_the_standalone_server_redirects_root_and_404s_the_rest(detector_url: str) -> None:
    base = detector_url.rsplit("/.well-known", 1)[0]
    answer = detect_remote(b"plain words", detector_url)
    assert answer.status == 200 and answer.result is not None and answer.result["media_type"] == "text/plain"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "/other")
    assert missing.value.code == 404
    missing.value.close()


def test_serve_detector_runs_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    code = ("from aiact_transparency import TransparencyConfig\n"
            "from aiact_transparency.detection.commands import serve_detector\n"
            f"serve_detector(TransparencyConfig(system={{'name': 'Solo'}}), '127.0.0.1', {port})\n")
    env = dict(os.environ, AIACT_KEYS_DIR=str(tmp_path / "keys"))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/.well-known/ai-disclosure/detect"
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    usage = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("serve_detector did not answer")
        assert usage["detector"] == url and usage["verdicts"][0] == "generated-by-this-system"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
