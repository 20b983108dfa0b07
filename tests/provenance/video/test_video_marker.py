"""mark_video end to end on tiny generated clips: every layer, what the re-encode keeps, verify's answer per layer,
idempotence, foreign manifests, and the documented outcome for each kind of bad or unusual input."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from aiact_transparency import TransparencyConfig, mark, mark_video, verify
from aiact_transparency.provenance.c2pa.reading import read_manifest
from aiact_transparency.provenance.video.codec import luma_plane
from aiact_transparency.provenance.video.errors import (
    CorruptVideoError,
    UnsupportedVideoError,
    VideoMarkingError,
    VideoTooLargeError,
)
from tests.tools import require_tool

Make = Callable[..., bytes]


def _probe(data: bytes, tmp_path: Path) -> dict[str, Any]:
    """ffprobe's reading (an independent reader of the container)."""
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run([require_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json",
                          str(path)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _stream(probe: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(s for s in probe["streams"] if s["codec_type"] == kind)


def test_every_layer_and_verify_reads_each(make: Make, video_config: TransparencyConfig, tmp_path: Path) -> None:
    data = make(seconds=4.0)  # the audio watermark needs 2 s and more
    marked = mark_video(data, config=video_config)
    report = marked.report
    assert marked.media_type == "video/mp4" and report.re_encoded and not report.already_marked
    assert report.watermark is not None
    # The soundtrack's watermark is the audio medium's, claimed only when it reads back from the AAC encode
    # (it does not for some clips and payloads: audio/marker.py); when claimed it carries the same word.
    soundtrack = report.audio_watermark
    assert soundtrack is None or soundtrack["value"] == report.watermark["value"]
    assert (soundtrack is None) == any("soundtrack watermark embedded but not readable" in n for n in report.notes)
    assert report.c2pa is not None and report.frames == 120 and report.size == (160, 90)
    assert report.bit_rate_ratio is not None and 0.3 < report.bit_rate_ratio < 3
    assert {"decode", "watermark", "encode", "sign"} <= set(report.timings)
    result = verify(marked.data, config=video_config)
    assert result.media_type == "video/mp4" and result.marked
    assert result.c2pa["valid"] and result.c2pa["ai_generated"]
    assert result.c2pa["soft_binding_value"] == report.watermark["value"]
    watermark = result.watermark
    assert watermark["found"] and watermark["found_by"] == ["frames"] + (["soundtrack"] if soundtrack else [])
    assert watermark["system_matches"] and watermark["payload"]["item_id"] == report.watermark["item_id"]
    assert watermark["false_positive_probability"] < 1e-6
    assert "frames" in watermark["based_on"] and watermark["layers"]["soundtrack"]["scheme"].startswith("aiact-ratio")


def test_the_re_encode_keeps_size_rate_format_codec_and_sound(make: Make, video_config: TransparencyConfig,
                                                              tmp_path: Path) -> None:
    data = make(rate=25)
    before, after = _probe(data, tmp_path), _probe(mark_video(data, config=video_config).data, tmp_path)
    for key in ("codec_name", "width", "height", "pix_fmt", "avg_frame_rate", "r_frame_rate"):
        assert _stream(after, "video")[key] == _stream(before, "video")[key], key
    assert _stream(after, "audio")["codec_name"] == "aac"
    assert _stream(after, "audio")["sample_rate"] == _stream(before, "audio")["sample_rate"]
    assert abs(float(after["format"]["duration"]) - float(before["format"]["duration"])) < 0.1


def test_mp4_output_streams_faststart(make: Make, video_config: TransparencyConfig) -> None:
    out = mark_video(make(), config=video_config).data
    assert out.find(b"moov") < out.find(b"mdat")  # the index first: a browser plays while downloading


def test_unmarked_video_is_not_claimed(make: Make, video_config: TransparencyConfig) -> None:
    for source in ("testsrc2", "card", "white"):
        result = verify(make(source), config=video_config)
        assert not result.marked and not result.watermark["found"], source
        assert result.watermark["layers"]["frames"]["found"] is False
        assert not result.c2pa["found"]


def test_mov_input_stays_mov(make: Make, video_config: TransparencyConfig, tmp_path: Path) -> None:
    marked = mark_video(make(container="mov"), config=video_config)
    assert marked.media_type == "video/quicktime"
    assert "mov" in _probe(marked.data, tmp_path)["format"]["format_name"]
    assert verify(marked.data, config=video_config).marked


def test_mark_dispatches_video_by_its_bytes(make: Make, video_config: TransparencyConfig) -> None:
    marked = mark(make(), "application/octet-stream", config=video_config)
    assert marked.media_type == "video/mp4"
    assert any("declared as application/octet-stream" in note for note in marked.report.to_dict()["notes"])


def test_already_marked_video_is_returned_unchanged(make: Make, video_config: TransparencyConfig) -> None:
    once = mark_video(make(), config=video_config).data
    twice = mark_video(once, config=video_config)
    assert twice.report.already_marked and twice.data == once


def test_a_foreign_manifest_is_kept_as_an_ingredient(make: Make, video_config: TransparencyConfig) -> None:
    foreign = mark_video(make(), config=TransparencyConfig(system={"name": "Another System"})).data
    marked = mark_video(foreign, config=video_config)
    assert any("kept as an ingredient" in note for note in marked.report.notes)
    manifest = read_manifest(marked.data, "video/mp4")
    assert manifest.valid and manifest.disclosed_system == "Video Test System"


def test_no_soundtrack(make: Make, video_config: TransparencyConfig, tmp_path: Path) -> None:
    marked = mark_video(make(audio=False), config=video_config)
    assert marked.report.watermark is not None and marked.report.audio_watermark is None
    assert any("no soundtrack" in note for note in marked.report.notes)
    assert [s["codec_type"] for s in _probe(marked.data, tmp_path)["streams"]] == ["video"]
    assert verify(marked.data, config=video_config).watermark["found_by"] == ["frames"]


def test_ten_bit_input_stays_ten_bit(make: Make, video_config: TransparencyConfig, tmp_path: Path) -> None:
    marked = mark_video(make(pixel_format="yuv420p10le", audio=False), config=video_config)
    assert _stream(_probe(marked.data, tmp_path), "video")["pix_fmt"] == "yuv420p10le"
    assert marked.report.watermark is not None
    assert any("10-bit" in note for note in marked.report.notes)


def test_ten_bit_input_is_detected_end_to_end(make: Make, video_config: TransparencyConfig) -> None:
    marked = mark_video(make(pixel_format="yuv420p10le", audio=False), config=video_config)
    section = verify(marked.data, config=video_config).watermark
    assert section["found"] and section["found_by"] == ["frames"]  # the 10-bit samples themselves, no soundtrack
    assert section["payload"]["item_id"] == marked.report.watermark["item_id"]


def _encode(frames: list[tuple[int, np.ndarray]], time_base: Fraction, *, rotation: int = 0) -> bytes:
    """An H.264 MP4 with the given (pts, luma) frames: variable timing and display rotation made with PyAV."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        for pts, luma in frames:
            frame = av.VideoFrame(160, 90, "yuv420p")
            luma_plane(frame)[...] = luma
            for plane in frame.planes[1:]:
                np.frombuffer(plane, np.uint8)[...] = 128
            frame.pts, frame.time_base = pts, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def _moving(make: Make, count: int) -> list[np.ndarray]:
    """Luminance planes of a generated moving pattern (testsrc2)."""
    with av.open(io.BytesIO(make(seconds=3.0, audio=False))) as container:
        planes = [luma_plane(frame).copy() for frame in container.decode(video=0)]
    return planes[:count]


def test_variable_frame_rate_keeps_every_timestamp(make: Make, video_config: TransparencyConfig) -> None:
    steps = [1, 1, 3, 1, 2, 1, 1, 4] * 8
    pts = np.cumsum([0, *steps[:-1]]) * 512
    data = _encode(list(zip(pts.tolist(), _moving(make, len(steps)), strict=True)), Fraction(1, 15360))
    marked = mark_video(data, config=video_config)
    assert any("variable frame rate" in note for note in marked.report.notes)
    with av.open(io.BytesIO(data)) as a, av.open(io.BytesIO(marked.data)) as b:
        times_in = [round(float(f.time), 4) for f in a.decode(video=0)]
        times_out = [round(float(f.time), 4) for f in b.decode(video=0)]
    assert times_out == times_in
    section = verify(marked.data, config=video_config).watermark
    assert section["found"] and section["found_by"] == ["frames"]
    assert section["payload"]["item_id"] == marked.report.watermark["item_id"]


def test_rotation_metadata_is_kept(make: Make, video_config: TransparencyConfig) -> None:
    data = _encode([(i * 512, f) for i, f in enumerate(_moving(make, 40))], Fraction(1, 15360), rotation=90)
    marked = mark_video(data, config=video_config)
    with av.open(io.BytesIO(marked.data)) as container:
        assert next(container.decode(video=0)).rotation == 90
    assert any("rotation" in note for note in marked.report.notes)
    assert verify(marked.data, config=video_config).watermark["found"]


def test_truncated_video_is_refused(make: Make, video_config: TransparencyConfig) -> None:
    data = make(seconds=3.0)  # FFmpeg writes the index (moov) last: cut anywhere, it is gone
    assert data.find(b"moov") > data.find(b"mdat")
    with pytest.raises(CorruptVideoError, match="no index"):
        mark_video(data[: len(data) // 2], config=video_config)


def test_truncated_streaming_video_is_refused(make: Make, video_config: TransparencyConfig) -> None:
    data = mark_video(make(seconds=3.0), config=TransparencyConfig(video={"c2pa": False})).data  # faststart
    assert data.find(b"moov") < data.find(b"mdat")
    with pytest.raises(CorruptVideoError, match="truncated"):
        mark_video(data[: len(data) // 2], config=video_config)


def test_a_damaged_index_is_refused(make: Make, video_config: TransparencyConfig) -> None:
    data = bytearray(make())
    moov = data.find(b"moov")
    data[moov + 8 : moov + 400] = bytes(392)
    with pytest.raises(VideoMarkingError):
        mark_video(bytes(data), config=video_config)


def test_garbage_and_empty_bodies(video_config: TransparencyConfig) -> None:
    with pytest.raises(CorruptVideoError, match="empty"):
        mark_video(b"", config=video_config)
    with pytest.raises(UnsupportedVideoError, match="MP4 and MOV"):
        mark_video(b"\x00\x00\x00\x18ftypavif" + bytes(100), config=video_config)
    with pytest.raises(CorruptVideoError):
        mark_video(b"\x00\x00\x00\x18ftypqt  " + bytes(100), config=video_config)


@pytest.mark.parametrize(("limit", "match"), [
    ({"max_seconds": 1.0}, "max_seconds"), ({"max_pixels": 160 * 90 - 1}, "max_pixels"),
    ({"max_bytes": 2048}, "max_bytes")])
def test_limits(make: Make, limit: dict[str, Any], match: str) -> None:
    config = TransparencyConfig(video=limit)
    with pytest.raises(VideoTooLargeError, match=match):
        mark_video(make(), config=config)


def test_watermark_off_still_signs(make: Make) -> None:
    config = TransparencyConfig(video={"watermark": False, "audio_watermark": False})
    marked = mark_video(make(), config=config)
    assert marked.report.watermark is None and marked.report.audio_watermark is None
    result = verify(marked.data, config=config)
    assert result.c2pa["valid"] and not result.watermark["found"]
    assert result.c2pa["soft_binding_value"] is None  # nothing claimed that is not there


@pytest.mark.parametrize(("codec", "container", "pixel_format"), [
    ("libx265", "mp4", "yuv420p"), ("mpeg4", "mp4", "yuv420p"), ("prores_ks", "mov", "yuv422p10le")])
def test_other_codec_families_keep_their_family(codec: str, container: str, pixel_format: str,
                                                video_config: TransparencyConfig, tmp_path: Path) -> None:
    source = tmp_path / f"in.{container}"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=30:duration=2", "-c:v", codec, "-pix_fmt", pixel_format, str(source)],
                   check=True, capture_output=True)
    before = _stream(_probe(source.read_bytes(), tmp_path), "video")
    marked = mark_video(source.read_bytes(), config=video_config)
    after = _stream(_probe(marked.data, tmp_path), "video")
    assert (after["codec_name"], after["pix_fmt"]) == (before["codec_name"], before["pix_fmt"])
    assert marked.report.watermark is not None and verify(marked.data, config=video_config).marked


def test_without_the_video_extra_the_fix_is_named(make: Make, tmp_path: Path) -> None:
    import sys

    path = tmp_path / "in.mp4"
    path.write_bytes(make())
    code = (
        "import sys; sys.modules['av'] = None\n"  # any import of PyAV now fails
        "from pathlib import Path\n"
        "from aiact_transparency import TransparencyConfig, mark, verify\n"
        "from aiact_transparency.provenance.video.errors import MissingVideoExtraError\n"
        f"data = Path({str(path)!r}).read_bytes()\n"
        "report = verify(data)\n"
        "assert report.media_type == 'video/mp4' and not report.watermark['found']\n"
        "assert 'aiact-transparency[video]' in report.watermark['based_on'], report.watermark\n"
        "try:\n"
        "    mark(data, 'video/mp4', config=TransparencyConfig(video={'c2pa': False}))\n"
        "except MissingVideoExtraError as exc:\n"
        "    assert 'aiact-transparency[video]' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('marked without PyAV')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
