"""XMP in PNG: an iTXt chunk with keyword ``XML:com.adobe.xmp`` (XMP Part 3, PNG 3rd ed. 11.3.3.5)."""

from __future__ import annotations

import struct
import zlib

from .errors import ImageFormatError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_KEYWORD = b"XML:com.adobe.xmp"
# Bound on inflating a compressed iTXt so a small file cannot expand into gigabytes.
_MAX_XMP_INFLATED = 16 * 1024 * 1024


def _chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start offset of the whole chunk, end offset) for every chunk, validating the framing."""
    if not data.startswith(PNG_SIGNATURE):
        raise ImageFormatError("not a PNG file (bad signature)")
    chunks: list[tuple[bytes, int, int]] = []
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise ImageFormatError(f"PNG truncated: incomplete chunk header at offset {pos}")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise ImageFormatError(f"PNG truncated: chunk {ctype!r} at offset {pos} runs past the end of the file")
        chunks.append((ctype, pos, end))
        pos = end
        if ctype == b"IEND":
            break  # bytes after IEND are not part of the image; decoders ignore them and so do we
    if not chunks or chunks[0][0] != b"IHDR":
        raise ImageFormatError("PNG malformed: first chunk is not IHDR")
    if chunks[-1][0] != b"IEND":
        raise ImageFormatError("PNG truncated: no IEND chunk")
    if not any(ctype == b"IDAT" for ctype, _, _ in chunks):
        raise ImageFormatError("PNG malformed: no IDAT (image data) chunk")
    return chunks


def _itxt_xmp(data: bytes, start: int, end: int) -> bytes | None:
    """The XMP text of an iTXt chunk, or None when the chunk carries another keyword."""
    body = data[start + 8 : end - 4]
    keyword, sep, rest = body.partition(b"\x00")
    if keyword != _XMP_KEYWORD:
        return None
    if not sep or len(rest) < 2:
        raise ImageFormatError("PNG malformed: truncated XMP iTXt chunk")
    if struct.unpack(">I", data[end - 4 : end])[0] != zlib.crc32(data[start + 4 : end - 4]):
        raise ImageFormatError("PNG malformed: CRC mismatch in the XMP iTXt chunk")
    compressed = rest[0]
    parts = rest[2:].split(b"\x00", 2)  # language tag, translated keyword, text
    if len(parts) != 3:
        raise ImageFormatError("PNG malformed: XMP iTXt chunk lacks its language/translated-keyword fields")
    text = parts[2]
    if compressed:
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(text, _MAX_XMP_INFLATED)
        except zlib.error as exc:
            raise ImageFormatError(f"PNG malformed: compressed XMP iTXt does not inflate: {exc}") from None
        if inflater.unconsumed_tail:
            raise ImageFormatError(f"PNG XMP iTXt inflates beyond {_MAX_XMP_INFLATED} bytes; refused")
    return text


def extract_png(data: bytes) -> bytes | None:
    for ctype, start, end in _chunks(data):
        if ctype == b"iTXt":
            xmp = _itxt_xmp(data, start, end)
            if xmp is not None:
                return xmp
    return None


def _itxt_chunk(xmp: bytes) -> bytes:
    # Uncompressed, empty language tag and translated keyword: the form XMP Part 3 recommends, so in-place
    # editors and simple readers can find the packet by scanning.
    body = b"iTXt" + _XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + xmp
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


def insert_png(data: bytes, xmp: bytes) -> bytes:
    out = [PNG_SIGNATURE]
    inserted = False
    for ctype, start, end in _chunks(data):
        if ctype == b"iTXt" and _itxt_xmp(data, start, end) is not None:
            continue  # replaced: exactly one XMP packet per file
        # Before the image data (and before an APNG frame control) so streaming readers see it early.
        if not inserted and ctype in (b"IDAT", b"fcTL", b"IEND"):
            out.append(_itxt_chunk(xmp))
            inserted = True
        out.append(data[start:end])
    return b"".join(out)
