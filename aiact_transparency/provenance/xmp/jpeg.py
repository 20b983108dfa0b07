"""XMP in JPEG: an APP1 segment whose payload starts ``http://ns.adobe.com/xap/1.0/\\0`` (XMP Part 3, 1.1.3)."""

from __future__ import annotations

import struct

from .errors import ImageFormatError, XmpError

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
_APP0, _APP1, _SOS = 0xE0, 0xE1, 0xDA
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_EXIF_HEADER = b"Exif\x00"
# The segment length field is 16 bits and counts itself: 65535 - 2 bytes of payload, header included.
MAX_APP1_PAYLOAD = 65533
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Marker segments before the first SOS as (marker, payload), and the offset of that SOS."""
    if not data.startswith(_SOI):
        raise ImageFormatError("not a JPEG file (no SOI marker)")
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        if pos + 2 > len(data):
            raise ImageFormatError("JPEG truncated: no SOS (start of scan) marker before the end of the file")
        if data[pos] != 0xFF:
            raise ImageFormatError(f"JPEG malformed: expected a marker at offset {pos}")
        if data[pos + 1] == 0xFF:
            pos += 1  # fill byte: markers may be preceded by any number of 0xFF
            continue
        marker = data[pos + 1]
        if marker == _SOS:
            return segments, pos
        if marker in (0xD8, 0xD9):
            raise ImageFormatError(f"JPEG malformed: unexpected marker 0xFF{marker:02X} before the image data")
        if marker in _STANDALONE:
            segments.append((marker, b""))
            pos += 2
            continue
        if pos + 4 > len(data):
            raise ImageFormatError("JPEG truncated inside a segment header")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ImageFormatError(f"JPEG truncated or malformed: segment 0xFF{marker:02X} at offset {pos}")
        segments.append((marker, data[pos + 4 : end]))
        pos = end


def _scan_data(data: bytes, sos: int) -> bytes:
    # Entropy-coded data stuffs 0x00 after every 0xFF, so an EOI after the SOS is the real end of the image;
    # without it the file was cut short. Anything after EOI (vendor trailers) is kept as it was.
    if data.rfind(_EOI, sos) < 0:
        raise ImageFormatError("JPEG truncated: no EOI marker after the image data")
    return data[sos:]


def _is_xmp(marker: int, payload: bytes) -> bool:
    return marker == _APP1 and payload.startswith(XMP_HEADER)


def extract_jpeg(data: bytes) -> bytes | None:
    segments, sos = _segments(data)
    _scan_data(data, sos)
    for marker, payload in segments:
        if _is_xmp(marker, payload):
            return payload[len(XMP_HEADER) :]
    return None


def insert_jpeg(data: bytes, xmp: bytes) -> bytes:
    payload = XMP_HEADER + xmp
    if len(payload) > MAX_APP1_PAYLOAD:
        raise XmpError(
            f"XMP packet of {len(xmp)} bytes does not fit a JPEG APP1 segment "
            f"(limit {MAX_APP1_PAYLOAD - len(XMP_HEADER)} bytes; extended XMP is not supported)"
        )
    segments, sos = _segments(data)
    scan = _scan_data(data, sos)
    kept = [(m, p) for m, p in segments if not _is_xmp(m, p)]
    # Readers expect JFIF (APP0) first and Exif before XMP, so the new APP1 goes right after those.
    at = 0
    while at < len(kept) and (kept[at][0] == _APP0 or (kept[at][0] == _APP1 and kept[at][1].startswith(_EXIF_HEADER))):
        at += 1
    kept.insert(at, (_APP1, payload))
    out = [_SOI]
    for marker, body in kept:
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
        else:
            out.append(struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body)
    out.append(scan)
    return b"".join(out)
