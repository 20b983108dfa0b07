"""Generated test clips: FFmpeg's lavfi sources (moving test patterns, fractals, cellular automata, still cards
with text, scene cuts), encoded as the H.264/AAC MP4 (or MOV) a generator would serve. Nothing from the net.

`clip_set()` is the varied set of bench/video_robustness.py; the unit tests use `make_clip` on tiny specs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClipSpec", "clip_set", "make_clip"]

# Sources at a size and rate; {w}, {h}, {r}, {d} are filled in. The still ones repeat one picture.
SOURCES = {
    "testsrc2": "testsrc2=size={w}x{h}:rate={r}:duration={d}",
    "mandelbrot": "mandelbrot=size={w}x{h}:rate={r},trim=duration={d}",
    "life": "life=size={w}x{h}:rate={r}:mold=10:ratio=0.1:death_color=#203040:life_color=#e0c080,trim=duration={d}",
    "card": "color=c=0x2a4d69:size={w}x{h}:rate={r}:duration={d},drawtext=text='Generated':fontcolor=white:"
            "fontsize={h}/8:x=(w-text_w)/2:y=(h-text_h)/2",
    "bars": "smptehdbars=size={w}x{h}:rate={r}:duration={d}",
    "cells": "cellauto=size={w}x{h}:rate={r}:rule=110,trim=duration={d}",
    "zoom": "testsrc=size={w}x{h}:rate={r}:duration={d},hue=H=t",
    "white": "color=c=white:size={w}x{h}:rate={r}:duration={d}",
}


@dataclass(frozen=True)
class ClipSpec:
    source: str  # a SOURCES key, or "a+b" for a scene cut from a to b half way
    width: int
    height: int
    seconds: float
    rate: int = 30
    audio: bool = True
    container: str = "mp4"
    pixel_format: str = "yuv420p"

    @property
    def name(self) -> str:
        return f"{self.source}-{self.width}x{self.height}-{self.seconds:g}s-{self.rate}fps" + (
            "" if self.audio else "-silent")


def _source(name: str, spec: ClipSpec, seconds: float) -> str:
    return SOURCES[name].format(w=spec.width, h=spec.height, r=spec.rate, d=seconds)


def make_clip(spec: ClipSpec, folder: Path, ffmpeg: str = "ffmpeg") -> Path:
    """Write the clip into `folder` (once: an existing file is reused) and return its path."""
    path = folder / f"{spec.name}-{spec.pixel_format}.{spec.container}"
    if path.exists():
        return path
    if "+" in spec.source:
        first, second = spec.source.split("+")
        half = spec.seconds / 2
        video = ["-f", "lavfi", "-i", _source(first, spec, half), "-f", "lavfi", "-i", _source(second, spec, half)]
        graph = "[0:v][1:v]concat=n=2:v=1:a=0[v]"
    else:
        video = ["-f", "lavfi", "-i", _source(spec.source, spec, spec.seconds)]
        graph = "[0:v]null[v]"
    inputs = len(video) // 4
    audio: list[str] = []
    maps = ["-map", "[v]"]
    if spec.audio:
        # Pink noise under a chord: a soundtrack with energy across the band (the audio watermark's home)
        audio = ["-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.2:sample_rate=48000:duration={spec.seconds}",
                 "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={spec.seconds}"]
        graph += f";[{inputs}:a][{inputs + 1}:a]amix=inputs=2,aformat=channel_layouts=stereo[a]"
        maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    command = [ffmpeg, "-v", "error", "-y", *video, *audio, "-filter_complex", graph, *maps, "-c:v", "libx264",
               "-pix_fmt", spec.pixel_format, "-crf", "23", "-t", f"{spec.seconds}", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return path


def clip_set() -> list[ClipSpec]:
    """The robustness set: 22 clips, motion, stills and cuts, 240p to 1080p, 2 to 30 s, with and without sound."""
    return [
        ClipSpec("testsrc2", 426, 240, 4), ClipSpec("testsrc2", 1280, 720, 3), ClipSpec("testsrc2", 1920, 1080, 2),
        ClipSpec("mandelbrot", 640, 360, 4), ClipSpec("mandelbrot", 854, 480, 3, audio=False),
        ClipSpec("life", 640, 360, 5), ClipSpec("life", 426, 240, 3, rate=25),
        ClipSpec("card", 1280, 720, 4), ClipSpec("card", 426, 240, 30, audio=False),
        ClipSpec("bars", 854, 480, 3), ClipSpec("bars", 1920, 1080, 2, audio=False),
        ClipSpec("cells", 640, 360, 4), ClipSpec("zoom", 640, 360, 6),
        ClipSpec("white", 426, 240, 3), ClipSpec("testsrc2+card", 854, 480, 6),
        ClipSpec("mandelbrot+life", 640, 360, 8), ClipSpec("card+bars", 1280, 720, 4, audio=False),
        ClipSpec("zoom+mandelbrot", 426, 240, 10), ClipSpec("testsrc2", 640, 360, 12, rate=24),
        ClipSpec("life+testsrc2", 854, 480, 5), ClipSpec("cells", 1280, 720, 2, audio=False),
        ClipSpec("testsrc2", 480, 640, 3),  # portrait
    ]
