"""How often the marker claims the watermark on its own lossy outputs: each clip is encoded as MP3 or M4A at
128 kbit/s (what a TTS or music model would serve), marked by AudioMarker (decode, watermark, re-encode at the
input's rate, read back: claimed only if the detector reads it), and counted. The robustness table
(audio_robustness.py) marks a lossless clip and encodes it once; this is the path a lossy input takes, a
second generation with the input's bit rate as the marker reads it (issue 12: AAC >= 95 %).

Run: .venv/bin/python bench/audio_marker_paths.py [COUNT] [--format mp3|m4a ...] [--music]
COUNT clips of the test suite's varied set (3-6 s, 16-48 kHz, mono and stereo; default 40: the robustness test's
clips, whose AAC row reads a lossless input encoded once), or with --music the marker
test's 6 s music clips at 48 kHz stereo (seeds 0..COUNT-1). Item ids are fixed, so a run is deterministic.
Not part of `make bench` (a minute of CPU per format). Exit status 1 when a format is claimed on fewer than
95 % of the clips, or when a claim is not what the detector reads from the output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the clip generator lives with the tests

from aiact_transparency import TransparencyConfig  # noqa: E402
from aiact_transparency.provenance.audio import marker  # noqa: E402
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio  # noqa: E402
from aiact_transparency.provenance.audio.watermark import detect_audio_watermark  # noqa: E402
from tests.provenance.audio.attacks import TARGET  # noqa: E402
from tests.provenance.audio.clips import Clip, _stereo, clip_set, music  # noqa: E402


def music_clips(count: int) -> list[Clip]:
    rate = 48_000
    return [Clip(f"music-6s-seed{seed}", "music", _stereo(music(6.0, rate, np.random.default_rng(seed)),
                                                          np.random.default_rng(seed), rate), rate)
            for seed in range(count)]


def run(clips: list[Clip], name: str) -> tuple[int, int]:
    """(claimed, dishonest claims) over the clips, one line per clip."""
    config = TransparencyConfig(system={"name": "marker-paths-bench"}, audio={"c2pa": False})
    ids = iter(range(1000, 1000 + 7919 * len(clips), 7919))
    marker.secrets.randbits = lambda bits: next(ids)  # type: ignore[assignment]  # fixed item ids: deterministic
    audio_marker = marker.AudioMarker(config)
    claimed = dishonest = 0
    for clip in clips:
        source = encode_audio(clip.samples, AudioFormat(name, clip.rate, clip.channels, bit_rate=128_000,
                                                        lossless=False))
        read = decode_audio(source)
        out = audio_marker.mark(source)
        written = decode_audio(out.data)
        found = detect_audio_watermark(written.samples, written.format.rate)
        claim = out.report.watermark
        claimed += claim is not None
        honest = claim is None or (found.found and found.payload is not None
                                   and found.payload.to_bytes().hex() == claim["value"])
        dishonest += not honest
        print(f"{clip.name:34s} {clip.seconds:5.1f} s  in {read.format.bit_rate // 1000:3d} kbit/s -> out "
              f"{written.format.bit_rate // 1000:3d}  {'claimed' if claim else 'not claimed'}"
              f"{'' if honest else '  CLAIM NOT READ BY THE DETECTOR'}")
    return claimed, dishonest


def main() -> int:
    parser = argparse.ArgumentParser(description="The marker's claim rate on MP3 and M4A inputs (module docstring).")
    parser.add_argument("count", nargs="?", type=int, default=40)
    parser.add_argument("--format", action="append", choices=["mp3", "m4a"], help="only this format (repeatable)")
    parser.add_argument("--music", action="store_true", help="the marker test's 6 s music clips instead")
    args = parser.parse_args()
    clips = music_clips(args.count) if args.music else clip_set(args.count, (3.0, 6.0))
    failed = False
    for name in args.format or ["mp3", "m4a"]:
        start = time.monotonic()
        claimed, dishonest = run(clips, name)
        rate = claimed / len(clips)
        print(f"{name.upper()} 128 kbit/s in: watermark claimed on {claimed}/{len(clips)} ({100 * rate:.0f} %, "
              f"target >= {100 * TARGET:.0f} %), claims the detector does not read: {dishonest}; "
              f"{time.monotonic() - start:.0f} s")
        failed |= rate < TARGET or dishonest > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
