"""A media response's Content-Encoding, undone before marking: gzip and deflate, the decoded size capped.

A compression middleware inside ours (it sees the client's Accept-Encoding) may gzip a PDF, or an image its
exclude list does not name. Those bytes are decoded here, in a worker thread (zlib frees the GIL), so the
marker gets the file itself; the marked file goes out without Content-Encoding, as media formats are
compressed already. The decoded size is capped by the medium's max_bytes: a small body that expands to
gigabytes (a decompression bomb) is refused as soon as the cap is passed, never held whole.

Codings (RFC 9110 §8.4.1): gzip and its alias x-gzip (RFC 1952: one member or several, one after the other),
deflate (RFC 1950 zlib data, and the raw RFC 1951 stream some servers send instead; told apart by the zlib
header's check bits, as browsers do). NUL padding after the last gzip member is ignored, as gzip -d does; an
empty body decodes to nothing (it is not a truncated stream). Several codings (``gzip, deflate``) are undone
last one first. Any other coding (br, zstd, compress) cannot be decoded: the responder applies the failure
policy.
"""

from __future__ import annotations

import zlib
from typing import Any

from ...provenance.errors import MarkingError

__all__ = ["ContentDecodingError", "DecodedTooLargeError", "Decoder", "codings_of", "decode", "undecodable"]

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
        decoder = Decoder(coding)
        # At most one byte past the limit: enough to know it is passed, never the whole expansion.
        parts = [decoder.feed(data, limit + 1)]
        size = len(parts[0])
        while size <= limit and decoder.pending:
            parts.append(decoder.feed(b"", limit - size + 1))
            size += len(parts[-1])
        if size > limit:
            raise DecodedTooLargeError(
                f"the body decoded from Content-Encoding: {coding} is larger than {limit_name} = {limit}"
            )
        decoder.finish()
        data = b"".join(parts)
    return data


class Decoder:
    """One coding (``"gzip"`` or ``"deflate"``) undone incrementally: the bytes arrive in any pieces, and each
    `feed` returns at most `max_length` decoded bytes, so no piece of input expands unbounded in memory; what
    it could not return yet stays inside (`pending`) for the next call. `finish` once the input has ended."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        # The window bits the data was encoded with: gzip's from the start, deflate's from its first two bytes.
        self.wbits: int | None = _GZIP_WBITS if coding == "gzip" else None
        self._inflater: Any = None  # the stream being decoded (zlib's Decompress type is not public)
        self._tail = b""  # input not decoded yet: the output was capped, or it starts the next gzip member
        self._capped = False  # the last call filled max_length: more output may wait inside the inflater
        self._streams = 0  # streams (gzip members) decoded to their end
        self._padded = False  # NUL bytes came after the last gzip member (gzip -d ignores them): nothing may follow
        self._fed = False  # any input at all: an empty body is empty, not a truncated stream

    @property
    def pending(self) -> bool:
        """Whether `feed(b"", n)` may return more: the last call stopped at its max_length."""
        # (A tail while wbits is None is deflate's first byte alone, which waits for the second.)
        return self._capped or (bool(self._tail) and self.wbits is not None)

    @property
    def empty(self) -> bool:
        """Whether no input byte has come yet."""
        return not self._fed

    def feed(self, data: bytes, max_length: int) -> bytes:
        """Up to `max_length` (>= 1) decoded bytes of the input so far; ContentDecodingError for corrupt data."""
        if self._tail:
            data, self._tail = self._tail + data, b""
        self._fed = self._fed or bool(data)
        parts: list[bytes] = []
        room = max_length
        drain, self._capped = self._capped, False  # capped: output may wait inside, with no input left
        while data or drain:
            drain = False
            inflater = self._inflater
            if inflater is None:  # a new stream starts here
                if self._streams and self.wbits == _GZIP_WBITS and (self._padded or data[:1] == b"\0"):
                    if data.lstrip(b"\0"):  # (the gzip header's first byte is 0x1f: no member starts with NUL)
                        raise ContentDecodingError(f"the Content-Encoding: {self.coding} data has bytes after its end")
                    self._padded = True
                    break
                if self._streams and self.wbits != _GZIP_WBITS:  # zlib and raw deflate are one stream each
                    raise ContentDecodingError(f"the Content-Encoding: {self.coding} data has bytes after its end")
                if self.wbits is None:
                    if len(data) < 2:  # not enough to tell zlib from raw deflate yet
                        self._tail = data
                        break
                    self.wbits = _ZLIB_WBITS if _zlib_header(data) else _RAW_WBITS
                inflater = self._inflater = zlib.decompressobj(self.wbits)
            try:
                part = inflater.decompress(data, room)
            except zlib.error as exc:
                raise ContentDecodingError(f"the Content-Encoding: {self.coding} data is corrupt ({exc})") from None
            parts.append(part)
            room -= len(part)
            if inflater.eof:  # gzip: another member may follow (RFC 1952 §2.2), or garbage its header check refuses
                self._inflater = None
                self._streams += 1
                data = inflater.unused_data
                if room == 0:
                    self._tail = data
                    break
                continue
            self._tail = inflater.unconsumed_tail
            self._capped = room == 0
            break
        return b"".join(parts)

    def finish(self) -> None:
        """The input has ended: ContentDecodingError unless it ended at the end of a stream (zero padding after a
        gzip member allowed), or there was no input at all (an empty body, which decodes to nothing)."""
        if self.empty:
            return
        if self._inflater is not None or self._tail or not self._streams:
            raise ContentDecodingError(f"the Content-Encoding: {self.coding} data is truncated")


def _zlib_header(data: bytes) -> bool:
    # RFC 1950 §2.2: CM = 8 (deflate) in the low nibble of CMF, and CMF*256 + FLG a multiple of 31.
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
