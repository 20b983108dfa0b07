"""The audio watermark on 40 short varied clips (real espeak-ng speech, synthesised music and noise, silences;
mono and stereo; 16-48 kHz), attacked through the real codecs. The issue's thresholds are asserted per attack
(scheme v4 reaches them all here; white noise at 20 dB was a strict xfail until v4: v3 88 %, then 92 % with the
broadband noise floor). bench/audio_robustness.py prints the full table on longer clips."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from aiact_transparency.provenance.audio.watermark import (
    FALSE_POSITIVE_LIMIT,
    MIN_SECONDS,
    SCHEME,
    AudioAlreadyWatermarkedError,
    AudioWatermarkCapacityError,
    detect_audio_watermark,
    embed_audio_watermark,
    reads_back_at_origin,
)
from aiact_transparency.provenance.payload import WatermarkPayload, system_id_for
from tests.tools import require_module, require_tool

from .attacks import (
    ATTACKS,
    TARGET,
    Row,
    found_rates,
    is_speech,
    max_band_boost_db,
    pesq_scores,
    robustness,
    table,
    white_noise,
)
from .clips import clip_set, music, speech

OURS = WatermarkPayload(system_id_for("aiact-test-system"), 0x00BEEF)
THEIRS = WatermarkPayload(system_id_for("someone-else"), 0x00BEEF)
# The table marks every clip twice, under two item ids: whether a marginal clip reads back depends on the word
# as well as the sound (in use the id is random), and one word's luck is not the figure. The bench marks 3.
TABLE_PAYLOADS = (OURS, WatermarkPayload(OURS.system_id, 0x0A0B0C))


@pytest.fixture(scope="module")
def rows() -> Iterator[list[Row]]:
    require_tool("espeak-ng")
    require_module("av")
    result = robustness(clip_set(40, (3.0, 6.0)), TABLE_PAYLOADS, THEIRS)
    print("\n" + table(result))
    yield result


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_found_after_each_attack(rows: list[Row], attack: str) -> None:
    rate = found_rates(rows)[attack]
    missed = [f"{r.clip.name} (item {r.payload.image_id:06x})" for r in rows if not r.found[attack]]
    assert rate >= TARGET, f"{attack}: found in {100 * rate:.0f}% of clips, missed {missed}"


def test_no_false_detection_on_unmarked_clips(rows: list[Row]) -> None:
    assert [r.clip.name for r in rows if r.unmarked_false] == []


def test_another_systems_mark_is_not_read_as_ours(rows: list[Row]) -> None:
    assert [r.clip.name for r in rows if r.other_system_as_ours] == []


def test_imperceptible(rows: list[Row]) -> None:
    assert min(r.snr for r in rows) >= 30.0, [(r.clip.name, round(r.snr, 1)) for r in rows if r.snr < 30]
    assert min(r.seg_snr for r in rows) >= 25.0
    # no third-octave band is raised by more than 0.5 dB (a level step about a third of the usual 1 dB JND)
    assert max(r.band_boost for r in rows) <= 0.5


def test_speech_keeps_its_quality_by_wideband_pesq(rows: list[Row]) -> None:
    # ITU-T P.862.2 through the `pesq` package (ITU's reference code), on every marked speech clip (26 of the
    # 40, with and without silences, each under both ids). Measured 4.32-4.59 of 4.64; the same clips through
    # MP3 at 128 kbit/s, unmarked, score 4.01-4.63.
    require_module("pesq")
    speech_rows = [r for r in rows if is_speech(r.clip)]
    scores = {(r.clip.name, r.payload.image_id): r.pesq for r in speech_rows}
    assert len({r.clip.name for r in speech_rows}) >= 20 and all(r.pesq is not None for r in speech_rows), scores
    assert min(pesq_scores(speech_rows)) >= 4.2, scores


def test_clips_under_two_seconds_get_no_watermark() -> None:
    short = np.zeros((int(1.99 * 16_000), 1), dtype=np.float32)
    with pytest.raises(AudioWatermarkCapacityError, match="under 2 s are not watermarked"):
        embed_audio_watermark(short, 16_000, OURS)
    assert MIN_SECONDS == 2.0


def test_a_clip_cut_out_of_a_longer_one_reads() -> None:
    require_tool("espeak-ng")
    rate = 44_100
    long = speech("de", 12.0, rate)[:, None]
    marked = embed_audio_watermark(long, rate, OURS)
    piece = marked[int(5.123 * rate) : int(8.123 * rate)]  # any 3 s window, not aligned to anything
    result = detect_audio_watermark(piece, rate)
    assert result.found and result.payload == OURS
    assert 0 < result.false_positive_probability <= FALSE_POSITIVE_LIMIT
    assert result.to_dict()["scheme"] == SCHEME


def test_silence_and_noise_are_not_marks() -> None:
    rng = np.random.default_rng(3)
    for samples in (np.zeros((48_000 * 5, 2), np.float32), rng.standard_normal((48_000 * 5, 1)).astype(np.float32)):
        result = detect_audio_watermark(samples, 48_000)
        assert not result.found and result.payload is None and result.false_positive_probability == 1.0


def test_silent_frames_stay_silent_and_shape_is_kept() -> None:
    rate = 22_050
    tune = music(4.0, rate, np.random.default_rng(5))
    tune[rate : 2 * rate] = 0.0
    marked = embed_audio_watermark(tune, rate, OURS)
    assert marked.shape == tune.shape and marked.dtype == np.float32
    # digital silence gets at most the resampling filter's tail of the neighbouring mark, far below hearing
    assert np.max(np.abs(marked[rate + 2000 : 2 * rate - 2000])) < 1e-4


def test_detection_reports_its_evidence() -> None:
    rate = 16_000
    tune = music(5.0, rate, np.random.default_rng(9))[:, None]
    result = detect_audio_watermark(embed_audio_watermark(tune, rate, OURS), rate)
    assert result.found and result.payload == OURS
    assert result.bit_agreement > 0.8 and result.frames_read > 100
    assert result.readings * 2.0**-33 == pytest.approx(result.false_positive_probability)
    as_dict = result.to_dict()
    assert as_dict["payload"] == {"system_id": OURS.system_id, "item_id": OURS.image_id}
    assert "2**-33" in str(as_dict["based_on"])


def test_the_read_back_shortcut_confirms_only_what_the_detector_finds() -> None:
    """reads_back_at_origin (the marker's cheap read-back) on short and long (> 16 s: the detector chooses its
    offsets) clips, each quantised to 16 bits as a WAV holds it: where it says True the detector finds the
    same payload; it says True for the embedder's own output, False once the grid moved, for unmarked clips
    and for another payload."""
    require_tool("espeak-ng")
    rng = np.random.default_rng(21)
    cases = [(music(5.0, 22_050, rng)[:, None], 22_050), (music(18.0, 48_000, rng)[:, None], 48_000),
             (np.repeat(speech("fr", 20.0, 16_000)[:, None], 2, axis=1), 16_000)]
    for samples, rate in cases:
        marked = np.round(embed_audio_watermark(samples, rate, OURS) * 32767) / 32767
        assert reads_back_at_origin(marked, rate, OURS)
        found = detect_audio_watermark(marked, rate)
        assert found.found and found.payload == OURS
        assert not reads_back_at_origin(marked, rate, THEIRS)
        assert not reads_back_at_origin(samples, rate, OURS)
        moved = marked[rate // 3 :]  # a cut: the mark no longer starts at sample 0
        assert not reads_back_at_origin(moved, rate, OURS)


def test_a_gap_at_the_same_phase_of_every_copy_is_bridged() -> None:
    """Digital silence over 6 blocks (192 ms) of every 29-block copy of the word: the same cells are lost in
    every copy, as a rhythm's pauses or a codec's bad stretch lose them. The interleaver (scheme v3) turns them
    into scattered erasures the convolutional code bridges; v2's consecutive layout made them one burst."""
    rate = 16_000
    tune = music(6.0, rate, np.random.default_rng(11))[:, None]
    marked = embed_audio_watermark(tune, rate, OURS)
    block, period = 512, 29 * 512
    for start in range(10 * block, len(marked), period):
        marked[start : start + 6 * block] = 0.0
    result = detect_audio_watermark(marked, rate)
    assert result.found and result.payload == OURS


def test_sustained_music_at_22k_is_found_under_white_noise_and_no_band_is_boosted() -> None:
    """Clip 09 of the test set: sustained chords at 22.05 kHz (a strong tone at 163 Hz), so nearly all of the
    added noise falls in the watermark's band. Its tiles sit at their own 10th-percentile floor; the votes'
    noise floor is capped at a multiple of the broadband one, so they keep their weight while the tiles buried
    in the noise lose theirs (the per-tile floor alone, with a reliability floor of 0.15, missed this clip).
    The tile below 187.5 Hz takes only part of its gain (scheme v4's LOW_GAIN): at the full gain the tone's
    sidebands raised the third-octave band below it by 1.1 dB."""
    rate = 22_050
    tune = music(3.6, rate, np.random.default_rng([20261201, 9]), drums=False, sustain=True)[:, None]
    marked = embed_audio_watermark(tune, rate, OURS)
    assert max_band_boost_db(tune, marked, rate) <= 0.5
    result = detect_audio_watermark(white_noise(marked, 20.0), rate)
    assert result.found and result.payload == OURS


def test_a_marked_clip_is_not_marked_again_on_its_grid() -> None:
    rate = 22_050
    marked = embed_audio_watermark(music(4.0, rate, np.random.default_rng(13)), rate, THEIRS)
    with pytest.raises(AudioAlreadyWatermarkedError, match="already carries a watermark") as refused:
        embed_audio_watermark(marked, rate, OURS)
    assert refused.value.payload == THEIRS


def test_two_marks_on_different_grids_are_both_reported() -> None:
    """A marked clip cut (its grid moves) and marked again carries two valid words; the detector reports the
    stronger one and names the other, instead of silently claiming one of them. (Measured: the older word
    still passes in about 2 of 3 such clips; this one is among them.)"""
    rate = 16_000
    first = embed_audio_watermark(music(5.0, rate, np.random.default_rng(19))[:, None], rate, THEIRS)
    twice = embed_audio_watermark(first[777:], rate, OURS)
    result = detect_audio_watermark(twice, rate)
    assert result.found and result.payload == OURS and result.other_payloads == (THEIRS,)
    assert result.to_dict()["other_payloads"] == [{"system_id": THEIRS.system_id, "item_id": THEIRS.image_id}]
    assert "several marks" in result.based_on
    single = detect_audio_watermark(first, rate)
    assert single.payload == THEIRS and single.other_payloads == () and "several" not in single.based_on
