"""The audio watermark detector's votes (see `watermark`): per sample offset, each block and slot's vote angle and
weight, summed per position in the word period, and which offsets a long clip is decoded at."""

from __future__ import annotations

import numpy as np

from ._slots import DITHER, PERIOD, SLOTS, projections, slot_reliability, tile_power, vote_weights
from ._stft import F32, FRAME, WORK_RATE, block_count, blocks

OFFSET_STEP = 16  # at most 8 samples (0.5 ms) off the block grid: 16 cost up to 6 % of the votes
_SEARCH_SECONDS = 8.0  # clips over twice this long choose their offsets on an excerpt of this length
_KEEP_OFFSETS = 4


def fold(weights: F32, angle: F32) -> tuple[F32, F32]:
    """Sum weight * exp(i angle) per position in the word period: cos and sin parts, (PERIOD, SLOTS) each."""
    frames = len(angle)
    padded = -(-frames // PERIOD) * PERIOD
    fold_c = np.zeros((padded, SLOTS), dtype=np.float64)
    fold_s = np.zeros((padded, SLOTS), dtype=np.float64)
    fold_c[:frames] = weights * np.cos(angle)
    fold_s[:frames] = weights * np.sin(angle)
    c_sum = fold_c.reshape(-1, PERIOD, SLOTS).sum(axis=0).astype(np.float32)
    s_sum = fold_s.reshape(-1, PERIOD, SLOTS).sum(axis=0).astype(np.float32)
    return c_sum, s_sum


def votes(mid: F32, start: int, strength: float) -> tuple[F32, F32, F32, int]:
    """From sample `start` on: each vote's angle 2 pi proj / step, its frame weight and its slot reliability
    ((blocks, SLOTS) each; see `vote_weights`, `slot_reliability`), and how many frames are active."""
    return votes_of(tile_power(blocks(mid[start:])), strength)


def votes_of(power: F32, strength: float) -> tuple[F32, F32, F32, int]:
    proj, active = projections(power)
    frame_weight = np.broadcast_to(vote_weights(power, active)[:, None], proj.shape).astype(np.float32)
    angle: F32 = ((2 * np.pi / strength) * proj).astype(np.float32)
    return angle, frame_weight, slot_reliability(power), int(active.sum())


def folded_votes(mid: F32, start: int, strength: float) -> tuple[F32, F32, int]:
    """The clip's votes read from sample `start` on, summed per position in the word period, so that any word
    phase and dither is a cheap roll of the sums."""
    return folded_votes_of(tile_power(blocks(mid[start:])), strength)


def folded_votes_of(power: F32, strength: float) -> tuple[F32, F32, int]:
    angle, frame_weight, reliability, frames_read = votes_of(power, strength)
    c_sum, s_sum = fold(frame_weight * reliability, angle)
    return c_sum, s_sum, frames_read


def likely_offsets(mid: F32, strength: float) -> list[int]:
    """The sample offsets worth decoding. Every offset on the grid for short clips; for longer ones, offset 0
    (the clip's own first sample: where the embedder's grid lies in any clip it marked that nobody cut since)
    and the `_KEEP_OFFSETS` whose votes, folded over a `_SEARCH_SECONDS` excerpt, are most coherent (at the
    embedder's grid each position's votes share one phase, elsewhere they cancel). Only the kept offsets are
    decoded and counted as readings: choosing which to check does not change any reading's chance to pass."""
    starts = [s for s in range(0, FRAME, OFFSET_STEP) if block_count(len(mid) - s) >= PERIOD // 2]
    excerpt = int(_SEARCH_SECONDS * WORK_RATE)
    if len(mid) <= 2 * excerpt or not starts:
        return starts
    begin = (len(mid) - excerpt) // 2 // FRAME * FRAME  # on the clip's own block grid, so offsets carry over
    middle = mid[begin : begin + excerpt]
    # Two coherence scores per offset, each keeping half the offsets: with the slot reliabilities (what noise
    # needs) and without (steady tones, whose tiles look like their own noise floor, carry all their votes).
    with_rel: list[float] = []
    without_rel: list[float] = []
    for start in starts:
        angle, frame_weight, reliability, _ = votes(middle, start, strength)
        for scores, weights in ((with_rel, frame_weight * reliability), (without_rel, frame_weight)):
            c_sum, s_sum = fold(weights, angle)
            scores.append(float(np.sum(np.hypot(c_sum, s_sum)) / max(1e-20, float(np.sum(weights)))))
    kept: list[int] = []
    for pair in zip(np.argsort(with_rel)[::-1], np.argsort(without_rel)[::-1], strict=True):
        kept += [int(i) for i in pair if int(i) not in kept]
        if len(kept) >= _KEEP_OFFSETS:
            break
    return sorted({0} | {starts[i] for i in kept[:_KEEP_OFFSETS]})


COS_D = np.cos(2 * np.pi * DITHER).reshape(PERIOD, SLOTS)
SIN_D = np.sin(2 * np.pi * DITHER).reshape(PERIOD, SLOTS)
