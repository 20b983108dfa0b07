"""A media response's Content-Encoding, undone before marking: gzip and deflate, the decoded size capped.

A compression middleware inside ours (it sees the client's Accept-Encoding) may gzip a PDF, or an image its
exclude list does not name. Those bytes are decoded here, in a worker thread (zlib frees the GIL), so the
marker gets the file itself; the marked file goes out without Content-Encoding, as media formats are
compressed already. The decoded size is capped by the medium's max_bytes: a small body that expands to
gigabytes (a decompression bomb) is refused as soon as the cap is passed, never held whole.

Codings (RFC 9110 §8.4.1): gzip and its alias x-gzip (RFC 1952: one member or several, one after the other),
deflate (RFC 1950 zlib data, and the raw RFC 1951 stream some servers send instead; told apart by the zlib
header's check bits, as browsers do). Several codings (``gzip, deflate``) are undone last one first. Any
other coding (br, zstd, compress) cannot be decoded: the responder applies the failure policy.
"""

from __future__ import annotations

import zlib

from ...provenance.errors import MarkingError

__all__ = ["ContentDecodingError", "DecodedTooLargeError", "codings_of", "decode", "undecodable"]

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS
_DECODABLE = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class ContentDecodingError(MarkingError):
    title = "The response's Content-Encoding could not be decoded"


class DecodedTooLargeError(ContentDecodingError):
    title = "The decoded content is too large to mark"


def _names(content_encoding: bytes) -> list[str]:
    names = (name.strip() for name in content_encoding.decode("latin-1").lower().split(","))
    return [name for name in names if name and name != "identity"]


def undecodable(content_encoding: bytes | None) -> str | None:
    """The first coding in a Content-Encoding value that `decode` cannot undo, or None (identity included)."""
    if content_encoding is None:
        return None
    return next((name for name in _names(content_encoding) if name not in _DECODABLE), None)


def codings_of(content_encoding: bytes | None) -> tuple[str, ...]:
    """The codings to undo, in the order they were applied ("gzip" for x-gzip); () for none or identity.
    Only for a value `undecodable` accepted."""
    if content_encoding is None:
        return ()
    return tuple(_DECODABLE[name] for name in _names(content_encoding))


def decode(data: bytes, codings: tuple[str, ...], limit: int, limit_name: str) -> bytes:
    """`data` with `codings` undone (the last applied first); DecodedTooLargeError once any stage would pass
    `limit` bytes (`limit_name` names the setting), ContentDecodingError for corrupt or truncated data."""
    for coding in reversed(codings):
        if coding == "gzip":
            data = _inflate(data, _GZIP_WBITS, limit, limit_name, coding)
        else:
            data = _inflate(data, _ZLIB_WBITS if _zlib_header(data) else _RAW_WBITS, limit, limit_name, coding)
    return data


def _zlib_header(data: bytes) -> bool:
    # RFC 1950 §2.2: CM = 8 (deflate) in the low nibble of CMF, and CMF*256 + FLG a multiple of 31.
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def _inflate(data: bytes, wbits: int, limit: int, limit_name: str, coding: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            # At most one byte past the limit: enough to know it is passed, never the whole expansion.
            part = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise ContentDecodingError(f"the Content-Encoding: {coding} data is corrupt ({exc})") from None
        size += len(part)
        if size > limit:
            raise DecodedTooLargeError(
                f"the body decoded from Content-Encoding: {coding} is larger than {limit_name} = {limit}"
            )
        parts.append(part)
        if not inflater.eof:  # all input read (the output stayed under the cap), yet the stream did not end
            raise ContentDecodingError(f"the Content-Encoding: {coding} data is truncated")
        data = inflater.unused_data
        if not data:
            return b"".join(parts)
        if wbits != _GZIP_WBITS:  # zlib and raw deflate are one stream: bytes after its end are not ours
            raise ContentDecodingError(f"the Content-Encoding: {coding} data has bytes after its end")
        # gzip: another member follows (RFC 1952 §2.2), or garbage, which its header check refuses
