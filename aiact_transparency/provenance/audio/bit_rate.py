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
Debian's ffmpeg 5.1 codes espeak speech at 48 kHz stereo 27 % above 128k): the encoder's side, `steadier_rate`,
encodes such a clip once more at a lower rate, so that its average lands inside the step it was asked for and
the next reading picks the same rate.
"""

from __future__ import annotations

import math

from ._mp4 import DeclaredBitRates, declared_bit_rates

__all__ = ["mp4_bit_rate", "standard_bit_rate", "steadier_rate"]

# kbit/s: MPEG-1 layer III's rates, also the usual AAC settings (a VBR or ABR average rounds to one of these)
_STANDARD_RATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
# An average this little under a standard rate counts as that rate when it is rounded down: a muxer other than
# FFmpeg's may declare a constant-rate stream's measured average as both figures (FFmpeg's encoder on noise,
# which it holds to the rate: 127.3-127.7 kbit/s for 128). Not more: 128k rain at 44.1 kHz averages 157.3.
_UNDER = 0.01


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


def mp4_bit_rate(data: bytes, average: float) -> int:
    """The standard rate (bit/s) to encode an MP4 or MOV file's mp4a track (AAC, or MP3) again at, from the
    stream's `average` and what its esds box declares; the nearest standard rate to the average without one."""
    declared = declared_bit_rates(data)
    return standard_bit_rate(average) if declared is None else _from_declared(declared, average)


def steadier_rate(asked: int, average: float) -> int | None:
    """When an encode asked for the standard rate `asked` averaged `average`, so far above it that its output
    would be read as a higher rate (`mp4_bit_rate`: FFmpeg declares that average as the maximum), the rate to
    encode it again at: scaled so that the average lands in the middle of the step (the geometric mean of
    `asked` and the next standard rate; the overshoot is about the same ratio 25 % lower). None: keep it."""
    if _standard_at_most(average) <= asked:
        return None
    above = next(r * 1000 for r in _STANDARD_RATES if r * 1000 > asked)
    return max(_STANDARD_RATES[0] * 1000, round(asked * math.sqrt(asked * above) / average))
