"""The issue's attacks on a marked clip, through the real codecs (LAME and FFmpeg's AAC encoder via PyAV),
and the robustness table the test suite asserts and bench/audio_robustness.py prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from aiact_transparency.provenance.audio._stft import resample
from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio
from aiact_transparency.provenance.audio.watermark import (
    AudioWatermarkCapacityError,
    WatermarkPayload,
    detect_audio_watermark,
    embed_audio_watermark,
)

from .clips import F32, Clip

Attack = Callable[[F32, int], tuple[F32, int]]


def through_codec(name: str, samples: F32, rate: int, kbit: int = 128) -> F32:
    fmt = AudioFormat(name, rate, samples.shape[1], bit_rate=kbit * 1000, lossless=False)
    return decode_audio(encode_audio(samples, fmt), fmt.media_type).samples


def white_noise(samples: F32, snr_db: float, seed: int = 7) -> F32:
    power = float(np.mean(samples.astype(np.float64) ** 2))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(samples.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


ATTACKS: dict[str, Attack] = {
    "none": lambda x, r: (x, r),
    "mp3-128k": lambda x, r: (through_codec("mp3", x, r), r),
    "aac-128k": lambda x, r: (through_codec("m4a", x, r), r),
    "resample-16k": lambda x, r: (resample(x, r, 16_000), 16_000),
    "gain+6dB": lambda x, r: (x * np.float32(10 ** (6 / 20)), r),
    "gain-6dB": lambda x, r: (x * np.float32(10 ** (-6 / 20)), r),
    "cut-1.5s": lambda x, r: (x[int(1.5 * r) :], r),
    "noise-20dB": lambda x, r: (white_noise(x, 20.0), r),
}
TARGET = 0.95


def snr_db(reference: F32, test: F32) -> float:
    err = float(np.sum((test.astype(np.float64) - reference) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(reference.astype(np.float64) ** 2)) / err)


def segmental_snr_db(reference: F32, test: F32, rate: int, frame_s: float = 0.02) -> float:
    """Mean per-frame SNR (frames 20 ms, each clamped to [-10, 35] dB, digital-silence frames skipped): the
    usual segmental SNR, which a loud passage cannot hide a quiet passage's damage behind."""
    n = max(1, int(frame_s * rate))
    count = len(reference) // n
    ref = reference[: count * n].astype(np.float64).reshape(count, n, -1)
    err = test[: count * n].astype(np.float64).reshape(count, n, -1) - ref
    sig_e, err_e = (ref**2).sum(axis=(1, 2)), (err**2).sum(axis=(1, 2))
    keep = sig_e > 1e-10
    if not keep.any():
        return float("inf")
    seg = 10 * np.log10(sig_e[keep] / np.maximum(err_e[keep], 1e-20))
    return float(np.mean(np.clip(seg, -10, 35)))


def pesq_wideband(reference: F32, test: F32, rate: int) -> float | None:
    """ITU-T P.862.2 wideband PESQ (MOS-LQO, 1.0-4.64) of the marked clip against the original, mid channel at
    16 kHz, through the `pesq` package (ITU's reference code): a listening-free quality score, defined for
    speech only (None when the clip holds no speech PESQ can align on)."""
    try:
        from pesq import PesqError, pesq
    except ImportError:  # the table is still made; the PESQ test requires the package itself (fails in CI)
        return None

    ref = resample(reference.mean(axis=1, dtype=np.float64).astype(np.float32), rate, 16_000).astype(np.float64)
    deg = resample(test.mean(axis=1, dtype=np.float64).astype(np.float32), rate, 16_000).astype(np.float64)
    try:
        return float(pesq(16_000, ref, deg, "wb"))
    except PesqError:
        return None


def max_band_boost_db(reference: F32, test: F32, rate: int) -> float:
    """Largest level increase of the marked clip over the original in any third-octave band from 100 Hz to
    Nyquist (whole clip, mid channel): the listening-free check that no band is audibly boosted."""
    ref_spec = np.abs(np.fft.rfft(reference.mean(axis=1).astype(np.float64))) ** 2
    test_spec = np.abs(np.fft.rfft(test.mean(axis=1).astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(reference), 1 / rate)
    worst = -np.inf
    lo = 100.0
    while lo * 2 ** (1 / 3) < rate / 2:
        band = (freqs >= lo) & (freqs < lo * 2 ** (1 / 3))
        ref_e = ref_spec[band].sum()
        if ref_e > 1e-6 * ref_spec.sum():  # bands with (almost) nothing in them cannot be heard boosted
            worst = max(worst, 10 * np.log10(test_spec[band].sum() / ref_e))
        lo *= 2 ** (1 / 3)
    return float(worst)


@dataclass
class Row:
    clip: Clip
    payload: WatermarkPayload  # the word marked into this row's copy of the clip
    snr: float
    seg_snr: float
    band_boost: float
    pesq: float | None = None  # wideband PESQ, speech clips only (`pesq_wideband`)
    found: dict[str, bool] = field(default_factory=dict)
    unmarked_false: bool = False
    other_system_as_ours: bool = False


def robustness(clips: Sequence[Clip], ours: Sequence[WatermarkPayload], theirs: WatermarkPayload,
               attacks: Sequence[str] | None = None) -> list[Row]:
    """Mark each clip with each payload of `ours` (a row each), attack it every way (or only the named
    `attacks`), read it back; also read the unmarked clip and one marked by another system (once per clip, on
    its first row). Several payloads because whether a marginal clip reads back depends on the word as well
    as the sound, and item ids are random in use: the rates over every (clip, payload) row are the figure.
    Clips under the watermark's minimum length are skipped by the caller."""
    names = list(ATTACKS) if attacks is None else list(attacks)
    rows = []
    for clip in clips:
        for number, payload in enumerate(ours):
            marked = embed_audio_watermark(clip.samples, clip.rate, payload)
            row = Row(
                clip,
                payload,
                snr_db(clip.samples, marked),
                segmental_snr_db(clip.samples, marked, clip.rate),
                max_band_boost_db(clip.samples, marked, clip.rate),
                pesq_wideband(clip.samples, marked, clip.rate) if is_speech(clip) else None,
            )
            for name in names:
                attacked, rate = ATTACKS[name](marked, clip.rate)
                result = detect_audio_watermark(attacked, rate)
                row.found[name] = result.found and result.payload == payload
            if number == 0:
                row.unmarked_false = detect_audio_watermark(clip.samples, clip.rate).found
                other = detect_audio_watermark(embed_audio_watermark(clip.samples, clip.rate, theirs), clip.rate)
                row.other_system_as_ours = other.found and other.payload is not None and (
                    other.payload.system_id in {p.system_id for p in ours}
                )
            rows.append(row)
    return rows


def is_speech(clip: Clip) -> bool:
    """Speech from espeak-ng, with or without silences: the clips PESQ is defined for."""
    return "speech" in clip.name


def pesq_scores(rows: Sequence[Row]) -> list[float]:
    return [r.pesq for r in rows if r.pesq is not None]


def found_rates(rows: Sequence[Row]) -> dict[str, float]:
    """Per attack the rows were read after (every attack unless `robustness` was given a subset)."""
    return {name: sum(r.found[name] for r in rows) / len(rows) for name in ATTACKS if rows and name in rows[0].found}


def table(rows: Sequence[Row]) -> str:
    names = list(found_rates(rows))
    head = f"{'clip':34s} {'item':>6s} {'s':>5s} {'SNR':>5s} {'segSNR':>6s} {'boost':>6s} {'PESQ':>5s}  "
    lines = [head + " ".join(f"{n:>12s}" for n in names)]
    for r in rows:
        lines.append(
            f"{r.clip.name:34s} {r.payload.image_id:06x} {r.clip.seconds:5.1f} {r.snr:5.1f} {r.seg_snr:6.1f} "
            f"{r.band_boost:6.2f} "
            f"{'' if r.pesq is None else f'{r.pesq:.2f}':>5s}  "
            + " ".join(f"{'yes' if r.found[n] else '-':>12s}" for n in names)
        )
    rates = found_rates(rows)
    scores = pesq_scores(rows)
    lines.append(
        f"{'found rate':34s} {'':6s} {'':5s} {min(r.snr for r in rows):5.1f} {min(r.seg_snr for r in rows):6.1f} "
        f"{max(r.band_boost for r in rows):6.2f} {f'{min(scores):.2f}' if scores else '':>5s}  "
        + " ".join(f"{100 * rates[n]:11.0f}%" for n in names)
    )
    lines.append(
        f"min SNR / min segmental SNR / max third-octave boost (dB) over {len(rows)} marked clips "
        f"({len({r.clip.name for r in rows})} clips x {len({r.payload for r in rows})} payloads), min wideband PESQ "
        f"over the {len(scores)} marked speech clips; false detections: "
        f"unmarked {sum(r.unmarked_false for r in rows)}, other system read as ours "
        f"{sum(r.other_system_as_ours for r in rows)}; target >= {100 * TARGET:.0f}% per attack"
    )
    return "\n".join(lines)


def too_short(clip: Clip) -> bool:
    try:
        embed_audio_watermark(clip.samples, clip.rate, WatermarkPayload(1, 1))
    except AudioWatermarkCapacityError:
        return True
    return False
