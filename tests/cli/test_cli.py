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


def _own_system_config(tmp_path: Path) -> Path:
    config = tmp_path / "own.yaml"
    config.write_text("system: {name: Own System}\n")
    return config


def test_verify_reads_aiact_config_like_every_command(picture: Path, tmp_path: Path) -> None:
    config = _own_system_config(tmp_path)
    out = tmp_path / "out.jpg"
    assert run("--config", str(config), "mark", str(picture), str(out)).returncode == 0
    via_env = run("verify", "--json", str(out), env={"AIACT_CONFIG": str(config)})
    assert via_env.returncode == 0, via_env.stderr
    assert json.loads(via_env.stdout)[str(out)]["watermark"]["system_matches"] is True
    # Without any config the report stays neutral: nothing says which system is "ours".
    neutral = run("verify", "--json", str(out))
    assert "system_matches" not in json.loads(neutral.stdout)[str(out)]["watermark"]


def test_config_and_json_work_before_and_after_the_command(picture: Path, tmp_path: Path) -> None:
    config = _own_system_config(tmp_path)
    out = tmp_path / "out.jpg"
    assert run("mark", str(picture), str(out), "--config", str(config), "--json").returncode == 0
    for args in (["--json", "--config", str(config), "verify", str(out)],
                 ["verify", str(out), "--json", "--config", str(config)],
                 ["--config", str(config), "verify", "--json", str(out)]):
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout)[str(out)]["watermark"]["system_matches"] is True, args
    shown = run("--json", "keys", "init")
    assert shown.returncode == 0 and json.loads(shown.stdout)["development"] is True


def test_one_unreadable_file_is_an_entry_not_the_end_of_the_report(picture: Path, tmp_path: Path) -> None:
    missing = tmp_path / "absent.png"
    result = run("verify", "--json", str(missing), str(picture))
    assert result.returncode == 2  # an error outranks "not marked"
    reports = json.loads(result.stdout)
    assert reports[str(missing)] == {"error": "cannot read (No such file or directory)"}
    assert reports[str(picture)]["marked"] is False
    text = run("verify", str(missing), str(picture))
    assert text.returncode == 2
    assert f"{missing}: cannot read" in text.stderr and f"{picture}: no AI marks found" in text.stdout


def test_verify_reports_a_file_that_is_not_an_image_per_file(
    picture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fault injection only: verify() raising UnsupportedImageError for one file, as it does for non-images.
    from aiact_transparency import cli
    from aiact_transparency.provenance import verify as verify_module
    from aiact_transparency.provenance.errors import UnsupportedImageError

    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    real_verify = verify_module.verify

    def verify(data: bytes, **kwargs: object) -> verify_module.VerificationReport:
        if data == b"hello":
            raise UnsupportedImageError("not an image: no JPEG, PNG or WebP signature")
        return real_verify(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify_module, "verify", verify)
    assert cli.main(["verify", "--json", str(text_file), str(picture)]) == 2
    captured = capsys.readouterr()
    reports = json.loads(captured.out)
    assert reports[str(text_file)] == {"error": "not an image: no JPEG, PNG or WebP signature"}
    assert reports[str(picture)]["marked"] is False
    assert f"{text_file}: not an image: no JPEG, PNG or WebP signature" in captured.err
    assert cli.main(["verify", str(text_file)]) == 2
    assert f"{text_file}: not an image:" in capsys.readouterr().err


def test_mark_refuses_an_output_name_of_another_format(tmp_path: Path) -> None:
    png = tmp_path / "in.png"
    Image.new("RGB", (320, 320), (90, 140, 200)).save(png)
    out = tmp_path / "out.jpg"
    result = run("mark", str(png), str(out))
    assert result.returncode == 2
    assert "image/png" in result.stderr and "image/jpeg" in result.stderr and "out.png" in result.stderr
    assert not out.exists()
    assert run("mark", str(png), str(tmp_path / "out.png")).returncode == 0


def test_keys_show_only_reads(tmp_path: Path) -> None:
    env = {"AIACT_KEYS_DIR": str(tmp_path / "keys")}
    shown = run("keys", "show", env=env)
    assert shown.returncode == 2
    assert "keys init" in shown.stderr and str(tmp_path / "keys") in shown.stderr
    assert not (tmp_path / "keys").exists()
    assert run("keys", "init", env=env).returncode == 0
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "keys").iterdir()}
    shown = run("keys", "show", "--json", env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout)["development"] is True
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "keys").iterdir()} == files
