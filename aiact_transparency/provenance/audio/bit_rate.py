"""The bit rate a lossy track is encoded again at: the input's, as a standard rate, and one that stays put.

A standard rate (`_STANDARD_RATES`) is what the output is asked for: an encoder's VBR or ABR average is not a
setting anyone made. For MP4 (an M4A, or a video's soundtrack in MP4 or MOV) the esds box (`_mp4`) says more
than the stream's average: FFmpeg's muxer declares max(the encoder's target, the average) as the maximum and
the average beside it. So, read by `mp4_bit_rate`:

- maximum above the average: the encoder spent less than asked (easy sound: 128k music averages 96-124): the
  maximum is the target, kept (the average alone re-encoded a fifth of such clips one or two rates lower).
- maximum equal to the average: the encoder spent more than asked (noisy sound, 44.1 kHz mono: 128k averages
  about 157, 160k about 187). The target is no longer in the file; it was at most the average, so the largest
  standard rate not above it. The nearest standard rate, read before, stepped up on every round trip
  (128 -> 160 -> 192 -> 224 on such a clip), since the encoder overshoots whatever it is asked.

Rounding down keeps a round trip at its rate as long as the encoder overshoots by less than one standard step.
Some sound overshoots by more (that rain asked for 112k averages about 133, 19 %, and 128 is 14 % above 112;
German speech at 48 kHz mono asked for 48k averages 65, 35 %), and by a ratio that changes with the rate
asked, not always in the same direction (French speech at 44.1 kHz stereo: 96k averages 110, 88k averages
113). The encoder's side, `steady_encode`, encodes such a clip again at lower rates, each scaled from the last
average measured, up to `_EXTRA_ENCODES` times, and keeps the encode read as closest to the rate asked. Its
stream is opened at the rate asked whatever rate its packets were encoded at, so FFmpeg declares max(asked,
average): an encode that now undershoots still reads as the rate asked (`reading`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from ._mp4 import DeclaredBitRates, declared_bit_rates

__all__ = ["mp4_bit_rate", "reading", "standard_bit_rate", "steady_encode"]

T = TypeVar("T")

# kbit/s: MPEG-1 layer III's rates, also the usual AAC settings (a VBR or ABR average rounds to one of these)
_STANDARD_RATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
# An average this little under a standard rate counts as that rate when it is rounded down: a muxer other than
# FFmpeg's may declare a constant-rate stream's measured average as both figures (FFmpeg's encoder on noise,
# which it holds to the rate: 127.3-127.7 kbit/s for 128). Not more: 128k rain at 44.1 kHz averages 157.3.
_UNDER = 0.01
# Encodes after the first, at most, of a clip whose encode reads as a higher rate than asked (`steady_encode`).
# Each costs a whole AAC encode (~1.1 s CPU per 30 s of 48 kHz stereo), paid only by clips FFmpeg's encoder
# overshoots by more than a step; one usually lands (rain, most speech), the rest of the measured speech
# (44.1-48 kHz, mono and stereo, 32-192k) within three. With one, speech climbed: French, 44.1 kHz stereo, 96 -> 112.
_EXTRA_ENCODES = 3
# The lowest rate an encode is asked for: below the lowest standard rate, since what a file is read as is its
# average (and the stream's rate, 32k at least), not the encoder's setting. Speech asked for 32k averages 40-47
# at 44.1-48 kHz, read as 40: only an encode asked for 20-28k averages under 40.
_LOWEST_ENCODE = 16_000


def standard_bit_rate(bit_rate: float) -> int:
    """The nearest standard rate, bit/s."""
    kbit = bit_rate / 1000
    return min(_STANDARD_RATES, key=lambda r: abs(r - kbit)) * 1000


def _standard_at_most(bit_rate: float) -> int:
    kbit = bit_rate / 1000 * (1 + _UNDER)
    return max((r for r in _STANDARD_RATES if r <= kbit), default=_STANDARD_RATES[0]) * 1000


def _from_declared(declared: DeclaredBitRates, average: float) -> int:
    if declared.maximum == declared.average:  # FFmpeg's encoder spent more than its target: at most the average
        return _standard_at_most(declared.average)
    return standard_bit_rate(max(average, declared.maximum))


def mp4_bit_rate(data: bytes, average: float, track_id: int | None = None) -> int:
    """The standard rate (bit/s) to encode an MP4 or MOV file's mp4a track (AAC, or MP3) again at, from the
    stream's `average` and what its esds box declares: the box of track `track_id` (PyAV's `stream.id`, the
    track decoded; None: the first mp4a track). The nearest standard rate to the average without one (an Opus
    track's, say)."""
    declared = declared_bit_rates(data, track_id)
    return standard_bit_rate(average) if declared is None else _from_declared(declared, average)


def reading(asked: int, average: float) -> int:
    """The rate `mp4_bit_rate` reads from an MP4 track whose stream FFmpeg's muxer opened at `asked` and whose
    packets average `average` bit/s: it declares max(asked, average) as the maximum, the average beside it."""
    declared = DeclaredBitRates(max(asked, round(average)), round(average))
    return _from_declared(declared, average)


def steady_encode(asked: int, first: T, encode: Callable[[int], T], average: Callable[[T], float | None]) -> T:
    """Of `first` (an AAC encode asked for the standard rate `asked`, muxed into a stream opened at `asked`) and
    up to `_EXTRA_ENCODES` more (`encode(rate)`, into such a stream too), the one `reading` reads as closest to
    `asked`, the earliest of equals (the one encoded at the higher rate). `average`: an encode's average bit/s,
    None if unknown. An encode reads as `asked` or higher, never lower (its declared maximum is at least
    `asked`); while it reads higher, the next rate is the last one scaled by the last average's excess over the
    middle of the step (the geometric mean of `asked` and the next standard rate): the excess is not a constant
    ratio (it changes with the rate, not always in the same direction), so each try is scaled from the last."""
    above = next((r * 1000 for r in _STANDARD_RATES if r * 1000 > asked), None)
    if above is None:  # 320k: no standard rate above to be read as
        return first
    aim = math.sqrt(asked * above)
    best, best_read, rate, attempt = first, None, asked, first
    for tries in range(_EXTRA_ENCODES + 1):
        got = average(attempt)
        if got is None:
            break
        read = reading(asked, got)
        if best_read is None or read < best_read:  # every reading is at least `asked`: the lowest is the closest
            best, best_read = attempt, read
        if read <= asked or tries == _EXTRA_ENCODES:
            break
        lower = max(_LOWEST_ENCODE, round(rate * aim / got))
        if lower >= rate:  # at the lowest rate already: the same encode again would read the same
            break
        rate, attempt = lower, encode(lower)
    return best
