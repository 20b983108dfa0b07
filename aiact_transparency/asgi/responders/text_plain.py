"""text/plain on a text route: the body (bounded) ends with the C2PA text wrapper; the text itself unchanged."""

from __future__ import annotations

import logging

from ...http_messages import Headers, Message, Send, set_header, weaken_etag
from .text_service import TextMarkingService

__all__ = ["TextPlainResponder"]

logger = logging.getLogger("aiact_transparency")


class TextPlainResponder:
    """Holds the body (up to the service's bound, as UTF-8 bytes), then sends it with the wrapper appended.
    Invalid UTF-8, or a body beyond the bound, passes unchanged with a WARNING: the wrapper binds Unicode text,
    and bytes that are not text cannot be bound (nor re-encoded without corrupting them)."""

    def __init__(self, send: Send, start: Message, service: TextMarkingService, path: str) -> None:
        self._send = send
        self._start = start
        self._service = service
        self._path = path
        self._chunks: list[bytes] = []
        self._size = 0
        self._passthrough = False

    async def begin(self) -> None:
        """The start message waits for the whole body: Content-Length changes with the wrapper."""

    async def __call__(self, message: Message) -> None:
        if self._passthrough:
            await self._send(message)
            return
        if message["type"] != "http.response.body":
            await self._release(message, "the body did not pass through the middleware (pathsend)")
            return
        body = message.get("body", b"")
        self._chunks.append(body)
        self._size += len(body)
        more = message.get("more_body", False)
        limit = self._service.max_chars  # characters; UTF-8 bytes bound them from above
        if self._size > 4 * limit:
            await self._release(None, f"the text is longer than the bound of {limit} characters", more_body=more)
            return
        if more:
            return
        whole = b"".join(self._chunks)
        self._chunks = []
        try:
            text = whole.decode("utf-8")
        except UnicodeDecodeError as exc:
            logger.warning("C2PA text manifest not added on %r: the text/plain body is not valid UTF-8 (%s at "
                           "byte %d); it passed unchanged", self._path, exc.reason, exc.start)
            text = ""
        wrapped = await self._service.wrap(text, self._path, replace=True) if text else None
        if wrapped is not None and wrapped[1]:
            whole = (wrapped[0] + wrapped[1]).encode("utf-8")
            headers: Headers = self._start["headers"]
            set_header(headers, b"content-length", str(len(whole)).encode("ascii"))
            weaken_etag(headers)
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": whole, "more_body": False})

    def close(self) -> None:
        self._chunks = []

    async def _release(self, message: Message | None, why: str, *, more_body: bool = True) -> None:
        logger.warning("C2PA text manifest not added on %r: %s; it passed unchanged", self._path, why)
        self._passthrough = True
        await self._send(self._start)
        if self._chunks or not more_body:
            await self._send({"type": "http.response.body", "body": b"".join(self._chunks), "more_body": more_body})
            self._chunks = []
        if message is not None:
            await self._send(message)
