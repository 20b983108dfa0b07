"""What the audio watermark reads on its 16 kHz blocks: the public tile patterns, each slot's log energy ratio,
and how much each vote counts. Shared by the embedder and the detector (`watermark`)."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from ..payload import WORD_BITS
from ._conv import coded_length
from ._stft import F32

SLOTS = 6
CODED_BITS = coded_length(WORD_BITS)  # 174: the word, a zero tail, rate 1/2
PERIOD = CODED_BITS // SLOTS  # blocks per coded word: 29 blocks, 0.93 s
# STFT bins [lo, hi) at 16 kHz / 512: 125 Hz to 7031 Hz (both codecs keep the low end best). v4 starts one
# tile below v3 (187.5 Hz): under white noise, loud low notes and voices are where the mark stands above the
# noise (20 dB white noise on the 40 test clips: 92 -> 95 %). Measured and not taken: 62.5 Hz, whose bins
# hold the sqrt-Hann window's leakage of whatever lies below (brown noise's sub-audio energy), which the
# gains re-synthesise as real 62-125 Hz sound (third-octave boost 1.6 dB); 93.75 and 156.25 Hz (odd bins,
# full gain) did not find the missed music.
BAND = (4, 226)
TILE = 2  # adjacent bins per tile (62.5 Hz): narrow enough that every slot has strong tiles in speech
# The tiles below 187.5 Hz (one) take LOW_GAIN of the gain their side asks for. A gain that changes every
# 32 ms block spreads its tile's content over about +-31 Hz, and below 190 Hz a third-octave band is narrower
# than that: a strong low tone's sidebands raised the next band down at the full gain (sustained
# music at 163 Hz: 0.7-1.1 dB), 0.1-0.2 dB at 0.35. The passes let the other tiles make up the difference. Measured: 0
# loses two clips after noise (the tile is then read but not moved), 0.25 and 0.5 two each after AAC.
LOW_TILES = 1
LOW_GAIN = 0.35
_GATE_DB = -60.0  # frames this far below the clip's loud frames carry (and are read for) nothing
_PATTERN_LABEL = b"aiact-transparency/audio-watermark/v1"
# Measured with the broadband floor below: 0.05 finds two more of the 40 test clips after white noise than 0.15
# (0.15 was needed while each tile's floor was its own, which a steady tone sits at; see `slot_reliability`).
_RELIABILITY_FLOOR = 0.05
_BROADBAND_FACTOR = 4.0  # a tile's noise floor is at most this times the broadband floor
_FLOOR = 0.001  # share of the frame's mean tile energy added to every tile: empty tiles stay stable


def patterns() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Public, fixed: each tile's sign in each slot (tiles x SLOTS: +1, -1, or 0 where the tile is another
    slot's) and the per-bit dithers. Locally balanced: every run of 2 * SLOTS adjacent tiles gives each slot
    one +1 and one -1 tile (in a seeded random order), so every slot compares energies across the whole band
    and wherever the sound is strong, each slot has strong tiles on both sides of its ratio."""
    seed = int.from_bytes(hashlib.sha256(_PATTERN_LABEL).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    tiles = (BAND[1] - BAND[0]) // TILE
    signs = np.zeros((tiles, SLOTS), dtype=np.float32)
    run = 2 * SLOTS
    for start in range(0, tiles - run + 1, run):
        for k, member in enumerate(rng.permutation(run)):
            signs[start + member, k // 2] = 1.0 if k % 2 == 0 else -1.0
    return signs, rng.random(CODED_BITS)


SIGNS, DITHER = patterns()
# Where each coded bit lives: coded bit k in cell (position 4k mod PERIOD, slot k mod SLOTS), a cell being
# position * SLOTS + slot (a bijection: PERIOD = 29 and SLOTS = 6 are coprime). A convolutional code fails on
# bursts, and the weak cells of a short clip come in runs of positions (a pause, a quiet passage, a codec's
# bad stretch at the same phase of every copy); v2 put consecutive coded bits in consecutive cells, so a run
# of weak positions was a burst the decoder could not bridge (most of v2's misses after AAC and noise). Here
# coded bits within 7 of each other are at least 4 positions (128 ms) apart, and those sharing a block 29.
_CODED = np.arange(CODED_BITS)
CELL_OF_BIT = (_CODED * 4 % PERIOD) * SLOTS + _CODED % SLOTS
# Each slot's +1 and -1 tiles, (SLOTS, tiles per side): every slot has one of each per run, so as many.
PLUS_TILES = np.stack([np.flatnonzero(SIGNS[:, s] > 0) for s in range(SLOTS)])
MINUS_TILES = np.stack([np.flatnonzero(SIGNS[:, s] < 0) for s in range(SLOTS)])


def side_sums(values: F32, tiles: npt.NDArray[np.intp]) -> F32:
    """Per frame and slot, the sum of `values` (frames, tiles) over the slot's `tiles` (PLUS_TILES or
    MINUS_TILES). A gather, not a matrix product: numpy would hand a product to a multithreaded BLAS, whose
    threads, for products this small, cost more CPU than the work (3x the embedder's on a busy machine)."""
    sums: F32 = values[:, tiles].sum(axis=2, dtype=np.float32)
    return sums


def spread(per_slot_plus: F32, per_slot_minus: F32, tile_count: int) -> F32:
    """The inverse of `side_sums`: (frames, tiles) holding each slot's value on its +1 tiles and the other value
    on its -1 tiles (0 on tiles no slot owns)."""
    out = np.zeros((len(per_slot_plus), tile_count), dtype=np.float32)
    out[:, PLUS_TILES] = per_slot_plus[:, :, None]
    out[:, MINUS_TILES] = per_slot_minus[:, :, None]
    return out


def vote_weights(power: F32, active: npt.NDArray[np.bool_]) -> F32:
    """Per frame, how much its votes count: quiet frames (pauses, fades) are where added noise or a codec
    rewrites the spectrum, so a frame at the clip's median active level counts half, 10 dB below it 1/11."""
    level = power.mean(axis=1)
    if not active.any():
        return np.zeros(len(level), dtype=np.float32)
    ref = 1.0 * float(np.median(level[active]))
    weights: F32 = np.where(active, level / (level + ref), 0.0).astype(np.float32)
    return weights


def tile_power(spectra: npt.NDArray[np.complex64]) -> F32:
    band = spectra[:, BAND[0] : BAND[1]]
    power: F32 = (band.real**2 + band.imag**2).reshape(len(band), -1, TILE).sum(axis=2)
    return power


def projections(power: F32) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Per frame and slot: half the log of the slot's +1 tiles' energy over its -1 tiles' energy (a log rms
    magnitude ratio: any gain cancels, strong tiles dominate, weak ones a codec or noise rewrites hardly
    count), and the energy gate. A floor of `_FLOOR` times the frame's mean tile energy keeps empty groups finite."""
    level = power.mean(axis=1)
    loud = np.percentile(level, 95) if len(level) else 0.0
    active = (level > loud * 10 ** (_GATE_DB / 10)) & (level > 1e-14)
    floor = (_FLOOR * level + 1e-20)[:, None]
    plus, minus = side_sums(power, PLUS_TILES) + floor, side_sums(power, MINUS_TILES) + floor
    proj: F32 = (0.5 * (np.log(plus) - np.log(minus))).astype(np.float32)
    return proj, active


def slot_reliability(power: F32) -> F32:
    """Per frame and slot, in [0.05, 1): how far the weaker side of the ratio stands above the noise. A tile's
    own floor is its 10th-percentile energy over the clip (pauses, or the quietest tenth of the frames); a side
    with little energy above it is a ratio to noise, which added noise moves at will. The weight grows about
    linearly with that signal-to-noise ratio up to 30 (the usual SNR weighting of soft votes), then saturates.

    Added noise is broadband: its floor is about the same in every tile, and the quietest tiles' floors show it
    (the broadband floor: the 10th percentile of the tiles' floors). A tile whose own floor stands far above
    that is not noisy but steady (a sustained tone sits at its own 10th percentile), so its floor is capped at
    `_BROADBAND_FACTOR` times the broadband one: a sustained chord keeps its votes, and the weight can go
    down to `_RELIABILITY_FLOOR` where a side is buried in noise (with each tile's own floor uncapped, 0.05
    lost sustained music and 0.15 was needed; capped, 0.05 finds music at 16 and 22.05 kHz after white noise
    at 20 dB that 0.15 lost, the added noise then falling wholly in the band)."""
    own = np.percentile(power, 10, axis=0) if len(power) else np.zeros(power.shape[1], np.float32)
    broadband = float(np.percentile(own, 10)) if len(power) else 0.0
    noise = np.minimum(own, _BROADBAND_FACTOR * broadband)
    excess = np.maximum(power - noise, 0.0)
    weaker = np.minimum(side_sums(excess, PLUS_TILES), side_sums(excess, MINUS_TILES))
    both = noise[None, :]
    ratio = weaker / (side_sums(both, PLUS_TILES) + side_sums(both, MINUS_TILES) + 1e-20)
    weights: F32 = (_RELIABILITY_FLOOR + (1.0 - _RELIABILITY_FLOOR) * ratio / (ratio + 30.0)).astype(np.float32)
    return weights


def cell_index(frames: int, phase: int) -> npt.NDArray[np.intp]:
    """(frames, SLOTS): the cell that (frame, slot) is when frame 0 is at `phase` in the word (see CELL_OF_BIT)."""
    pos = (np.arange(frames) + phase) % PERIOD
    return pos[:, None] * SLOTS + np.arange(SLOTS)[None, :]

