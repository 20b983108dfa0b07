"""MP4 and MOV are told apart from sound-only MP4 by their track handlers, not by their brand."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from aiact_transparency.provenance.formats import iso_index_missing, sniff_media_type
from tests.tools import require_tool

Make = Callable[..., bytes]


def _sound_only(tmp_path: Path, suffix: str) -> bytes:
    path = tmp_path / f"sound{suffix}"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac",
                    str(path)], check=True)
    return path.read_bytes()


def test_video_and_sound_only_iso_files(make: Make, tmp_path: Path) -> None:
    assert sniff_media_type(make()) == "video/mp4"  # brand isom, like sound-only MP4s FFmpeg writes
    assert sniff_media_type(make(audio=False)) == "video/mp4"
    assert sniff_media_type(make(container="mov")) == "video/quicktime"
    assert sniff_media_type(_sound_only(tmp_path, ".mp4")) == "audio/mp4"
    assert sniff_media_type(_sound_only(tmp_path, ".m4a")) == "audio/mp4"


def test_an_index_less_file_is_recognised_as_such(make: Make) -> None:
    data = make()
    assert not iso_index_missing(data)
    cut = data[: data.find(b"moov") - 8]  # FFmpeg writes the index last
    assert iso_index_missing(cut) and sniff_media_type(cut) == "audio/mp4"  # the brand alone cannot tell
    assert not iso_index_missing(b"\x89PNG\r\n\x1a\n" + bytes(40))
