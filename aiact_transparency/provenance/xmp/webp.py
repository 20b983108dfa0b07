"""XMP in WebP: an ``XMP `` chunk in the extended (VP8X) RIFF layout (Google "WebP Container Specification")."""

from __future__ import annotations

import struct

from .errors import ImageFormatError
from .riff import riff_chunks_of, riff_file

_XMP = b"XMP "
_VP8X = b"VP8X"
# VP8X flag bits (first payload byte): ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02.
_FLAG_ICC, _FLAG_ALPHA, _FLAG_EXIF, _FLAG_XMP = 0x20, 0x10, 0x08, 0x04


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The top-level (fourcc, payload) chunks of a WebP file; ImageFormatError when the container is malformed."""
    chunks = riff_chunks_of(data, b"WEBP", "WebP")
    if not chunks or chunks[0][0] not in (b"VP8 ", b"VP8L", _VP8X):
        raise ImageFormatError("WebP malformed: first chunk is not VP8, VP8L or VP8X")
    if chunks[0][0] == _VP8X and len(chunks[0][1]) < 10:
        raise ImageFormatError("WebP malformed: VP8X chunk shorter than 10 bytes")
    return chunks


def extract_webp(data: bytes) -> bytes | None:
    for fourcc, payload in riff_chunks(data):
        if fourcc == _XMP:
            return payload
    return None


def _canvas(fourcc: bytes, payload: bytes) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple-format bitstream, read from its frame header."""
    if fourcc == b"VP8 ":
        # 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height (upper 2 bits are scaling).
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise ImageFormatError("WebP malformed: VP8 chunk lacks a key-frame header")
        width, height = struct.unpack_from("<HH", payload, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    # VP8L: signature 0x2f, then 14 bits width-1, 14 bits height-1, 1 bit alpha_is_used.
    if len(payload) < 5 or payload[0] != 0x2F:
        raise ImageFormatError("WebP malformed: VP8L chunk lacks its signature")
    (bits,) = struct.unpack_from("<I", payload, 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


def _to_extended(chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    width, height, alpha = _canvas(*chunks[0])
    present = {fourcc for fourcc, _ in chunks}
    flags = (_FLAG_ALPHA if alpha else 0) | (_FLAG_ICC if b"ICCP" in present else 0)
    flags |= _FLAG_EXIF if b"EXIF" in present else 0
    vp8x = struct.pack("<B3x", flags) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return [(_VP8X, vp8x), *chunks]


def insert_webp(data: bytes, xmp: bytes) -> bytes:
    chunks = [c for c in riff_chunks(data) if c[0] != _XMP]
    if chunks[0][0] != _VP8X:
        chunks = _to_extended(chunks)
    vp8x = chunks[0][1]
    chunks[0] = (_VP8X, bytes((vp8x[0] | _FLAG_XMP,)) + vp8x[1:])
    # The container spec orders metadata last: ... EXIF, XMP.
    chunks.append((_XMP, xmp))
    return riff_file(b"WEBP", chunks)


def webp_is_lossless(data: bytes) -> bool:
    """True when the image data is VP8L: simple lossless files start with it, extended ones carry it after VP8X
    and any ICCP / ANIM chunks, however large (and then have no lossy VP8 chunk)."""
    fourccs = [fourcc for fourcc, _ in riff_chunks(data)]
    return b"VP8L" in fourccs and b"VP8 " not in fourccs
