"""The CLI on audio files: a real subprocess marking and verifying real MP3 and WAV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency.provenance.audio.codec import AudioFormat, encode_audio
from tests.cli.test_cli import run
from tests.provenance.audio.clips import _stereo, music
from tests.tools import require_module

require_module("av")


@pytest.fixture
def song(tmp_path: Path) -> Path:
    mono = music(4.0, 44_100, np.random.default_rng(3))
    path = tmp_path / "in.mp3"
    path.write_bytes(encode_audio(_stereo(mono, np.random.default_rng(3), 44_100),
                                  AudioFormat("mp3", 44_100, 2, bit_rate=128_000, lossless=False)))
    return path


def test_mark_then_verify_an_mp3(song: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp3"
    marked = run("mark", "--json", str(song), str(out))
    assert marked.returncode == 0, marked.stderr
    report = json.loads(marked.stdout)
    assert report["media_type"] == "audio/mpeg" and report["c2pa"] and not report["xmp"]
    verified = run("verify", str(out))
    assert verified.returncode == 0, verified.stderr
    assert "MARKED as AI-generated" in verified.stdout and "C2PA: valid" in verified.stdout
    if report["watermark"] is not None:  # claimed only when it reads back from the MP3
        assert f"item {report['watermark']['item_id']:06x}" in verified.stdout
    as_json = json.loads(run("verify", "--json", str(out)).stdout)[str(out)]
    assert as_json["media_type"] == "audio/mpeg" and as_json["c2pa"]["valid"]


def test_mark_refuses_an_output_name_of_another_format(song: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    result = run("mark", str(song), str(out))
    assert result.returncode == 2
    assert "the marked audio is audio/mpeg" in result.stderr and "out.mp3" in result.stderr
    assert not out.exists()


def test_unmarked_audio_verifies_as_not_marked(song: Path) -> None:
    result = run("verify", str(song))
    assert result.returncode == 1 and "no AI marks found" in result.stdout


def test_bad_audio_is_an_error_naming_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(8))
    result = run("mark", str(bad), str(tmp_path / "out.wav"))
    assert result.returncode == 2 and "WAV" in result.stderr
