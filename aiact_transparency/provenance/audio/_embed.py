"""The audio watermark's embedder: per-tile gains that move each slot's projection to its lattice target, applied
through the hop-256 synthesis STFT and corrected by re-reading (see `watermark` for the scheme)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._slots import (
    BAND,
    LOW_GAIN,
    LOW_TILES,
    MINUS_TILES,
    PLUS_TILES,
    SIGNS,
    SLOTS,
    TILE,
    projections,
    side_sums,
    spread,
    tile_power,
)
from ._stft import F32, blocks, istft

_PASSES = 6  # embedder re-reads and corrections
_RELAX = 2.0  # the overlapping synthesis frames realise about half of a requested change: ask for twice


def gains_share(power: F32) -> F32:
    """Per block and slot, the part of the move the +1 tiles take; the -1 tiles take the rest.

    The side with less energy takes more: moving p by m costs about m^2 E+ E- / (E+ + E-) when the +1 tiles
    take E- / (E+ + E-) of it, against m^2 (E+ + E-) / 4 for an even split: 1-5 dB less mark for the same move
    (3 dB measured on speech), which pays for scheme v2's larger lattice step. Kept within [0.1, 0.9] so that
    a side with nothing in it still gets a little (an empty side cannot be scaled)."""
    plus, minus = side_sums(power, PLUS_TILES), side_sums(power, MINUS_TILES)
    share: F32 = np.clip(minus / (plus + minus + 1e-20), 0.1, 0.9).astype(np.float32)
    return share


def _tile_gains(log_gain: F32, share: F32) -> F32:
    """Per block and tile, the log amplitude gain that moves each slot's projection by 2 x `log_gain`: the +1
    tiles take `share` of the move, the -1 tiles the rest; the lowest tiles only LOW_GAIN of theirs (see
    `_slots.LOW_GAIN`: the re-reading passes make up what they leave)."""
    move = 2.0 * log_gain
    per_tile: F32 = spread(move * share, -move * (1.0 - share), len(SIGNS))
    per_tile[:, :LOW_TILES] *= np.float32(LOW_GAIN)
    return per_tile


def _change(spectra: list[npt.NDArray[np.complex64]], per_tile: F32, frames: int) -> list[npt.NDArray[np.complex64]]:
    """What scaling each tile of the hop-256 synthesis frames adds to each spectrum (zero outside the band): frame
    2j (aligned with block j) by block j's gain, frame 2j+1 (straddling blocks j and j+1) by their geometric
    mean, so the gain varies smoothly. Computed as (band x gain) - band, the same float32 operations as scaling
    a copy and subtracting the original, without copying and subtracting the whole spectrum."""
    frame_gain = np.zeros((frames, per_tile.shape[1]), dtype=np.float32)
    frame_gain[0 : 2 * len(per_tile) : 2] = per_tile[: (frames + 1) // 2]
    odd = 0.5 * (per_tile[:-1] + per_tile[1:])
    frame_gain[1 : 2 * len(odd) + 1 : 2] = odd[: frames // 2]
    gain = np.repeat(np.exp(frame_gain), TILE, axis=1)
    out = []
    for spec in spectra:
        change = np.zeros_like(spec)
        band = spec[:, BAND[0] : BAND[1]]
        change[:, BAND[0] : BAND[1]] = band * gain - band
        out.append(change)
    return out


def passes(mid: F32, mid_spectra: npt.NDArray[np.complex64], frames: int, proj: F32, target: F32,
            where: npt.NDArray[np.bool_], share: F32, strength: float) -> F32:
    """The log-gain per block and slot that brings the mid's projections to `target` where `where` is set:
    re-read and corrected `_PASSES` times (the overlapping synthesis frames blur each block's change)."""
    count = len(proj)
    total = np.zeros((count, SLOTS), dtype=np.float32)  # log-gain per block and slot, accumulated
    for _ in range(_PASSES):
        # +d on the +1 tiles and -d on the -1 tiles move the projection by 2d
        total += np.where(where, _RELAX * 0.5 * (target - proj), 0.0).astype(np.float32)
        # An ideal change is at most strength / 4 per side; where the passes ask for far more (a slot whose
        # tiles hold almost nothing the synthesis can scale) they would only add audible distortion.
        np.clip(total, -0.5 * strength, 0.5 * strength, out=total)
        mark_mid = istft(_change([mid_spectra], _tile_gains(total, share), frames)[0], len(mid))
        proj, _ = projections(tile_power(blocks(mid + mark_mid)[:count]))
    return total


def mark_of(channel_spectra: list[npt.NDArray[np.complex64]], total: F32, share: F32, frames: int, length: int) -> F32:
    """The mark itself at the working rate, (length, channels): each channel's spectrum scaled by the same gains."""
    changes = _change(channel_spectra, _tile_gains(total, share), frames)
    return np.stack([istft(change, length) for change in changes], axis=1)
