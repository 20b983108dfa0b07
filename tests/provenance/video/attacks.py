"""What a marked video goes through on the way to a viewer, as FFmpeg commands: a re-encode with libx264 at
CRF 28, a 50% downscale, the first second cut off, 30 -> 25 fps, and all of them at once. Each attack
re-encodes at CRF 28 (the issue's re-encode)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["ATTACKS", "attack"]

ATTACKS: dict[str, list[str]] = {
    "crf28": [],
    "downscale50": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2"],
    "cut1s": ["-ss", "1"],
    "fps25": ["-r", "25"],
    "all": ["-ss", "1", "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-r", "25"],
}


def attack(source: Path, name: str, out: Path, ffmpeg: str = "ffmpeg", *, seconds: float | None = None) -> Path:
    """`seconds`: keep only that much of the attacked copy (the bench: the detector reads the first 4 s anyway)."""
    args = ATTACKS[name]
    seek = args[:2] if args[:1] == ["-ss"] else []
    rest = args[2:] if seek else args
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    command = [ffmpeg, "-v", "error", "-y", *seek, "-i", str(source), *rest, *limit, "-c:v", "libx264", "-crf",
               "28", "-c:a", "aac", "-b:a", "128k", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return out
