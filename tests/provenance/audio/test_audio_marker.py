"""mark_audio / the audio medium: watermark, XMP (WAV), signed C2PA on real WAV, FLAC, MP3 and M4A files, checked
with the real c2pa Reader, exiftool and our detector; bad input refused with a named error."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import c2pa
import numpy as np
import pytest

from aiact_transparency import MarkingError, TransparencyConfig, mark, mark_audio, verify
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.errors import (
    AudioTooLongError,
    CorruptAudioError,
    UnsupportedAudioError,
    UnsupportedAudioLayoutError,
)
from aiact_transparency.provenance.audio.marker import SOFT_BINDING_ALG, AudioMarker, MarkedAudio
from aiact_transparency.provenance.audio.watermark import (
    AudioWatermarkDetection,
    WatermarkPayload,
    detect_audio_watermark,
    embed_audio_watermark,
)
from aiact_transparency.provenance.payload import SOFT_BINDING_ALG as IMAGE_SOFT_BINDING_ALG
from aiact_transparency.provenance.xmp import TRAINED_ALGORITHMIC_MEDIA_URI
from tests.provenance.audio.clips import _stereo, music
from tests.tools import require_module, require_tool

require_module("av")
sf = require_module("soundfile")

FORMATS = {
    "wav": AudioFormat("wav", 48_000, 2, subtype="PCM_16"),
    "flac": AudioFormat("flac", 44_100, 1, subtype="PCM_24"),
    "mp3": AudioFormat("mp3", 44_100, 2, bit_rate=128_000, lossless=False),
    "m4a": AudioFormat("m4a", 48_000, 2, bit_rate=128_000, lossless=False),
}


def config(name: str = "Acme Studio", **audio: object) -> TransparencyConfig:
    return TransparencyConfig(system={"name": name, "provider": "Acme GmbH"}, model={"id": "acme/voice-1"},
                              audio=audio)


def clip(fmt: AudioFormat, seconds: float = 4.0, seed: int = 5) -> bytes:
    mono = music(seconds, fmt.rate, np.random.default_rng(seed))
    samples = _stereo(mono, np.random.default_rng(seed), fmt.rate) if fmt.channels == 2 else mono[:, None]
    return encode_audio(samples, fmt)


def store_of(data: bytes, media_type: str) -> dict[str, object]:
    with c2pa.Reader(media_type, io.BytesIO(data)) as reader:
        store: dict[str, object] = json.loads(reader.json())
    return store


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_layer_on_every_format(name: str) -> None:
    fmt = FORMATS[name]
    original = clip(fmt)
    marked = mark_audio(original, config=config())
    assert isinstance(marked, MarkedAudio) and marked.media_type == fmt.media_type
    report = marked.report
    assert report.re_encoded and report.c2pa is not None
    unreadable = any("not readable" in n for n in report.notes)
    assert (report.watermark is None) == unreadable
    assert report.xmp == (name == "wav") and any("no XMP" in n for n in report.notes) == (name != "wav")
    again = decode_audio(marked.data)  # format, rate, channels, sample width / bit rate kept
    assert again.format == fmt and abs(again.seconds - 4.0) < 0.05
    found = verify(marked.data, config=config())
    assert found.media_type == fmt.media_type and found.marked
    assert found.c2pa["valid"] and found.c2pa["ai_generated"]
    assert found.c2pa["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA_URI
    assert found.c2pa["software_agent"] == "Acme Studio (acme/voice-1)"
    # Claimed exactly when the detector reads it from the output (lossy encodes lose it for some clips).
    assert found.watermark["found"] == (report.watermark is not None)
    if report.watermark is not None:
        assert found.c2pa["soft_binding_alg"] == SOFT_BINDING_ALG != IMAGE_SOFT_BINDING_ALG
        assert found.c2pa["soft_binding_value"] == report.watermark["value"]
        assert found.watermark["system_matches"]
        assert found.watermark["payload"]["item_id"] == report.watermark["item_id"]
    else:
        assert found.c2pa["soft_binding_alg"] is None
    assert found.xmp["ai_generated"] == (name == "wav")
    # The independent reader agrees on the manifest.
    store = store_of(marked.data, fmt.media_type)
    active = store["manifests"][store["active_manifest"]]  # type: ignore[index]
    actions = next(a["data"]["actions"] for a in active["assertions"] if a["label"].startswith("c2pa.actions"))
    assert actions[0]["action"] == "c2pa.created"


@pytest.mark.parametrize(("name", "at_least"), [("wav", 6), ("flac", 6), ("mp3", 6), ("m4a", 6)])
def test_the_watermark_is_claimed_for_most_clips(name: str, at_least: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Item ids fixed (they are random in use), so the count is deterministic. Measured on these 6 s music clips
    # with watermark v2, v3 and v4: all read back, also after the clip's own MP3 and AAC encode (v1: 5, 5, 4 and
    # 2 of 6). Over 30 such clips through the M4A path v4 reads 30 (26 while the marker re-encoded at the AAC
    # stream's average, 96-112 kbit/s for a fifth of them: the next test).
    from aiact_transparency.provenance.audio import marker

    ids = iter(range(1000, 1000 + 6 * 7919, 7919))
    monkeypatch.setattr(marker.secrets, "randbits", lambda bits: next(ids))
    claimed = [AudioMarker(config()).mark(clip(FORMATS[name], 6.0, seed)).report.watermark for seed in range(6)]
    assert sum(w is not None for w in claimed) >= at_least


def test_an_m4a_is_re_encoded_at_the_rate_it_was_encoded_at(monkeypatch: pytest.MonkeyPatch) -> None:
    # FFmpeg's AAC encoder at 128 kbit/s averages ~103 on this clip (seed 3); the marker re-encoded at that
    # average's nearest standard rate, 96 kbit/s, after which the watermark did not read back. The item id is
    # the one the previous test gives seed 3 (whether a mark reads back after AAC depends on the word a little).
    import av

    from aiact_transparency.provenance.audio import marker

    monkeypatch.setattr(marker.secrets, "randbits", lambda bits: 1000 + 3 * 7919)
    original = clip(FORMATS["m4a"], 6.0, 3)
    with av.open(io.BytesIO(original)) as container:
        assert container.streams.audio[0].bit_rate < 104_000
    marked = AudioMarker(config()).mark(original)
    assert decode_audio(marked.data).format == FORMATS["m4a"]
    assert len(marked.data) > 0.9 * len(original)  # not a lower rate under the same name (the manifest adds some)
    assert marked.report.watermark is not None
    assert not any("not readable" in note for note in marked.report.notes)


def test_a_watermark_that_does_not_read_back_is_not_claimed(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiact_transparency.provenance.audio import marker

    def lost(samples: object, rate: int) -> AudioWatermarkDetection:  # fault: the encode destroyed the mark
        return AudioWatermarkDetection(False, None, 0.0, 1.0, "injected")

    monkeypatch.setattr(marker, "detect_audio_watermark", lost)
    monkeypatch.setattr(marker, "reads_back_at_origin", lambda samples, rate, payload: False)
    marked = AudioMarker(config()).mark(clip(FORMATS["mp3"]))
    assert marked.report.re_encoded and marked.report.watermark is None
    assert any(n.startswith("watermark embedded but not readable after the MP3 encode at 128 kbit/s")
               for n in marked.report.notes)
    assert verify(marked.data).c2pa["soft_binding_alg"] is None  # the manifest promises no watermark


def steady_chord(seconds: float, rate: int) -> np.ndarray:
    """The audio bench's steady chord (220-1320 Hz, a slow swell, a noise tick twice a second), stereo: sound on
    which the embedder misses a lattice target for about one item id in 16 at 6 s (25 of 400 measured)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220, 330, 440, 660, 880, 1320)))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9) * rng.standard_normal(len(t)) * 0.3
    mono = 0.2 * tone * (1 + 0.5 * np.sin(2 * np.pi * 0.25 * t)) + beat
    return (np.stack([mono, 0.8 * mono], axis=1) * 0.5).astype(np.float32)


def drawn_ids(monkeypatch: pytest.MonkeyPatch, ids: list[int]) -> list[int]:
    """Pin the marker's random item ids to `ids`, in order; returns the list of those drawn."""
    from aiact_transparency.provenance.audio import marker

    drawn: list[int] = []
    queue = iter(ids)

    def next_id(bits: int) -> int:
        drawn.append(next(queue))
        return drawn[-1]

    monkeypatch.setattr(marker.secrets, "randbits", next_id)
    return drawn


def test_a_mark_that_does_not_read_back_is_made_again_under_a_fresh_item_id(monkeypatch: pytest.MonkeyPatch) -> None:
    # Item id 1 does not read back from this chord even losslessly (the real embedder and detector); 2 does.
    drawn = drawn_ids(monkeypatch, [1, 2, 3])
    audio_marker = AudioMarker(config())
    marked = audio_marker.mark(encode_audio(steady_chord(6.0, 48_000), FORMATS["wav"]))
    assert drawn == [1, 2]
    assert marked.report.watermark is not None and marked.report.watermark["item_id"] == 2
    assert any(n.startswith("watermark claimed under the second item id tried: the first did not read back after "
                            "the WAV encode") for n in marked.report.notes)
    # One word, not two: the output is the unmarked clip marked under id 2 alone, sample for sample.
    original = decode_audio(encode_audio(steady_chord(6.0, 48_000), FORMATS["wav"])).samples
    alone = embed_audio_watermark(original, 48_000, WatermarkPayload(audio_marker.maker.system_id, 2))
    expected = decode_audio(encode_audio(alone, FORMATS["wav"])).samples
    assert np.array_equal(decode_audio(marked.data).samples, expected)
    found = verify(marked.data)
    assert found.watermark["found"] and found.watermark["payload"]["item_id"] == 2
    assert found.c2pa["soft_binding_alg"] == SOFT_BINDING_ALG
    assert found.c2pa["soft_binding_value"] == marked.report.watermark["value"]


def test_a_mark_the_lossy_encode_lost_is_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # White noise: the embedder places the word (it reads back from the float samples), MP3 then loses it.
    # Another id would fare no better (0 of 12 measured), so no second embed and encode is spent on it.
    drawn = drawn_ids(monkeypatch, [7, 8, 9])
    noise = (0.2 * np.random.default_rng(3).standard_normal((4 * 44_100, 2))).astype(np.float32)
    marked = AudioMarker(config()).mark(encode_audio(noise, FORMATS["mp3"]))
    assert drawn == [7] and marked.report.watermark is None
    assert "watermark embedded but not readable after the MP3 encode at 128 kbit/s: not claimed (no soft " \
        "binding)" in marked.report.notes


def test_this_systems_earlier_mark_that_does_not_read_back_is_kept_not_made_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aiact_transparency.provenance.audio import marker

    audio_marker = AudioMarker(config())
    samples = decode_audio(clip(FORMATS["wav"])).samples
    earlier = embed_audio_watermark(samples, 48_000, WatermarkPayload(audio_marker.maker.system_id, 5))
    resent = encode_audio(earlier, FORMATS["wav"])  # marked before, sent back without its manifest

    def lost(samples: object, rate: int) -> AudioWatermarkDetection:  # fault: the encode destroyed the mark
        return AudioWatermarkDetection(False, None, 0.0, 1.0, "injected")

    monkeypatch.setattr(marker, "detect_audio_watermark", lost)
    monkeypatch.setattr(marker, "reads_back_at_origin", lambda samples, rate, payload: False)
    drawn = drawn_ids(monkeypatch, [1, 2, 3])
    report = audio_marker.mark(resent).report
    assert len(drawn) == 1 and report.watermark is None  # nothing embedded again, no id drawn twice
    assert [n for n in report.notes if n.startswith("already carries")] == [
        "already carries this system's watermark (item id 000005): kept, not embedded again"]
    assert "the watermark it already carried does not read back after the WAV encode: not claimed (no soft " \
        "binding)" in report.notes


def test_no_claim_once_every_attempt_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # 15, 36 and 56 all miss on this chord (measured with the real embedder and detector).
    from aiact_transparency.provenance.audio.marker import MARK_ATTEMPTS

    drawn = drawn_ids(monkeypatch, [15, 36, 56, 4])
    marked = AudioMarker(config()).mark(encode_audio(steady_chord(6.0, 48_000), FORMATS["wav"]))
    assert MARK_ATTEMPTS == 3 and drawn == [15, 36, 56]
    assert marked.report.watermark is None
    assert "watermark embedded but not readable after the WAV encode with any of 3 item ids: not claimed (no soft " \
        "binding)" in marked.report.notes
    assert verify(marked.data).c2pa["soft_binding_alg"] is None


def test_unmarked_audio_verifies_as_unmarked() -> None:
    found = verify(clip(FORMATS["mp3"]))
    assert not found.marked and not found.c2pa["found"] and not found.watermark["found"]


def test_exiftool_reads_the_wav_xmp(tmp_path: Path) -> None:
    exiftool = require_tool("exiftool")
    path = tmp_path / "marked.wav"
    path.write_bytes(mark_audio(clip(FORMATS["wav"]), config=config()).data)
    out = subprocess.run([exiftool, "-j", "-XMP:all", str(path)], capture_output=True, check=True, text=True)
    tags = json.loads(out.stdout)[0]
    assert tags["DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA_URI and tags["AISystemUsed"] == "acme/voice-1"


def test_marking_is_idempotent_and_a_foreign_manifest_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = mark_audio(clip(FORMATS["wav"]), config=config())
    again = mark_audio(first.data, config=config())
    assert again.report.already_marked and again.data == first.data
    monkeypatch.setenv("AIACT_KEYS_DIR", str(tmp_path / "other-keys"))  # another signer: a foreign manifest
    other = AudioMarker(config("Other System")).mark(first.data)
    assert not other.report.already_marked and any("kept as an ingredient" in n for n in other.report.notes)
    store = store_of(other.data, "audio/wav")
    active = store["manifests"][store["active_manifest"]]  # type: ignore[index]
    assert len(store["manifests"]) == 2 and [i["relationship"] for i in active["ingredients"]] == ["componentOf"]
    assert verify(other.data).c2pa["valid"]


def test_a_clip_under_two_seconds_gets_no_watermark_and_the_report_says_so() -> None:
    marked = mark_audio(clip(FORMATS["wav"], seconds=1.5), config=config())
    assert marked.report.watermark is None and not marked.report.re_encoded
    assert any(n.startswith("no watermark: audio of 1.50 s is too short") for n in marked.report.notes)
    found = verify(marked.data)
    assert found.c2pa["valid"] and found.c2pa["soft_binding_alg"] is None and not found.watermark["found"]


def test_layers_switched_off_are_not_written() -> None:
    marked = mark_audio(clip(FORMATS["flac"]), config=config(watermark=False, c2pa=False))
    assert marked.report.watermark is None and marked.report.c2pa is None and not marked.report.re_encoded
    assert not verify(marked.data).marked


def test_the_generic_mark_dispatches_audio_by_declared_or_sniffed_type() -> None:
    data = clip(FORMATS["mp3"])
    for declared in (None, "audio/mpeg", "audio/mp3", "application/octet-stream"):
        marked = mark(data, declared, config=config())
        assert marked.media_type == "audio/mpeg", declared
        assert any(n.startswith("declared as") for n in marked.report.notes) == (declared == "application/octet-stream")


def _float_wav() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.zeros((48_000, 1), np.float32), 48_000, subtype="FLOAT", format="WAV")
    return out.getvalue()


def _wav(channels: int = 1, rate: int = 48_000, seconds: float = 3.0) -> bytes:
    out = io.BytesIO()
    rng = np.random.default_rng(1)
    sf.write(out, 0.1 * rng.standard_normal((int(rate * seconds), channels)), rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (lambda: b"", CorruptAudioError, "zero bytes"),
        (lambda: clip(FORMATS["wav"])[:5000], CorruptAudioError, "truncated"),
        (lambda: clip(FORMATS["mp3"])[:40] + bytes(4000), CorruptAudioError, "MP3"),
        (lambda: _wav(seconds=12.0), AudioTooLongError, r"max_seconds = 10"),
        (lambda: _wav(channels=8), UnsupportedAudioLayoutError, "8 channels"),
        (lambda: _wav(rate=8000), UnsupportedAudioLayoutError, "8000 Hz"),
        (_float_wav, UnsupportedAudioError, "FLOAT"),
        (lambda: b"OggS" + bytes(100), UnsupportedAudioError, "audio/ogg is not markable"),
    ],
    ids=["empty", "truncated-wav", "corrupt-mp3", "too-long", "8-channels", "8-khz", "float", "ogg"],
)
def test_bad_input_is_refused_with_a_named_error(data: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        AudioMarker(config(max_seconds=10.0)).mark(data())  # type: ignore[operator]
    assert isinstance(caught.value, MarkingError)  # what the media responder turns into on_error


def test_over_max_bytes_is_refused_before_decoding() -> None:
    with pytest.raises(AudioTooLongError, match=r"audio\.max_bytes = 2048"):
        AudioMarker(config(max_bytes=2048)).mark(_wav())


def test_an_mp4_video_is_not_re_encoded_as_audio(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    path = tmp_path / "video.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-shortest", "-c:a", "aac",
                    "-brand", "mp42", str(path)], check=True)
    # Its track handlers say video: it is video/mp4, for the video medium (provenance/video/)
    with pytest.raises(UnsupportedAudioError, match="video/mp4 is not markable here"):
        mark_audio(path.read_bytes(), config=config())


def test_a_clip_marked_before_keeps_its_one_watermark_when_marked_again() -> None:
    """Issue 12: a marked WAV once read back another valid payload than the one embedded. Marking a clip that
    already carries a watermark (here: no manifest to say so) used to put a second word on top, and the
    detector could report either. Now this system keeps its own word (and claims it again), another system
    does not mark over it, and the detector reads exactly one word from the result."""
    unsigned = config(c2pa=False)
    first = mark_audio(clip(FORMATS["wav"]), config=unsigned)
    assert first.report.watermark is not None
    again = mark_audio(first.data, config=unsigned)
    assert again.report.watermark == first.report.watermark
    assert any("already carries this system's watermark" in n for n in again.report.notes)
    other = mark_audio(first.data, config=config("Other System", c2pa=False))
    assert other.report.watermark is None
    assert any("already carries a watermark" in n and "not watermarked again" in n for n in other.report.notes)
    for marked in (again, other):
        decoded = decode_audio(marked.data)
        found = detect_audio_watermark(decoded.samples, decoded.format.rate)
        assert found.found and found.other_payloads == ()
        assert found.to_dict()["payload"] == {"system_id": first.report.watermark["system_id"],
                                              "item_id": first.report.watermark["item_id"]}
