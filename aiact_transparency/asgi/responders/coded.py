"""A page, JSON body or event stream compressed inside the middleware keeps its disclosure: decoded on the way
in, rewritten by its responder, encoded again in the same coding on the way out.

A compression middleware inside ours (with Starlette's add_middleware the one added last is outermost, so the
wrong order is an easy mistake) sends gzip bytes, in which no banner, JSON member, event-stream notice or text
wrapper can be spliced. For gzip, x-gzip and deflate (zlib or raw, as the app sent it), the responder chosen
for the response gets the decoded body instead (:class:`~.content_coding.Decoder`, at most `_PIECE` decoded
bytes at a time, so no chunk expands unbounded in memory), and every message it sends is compressed again: a
sync flush at each message with more to come (a streamed page or an event stream is never held back by the
compressor), the stream finished on the last. The client still gets a compressed response, Content-Encoding
and Vary as the app sent them; Content-Length is that of the new bytes when the body is one message (else
none), the ETag is weakened and digests of the app's bytes are removed, from the headers and any trailers
(digests.py): the bytes differ from the app's even where the text does not.

Bytes that do not decode (corrupt, truncated) are never passed on as something else: if nothing has been sent
yet, the app's bytes go out unchanged, with its headers and ours, and a WARNING; if part of the new stream is
out already, the error is raised into the app, as an app error after the start is (the server then ends the
connection: nothing claims to be complete). Other codings (br, zstd) and stacked ones are not handled here:
the responder is not chosen, and the banner's gap is logged with the fix (compress outside).
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

import anyio.lowlevel

from ...http_messages import Message, Send, remove_header, set_header, weaken_etag
from .content_coding import ContentDecodingError, Decoder, codings_of, undecodable
from .digests import remove_digests, without_digests
from .notices import Responder

__all__ = ["CodedResponder", "coded_responder", "recodable"]

logger = logging.getLogger("aiact_transparency")

# Decoded bytes handed to the responder at once: a chunk that expands further is passed on in pieces. About
# the size up to which Starlette's GZipMiddleware compresses on the event loop (larger: in a thread).
_PIECE = 128 << 10
# zlib's default. Measured on a 114 KB page of varied prose: 0.7% larger than level 9 (Starlette's default) in
# two thirds of its CPU time (2.8 ms); level 1 is 18% larger in a third.
_LEVEL = 6
# The app's encoded bytes kept while nothing has been sent, to pass them on unchanged should they not decode.
_HELD_LIMIT = 4 << 20
_BODY = "http.response.body"


async def _compress_in_pieces(compressor: Any, body: bytes) -> bytes:
    """`body` compressed `_PIECE` bytes at a time, the event loop given back between pieces (a few ms each).
    Not in a thread: the pieces keep each stall as short as the decoder's, without a worker per large body or
    a thread hop per message (the compressor is the stream's, used in order)."""
    view = memoryview(body)
    parts = [compressor.compress(view[:_PIECE])]
    for offset in range(_PIECE, len(body), _PIECE):
        await anyio.lowlevel.checkpoint()
        parts.append(compressor.compress(view[offset:offset + _PIECE]))
    return b"".join(parts)


def recodable(content_encoding: bytes | None) -> bool:
    """Whether a response in this Content-Encoding can be decoded and re-encoded around its responder: one
    coding, gzip, x-gzip or deflate."""
    return content_encoding is not None and undecodable(content_encoding) is None and len(
        codings_of(content_encoding)) == 1


def coded_responder(send: Send, start: Message, content_encoding: bytes, path: str) -> CodedResponder | None:
    """The adapter for a response in this coding, or None when `recodable` says no."""
    if not recodable(content_encoding):
        return None
    return CodedResponder(send, start, codings_of(content_encoding)[0], path)


class CodedResponder:
    """Wraps the responder chosen for the decoded response: build it with `send` as its send, then `around`."""

    def __init__(self, send: Send, start: Message, coding: str, path: str) -> None:
        self._downstream = send
        self._start = start
        self._original_headers = list(start["headers"])  # the app's and the disclosure's, before any rewrite
        self._path = path
        self._decoder = Decoder(coding)
        self._compressor: Any = None  # zlib's Compress type is not public
        self._held: list[bytes] | None = []  # the app's bytes, until something is sent (or too many are held)
        self._held_size = 0
        self._waiting_start: Message | None = None  # the responder's start, until its first body message
        self._sent = False
        self._passthrough = False
        self._inner: Responder | None = None

    def around(self, inner: Responder | None) -> Responder | None:
        """This adapter around `inner`, or None (the response passes unchanged) when no responder was chosen."""
        self._inner = inner
        return self if inner is not None else None

    async def begin(self) -> None:
        assert self._inner is not None  # (around set it)
        await self._inner.begin()

    def close(self) -> None:
        self._held = None
        if self._inner is not None:
            self._inner.close()

    async def __call__(self, message: Message) -> None:
        inner = self._inner
        assert inner is not None
        if self._passthrough:
            await self._downstream(message)
            return
        if message["type"] != _BODY:
            if not self._sent:  # pathsend: the body does not pass through us, so it keeps its headers
                await self._pass_original(message, more=True)
            else:
                await inner(message)
            return
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self._held is not None:
            self._held.append(body)
            self._held_size += len(body)
            if self._held_size > _HELD_LIMIT:
                self._held = None
        decoder = self._decoder
        try:
            piece = decoder.feed(body, _PIECE)
            while True:
                last = not decoder.pending
                if last and not more:
                    decoder.finish()  # before the last piece goes on: a truncated body is known while it is held
                await inner({"type": _BODY, "body": piece, "more_body": more or not last})
                if last:
                    return
                await anyio.lowlevel.checkpoint()  # a large expansion must not hold the event loop
                piece = decoder.feed(b"", _PIECE)
        except ContentDecodingError as exc:
            await self._broken(str(exc), more)

    async def send(self, message: Message) -> None:
        """The wrapped responder's send: its start waits for its first body message, and bodies are encoded."""
        kind = message["type"]
        if kind == "http.response.start":
            self._waiting_start = message
            return
        if kind != _BODY:  # trailers (the app's, passed on by the responder): their digests are stale as well
            await self._send_start()
            await self._downstream(without_digests(message))
            return
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        compressor = self._compressor
        if compressor is None:
            # Deflate's flavour is the app's; zlib (RFC 9110's deflate) if something goes out before its bytes.
            wbits = self._decoder.wbits or zlib.MAX_WBITS
            self._compressor = compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, wbits)
        if len(body) <= _PIECE:
            # (not for b"": a gzip compressor's first call emits its header even for no input, and an empty
            # body must stay empty)
            data = compressor.compress(body) if body else b""
        else:  # (a whole JSON body or text, up to its responder's limit: 220-350 ms at 4 MiB in one call)
            data = await _compress_in_pieces(compressor, body)
        if not more and self._decoder.empty and not self._sent and not body:
            pass  # the app sent an empty body (no gzip member at all): it stays empty, not an empty member
        elif not more:
            data += compressor.flush(zlib.Z_FINISH)
        elif body:  # (an empty message with more to come: nothing new to flush)
            data += compressor.flush(zlib.Z_SYNC_FLUSH)
        if self._waiting_start is not None:
            headers = self._waiting_start["headers"]
            weaken_etag(headers)  # new bytes: a strong validator cannot stay (RFC 9110 §8.8.3)
            remove_digests(headers)  # of the app's bytes, even where the decoded text is the same (digests.py)
            if more:
                remove_header(headers, b"content-length")
            else:
                set_header(headers, b"content-length", b"%d" % len(data))
            await self._send_start()
        await self._downstream({"type": _BODY, "body": data, "more_body": more})

    async def _send_start(self) -> None:
        start, self._waiting_start = self._waiting_start, None
        self._sent = True
        self._held = None  # from now on the new stream is what the client has
        if start is not None:
            await self._downstream(start)

    async def _broken(self, reason: str, more: bool) -> None:
        if not self._sent and self._held is not None:
            logger.warning("AI disclosure not added to the body on %r: %s; the app's bytes passed unchanged",
                           self._path, reason)
            await self._pass_original(None, more=more)
            return
        # Part of the new stream is out (or, before that, more of the app's bytes came than are kept to pass on).
        when = "after part of the re-encoded body was sent" if self._sent else f"past the {_HELD_LIMIT} bytes kept"
        logger.error("AI disclosure on %r: %s, %s; the response is cut off", self._path, reason, when)
        raise ContentDecodingError(f"{reason} (on {self._path!r}, {when})")

    async def _pass_original(self, message: Message | None, *, more: bool) -> None:
        """The app's own bytes from here on, with the headers it sent (and the disclosure's)."""
        held = b"".join(self._held or ())
        self._passthrough = True
        self.close()
        self._sent = True
        await self._downstream({**self._start, "headers": self._original_headers})
        if message is None or held:
            await self._downstream({"type": _BODY, "body": held, "more_body": more})
        if message is not None:
            await self._downstream(message)
