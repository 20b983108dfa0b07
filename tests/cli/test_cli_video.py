"""The CLI on video files: a real subprocess marking and verifying generated MP4 and MOV files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.provenance.video.clips import ClipSpec, make_clip
from tests.tools import require_module, require_tool

require_module("av")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(ClipSpec("testsrc2", 160, 90, 3.0), tmp_path, require_tool("ffmpeg"))


def test_mark_then_verify_an_mp4(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    marked = run("mark", "--json", str(clip), str(out))
    assert marked.returncode == 0, marked.stderr
    report = json.loads(marked.stdout)
    assert report["media_type"] == "video/mp4" and report["c2pa"] and report["watermark"]
    verified = run("verify", str(out))
    assert verified.returncode == 0, verified.stderr
    assert "MARKED as AI-generated" in verified.stdout and "C2PA: valid" in verified.stdout
    assert f"item {report['watermark']['item_id']:06x}" in verified.stdout and "in the frames" in verified.stdout
    as_json = json.loads(run("verify", "--json", str(out)).stdout)[str(out)]
    assert as_json["media_type"] == "video/mp4" and as_json["watermark"]["layers"]["frames"]["found"]


def test_unmarked_video_verifies_as_not_marked(clip: Path) -> None:
    result = run("verify", str(clip))
    assert result.returncode == 1 and "no AI marks found" in result.stdout


def test_mark_refuses_an_output_name_of_another_format(clip: Path, tmp_path: Path) -> None:
    result = run("mark", str(clip), str(tmp_path / "out.mov"))
    assert result.returncode == 2 and "video/mp4" in result.stderr and not (tmp_path / "out.mov").exists()


def test_a_truncated_video_is_an_error_naming_the_problem(clip: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(clip.read_bytes()[:5000])
    result = run("mark", str(bad), str(tmp_path / "out.mp4"))
    assert result.returncode == 2 and "truncated" in result.stderr
