"""The CLI as a user runs it: a real subprocess, real files, exit codes and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiact_transparency.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    x = np.linspace(0, 255, 320)
    pixels = np.stack(
        [np.add.outer(x, x) / 2, np.outer(np.sin(x / 9) * 90 + 128, np.ones(320)), np.full((320, 320), 128.0)], -1
    )
    path = tmp_path / "in.jpg"
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=92)
    return path


def test_mark_then_verify(picture: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    marked = run("mark", str(picture), str(out))
    assert marked.returncode == 0, marked.stderr
    assert "marked with watermark, XMP, C2PA" in marked.stdout
    assert "DEVELOPMENT chain" in marked.stdout
    verified = run("verify", str(out))
    assert verified.returncode == 0
    assert "MARKED as AI-generated" in verified.stdout
    assert "untrusted signer" in verified.stdout


def test_verify_json_is_stable_and_exit_code_says_not_marked(picture: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    assert run("mark", str(picture), str(out)).returncode == 0
    result = run("verify", "--json", str(out), str(picture))
    assert result.returncode == 1  # one of the files is not marked
    reports = json.loads(result.stdout)
    assert set(reports) == {str(out), str(picture)}
    assert reports[str(out)]["marked"] is True
    assert reports[str(picture)]["marked"] is False
    for report in reports.values():
        assert set(report) == {"media_type", "marked", "c2pa", "xmp", "watermark"}
        for layer in ("c2pa", "xmp", "watermark"):
            assert isinstance(report[layer]["found"], bool)
            assert report[layer]["based_on"]


def test_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    missing = run("verify", str(tmp_path / "absent.png"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    failed = run("mark", str(garbage), str(tmp_path / "o.png"))
    assert failed.returncode == 2
    assert "error: the image/png data cannot be decoded" in failed.stderr and "BytesIO" not in failed.stderr
    bad_config = tmp_path / "c.yaml"
    bad_config.write_text("disclosure: {mode: maybe}\n")
    assert run("--config", str(bad_config), "keys", "show").returncode == 2


def test_keys_init_and_show_never_print_key_material(tmp_path: Path) -> None:
    env = {"AIACT_KEYS_DIR": str(tmp_path / "keys")}
    init = run("keys", "init", "--json", env=env)
    assert init.returncode == 0, init.stderr
    described = json.loads(init.stdout)
    assert described["development"] is True and described["alg"] == "es256"
    key_files = list((tmp_path / "keys").glob("*key*"))
    assert key_files and all(f.stat().st_mode & 0o777 == 0o600 for f in key_files)
    shown = run("keys", "show", env=env)
    assert "UNTRUSTED" in shown.stdout
    for key_file in key_files:
        secret = key_file.read_text().splitlines()[1]
        assert secret not in shown.stdout and secret not in init.stdout
    assert "PRIVATE KEY" not in shown.stdout + shown.stderr
