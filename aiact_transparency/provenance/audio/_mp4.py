"""The bit rates an MP4 file's AAC (or MP3) track declares in its esds box: an M4A's, or a video's soundtrack.

Why not the stream's average (what FFmpeg, and so PyAV, reports as the stream's bit rate): FFmpeg's AAC
encoder spends fewer bits than asked on easy sound. 6 s music clips encoded at 128 kbit/s average 96-124
kbit/s, so the marker re-encoded a fifth of them at 96 or 112 kbit/s, a lower quality than they came in at,
after which the watermark read back on 26 of 30 (30 of 30 at 128 kbit/s); the next round trip would have
gone lower still. The MPEG-4 DecoderConfigDescriptor (ISO/IEC 14496-1, 7.2.6.6) inside the esds box carries
a maximum bit rate beside the average; FFmpeg's MP4 muxer writes the larger of the encoder's target and the
average there, other muxers the peak over a window. Either is the rate the sound was encoded for, not below,
except where FFmpeg's encoder spent more than its target: then the maximum is the average (both fields equal)
and the target is not in the file (`bit_rate.mp4_bit_rate` reads that case).

Path: moov / trak / mdia / minf / stbl / stsd / mp4a / esds (ISO/IEC 14496-12 and 14496-14); QuickTime (MOV)
puts the esds inside a `wave` box of the mp4a sound description (versions 1 and 2): mp4a / wave / esds. The
trak is the one whose tkhd names the track that is decoded (a file can hold several audio tracks: an Opus one
and an AAC commentary). Anything missing or malformed gives None (the caller keeps the average); nothing here
raises.
"""

from __future__ import annotations

from typing import NamedTuple

from ..c2pa.jumbf import iso_boxes

__all__ = ["DeclaredBitRates", "declared_bit_rates"]

_TO_STBL = (b"mdia", b"minf", b"stbl")
_ES_DESCRIPTOR, _DECODER_CONFIG = 0x03, 0x04
# The audio sample entry's fields before its child boxes: 8 (reserved, data reference index) + 20 (version 0);
# QuickTime's sound description version 1 adds 16 bytes, version 2 adds 36.
_SAMPLE_ENTRY = {0: 28, 1: 44, 2: 64}


class DeclaredBitRates(NamedTuple):
    """The DecoderConfigDescriptor's maxBitrate and avgBitrate, bit/s (0: not declared)."""

    maximum: int
    average: int


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((begin, stop) for found, begin, stop in iso_boxes(data, start, end) if found == kind), None)


def _descriptor(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the descriptor at `pos`: a tag byte, then a size in up to four
    bytes of 7 bits each (the high bit says another byte follows)."""
    if pos + 2 > end:
        return None
    tag, size, pos = data[pos], 0, pos + 1
    for _ in range(4):
        if pos >= end:
            return None
        byte, pos = data[pos], pos + 1
        size = size << 7 | byte & 0x7F
        if not byte & 0x80:
            break
    return (tag, pos, pos + size) if pos + size <= end else None


def _esds_bit_rates(data: bytes, start: int, end: int) -> DeclaredBitRates | None:
    es = _descriptor(data, start + 4, end)  # after the full box's version and flags
    if es is None or es[0] != _ES_DESCRIPTOR or es[2] - es[1] < 3:
        return None
    flags, pos = data[es[1] + 2], es[1] + 3  # after ES_ID
    if flags & 0x80:  # streamDependenceFlag: dependsOn_ES_ID
        pos += 2
    if flags & 0x40 and pos < es[2]:  # URL_Flag: a counted URL string
        pos += 1 + data[pos]
    if flags & 0x20:  # OCRstreamFlag: OCR_ES_Id
        pos += 2
    config = _descriptor(data, pos, es[2])
    if config is None or config[0] != _DECODER_CONFIG or config[2] - config[1] < 13:
        return None
    # objectTypeIndication (1), streamType and bufferSizeDB (4), then maxBitrate (4) and avgBitrate (4)
    rates = DeclaredBitRates(*(int.from_bytes(data[config[1] + at : config[1] + at + 4], "big") for at in (5, 9)))
    return rates if rates.maximum else None


def _track_id(data: bytes, start: int, end: int) -> int | None:
    """The track_ID in a trak's tkhd (after version and flags, and the creation and modification times: 4
    bytes each in version 0, 8 in version 1)."""
    tkhd = _child(data, start, end, b"tkhd")
    if tkhd is None or tkhd[0] >= tkhd[1]:
        return None
    at = tkhd[0] + (20 if data[tkhd[0]] == 1 else 12)
    return int.from_bytes(data[at : at + 4], "big") if at + 4 <= tkhd[1] else None


def declared_bit_rates(data: bytes, track_id: int | None = None) -> DeclaredBitRates | None:
    """The bit rates the esds box of track `track_id` (its tkhd's track_ID, which is PyAV's `stream.id`)
    declares in an MP4 or MOV file, or None without a maximum, or when that track is not mp4a (Opus, say:
    another track's figures are not its rate). Without `track_id`, the first mp4a track's."""
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        return None
    wanted = track_id is not None
    for kind, start, end in iso_boxes(data, *moov):
        if kind != b"trak":
            continue
        if wanted and _track_id(data, start, end) != track_id:
            continue
        box: tuple[int, int] | None = (start, end)
        for step in _TO_STBL:
            box = _child(data, *box, step) if box is not None else None
        rates = _entry_bit_rates(data, box)
        if rates is not None or wanted:
            return rates
    return None


def _entry_bit_rates(data: bytes, stbl: tuple[int, int] | None) -> DeclaredBitRates | None:
    stsd = _child(data, *stbl, b"stsd") if stbl is not None else None
    if stsd is None:
        return None
    entry = _child(data, stsd[0] + 8, stsd[1], b"mp4a")  # after version, flags and the entry count
    if entry is None or entry[1] - entry[0] < _SAMPLE_ENTRY[0]:
        return None
    skip = _SAMPLE_ENTRY.get(int.from_bytes(data[entry[0] + 8 : entry[0] + 10], "big"))
    if skip is None:
        return None
    # QuickTime (MOV) puts the esds inside a `wave` box of the sound description (version 1 and 2)
    wave = _child(data, entry[0] + skip, entry[1], b"wave")
    esds = _child(data, *(wave or (entry[0] + skip, entry[1])), b"esds")
    return _esds_bit_rates(data, *esds) if esds is not None else None
