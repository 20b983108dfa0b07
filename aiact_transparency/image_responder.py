"""Marks image responses on the fly: buffer the body, mark it in a worker thread, send the marked bytes.

Marking costs tens of milliseconds of CPU, so it runs off the event loop under a bounded limiter (other
requests keep flowing), with a bounded queue in front (beyond it: 503 + Retry-After, never unbounded memory).
When marking fails, the configured policy decides: fail-closed answers 500 with a problem+json body that
says what failed; fail-open serves the original bytes (with the disclosure headers, no mark claimed).
"""

from __future__ import annotations

import json
import logging
import os

import anyio
import anyio.to_thread

from ._asgi import Message, Scope, Send, header_list, remove_header, set_header
from .provenance.errors import ImageMarkingError
from .provenance.pipeline import ImageMarker, MarkedImage

logger = logging.getLogger("aiact_transparency")

MARKABLE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
# Headers that would describe the unmarked original: its validator, its byte ranges, its transfer.
_DIRECT_SEND = ("http.response.pathsend", "http.response.zerocopysend")
_STALE_HEADERS = (b"content-length", b"etag", b"accept-ranges", b"content-range", b"content-md5", b"digest")


class ImageMarkingService:
    """One per middleware: the marker, the worker limiter and the queue bound, shared by requests."""

    def __init__(self, marker: ImageMarker) -> None:
        images = marker.config.images
        self.marker = marker
        self.workers = images.workers or os.cpu_count() or 1
        self.max_queue = images.max_queue
        self.max_bytes = images.max_bytes
        self.fail_open = images.on_error == "fail-open"
        self._limiter: anyio.CapacityLimiter | None = None
        self.waiting = 0

    def limiter(self) -> anyio.CapacityLimiter:
        # Created on first use: anyio's limiter binds to the running event loop's backend.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.workers)
        return self._limiter

    def saturated(self) -> bool:
        return self.waiting >= self.max_queue + self.workers

    async def mark(self, data: bytes, media_type: str) -> MarkedImage:
        self.waiting += 1
        try:
            return await anyio.to_thread.run_sync(self.marker.mark, data, media_type, limiter=self.limiter())
        finally:
            self.waiting -= 1


def problem(status: int, title: str, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class ImageResponder:
    """Holds the start message, collects the body, then sends the marked image (or applies the policy)."""

    def __init__(self, send: Send, start: Message, media_type: str, service: ImageMarkingService, path: str) -> None:
        self._send = send
        self._start = start
        self._media_type = media_type
        self._service = service
        self._path = path
        self._chunks: list[bytes] = []
        self._size = 0
        self._state = "collecting"  # -> "passthrough" (sending the original on) or "discarding" (answered)

    async def begin(self) -> None:
        if self._service.saturated():
            await self._answer(503, "Image marking is saturated", "too many images are waiting to be marked")

    async def __call__(self, message: Message) -> None:
        if self._state == "passthrough":
            await self._send(message)
            return
        if self._state == "discarding":
            return  # already answered: the app's remaining messages have nowhere to go
        if message["type"] != "http.response.body":  # e.g. pathsend, though the middleware disabled it
            await self._fail(f"the app sent {message['type']} instead of the image bytes", complete=False)
            if self._state == "passthrough":
                await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        self._size += len(self._chunks[-1])
        more = message.get("more_body", False)
        if self._size > self._service.max_bytes:
            limit = self._service.max_bytes
            await self._fail(f"the image is larger than images.max_bytes = {limit}", complete=not more)
        elif not more:
            await self._mark(b"".join(self._chunks))

    async def _mark(self, data: bytes) -> None:
        try:
            marked = await self._service.mark(data, self._media_type)
        except ImageMarkingError as exc:
            await self._fail(str(exc), complete=True, title=exc.title)
            return
        except Exception as exc:  # a bug or a broken signer must not take the response down with it
            logger.exception("unexpected error while marking an image on %s", self._path)
            await self._fail(f"unexpected {type(exc).__name__}", complete=True)
            return
        headers = header_list(self._start)
        for name in _STALE_HEADERS:
            remove_header(headers, name)
        set_header(headers, b"content-type", marked.media_type.encode("ascii"))
        headers.append((b"content-length", str(len(marked.data)).encode("ascii")))
        _add_no_transform(headers)
        self._state = "discarding"
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": marked.data, "more_body": False})

    async def _fail(self, detail: str, *, complete: bool, title: str = ImageMarkingError.title) -> None:
        """Apply the failure policy. `complete`: the app has sent its whole body already."""
        if self._service.fail_open:
            logger.warning("serving an UNMARKED image on %s (images.on_error = fail-open): %s", self._path, detail)
            self._state = "passthrough"
            await self._send(self._start)  # the original headers: they describe the original bytes
            if self._chunks or complete:
                body, self._chunks = b"".join(self._chunks), []
                await self._send({"type": "http.response.body", "body": body, "more_body": not complete})
            return
        logger.error("image on %s not served (images.on_error = fail-closed): %s", self._path, detail)
        await self._answer(500, title, detail)

    async def _answer(self, status: int, title: str, detail: str) -> None:
        self._state = "discarding"
        self._chunks = []
        start, body = problem(status, title, detail)
        # Keep the disclosure headers the middleware already put on the start message.
        start["headers"] += [(k, v) for k, v in self._start["headers"] if k in (b"ai-disclosure", b"link")]
        await self._send(start)
        await self._send(body)


def prepare_scope(scope: Scope) -> Scope:
    """The request as the app should see it on an image route: bodies must pass through us to be marked.

    pathsend/zerocopysend would hand the file to the server directly, and a Range request would get a slice
    of the unmarked original; RFC 9110 lets a server ignore Range, so the app answers with the whole image.
    """
    extensions = scope.get("extensions")
    if extensions and ("http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions):
        scope = dict(scope)
        scope["extensions"] = {k: v for k, v in extensions.items() if k not in _DIRECT_SEND}
    headers = scope.get("headers") or ()
    for name, _ in headers:
        if name == b"range" or name == b"if-range":
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in headers if k not in (b"range", b"if-range")]
            break
    return scope


def strip_stale_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """For HEAD on an image route: the GET would carry different bytes, so no length or validator."""
    for name in _STALE_HEADERS:
        remove_header(headers, name)
    _add_no_transform(headers)


def _add_no_transform(headers: list[tuple[bytes, bytes]]) -> None:
    # Proxies that recompress images would strip the marks and break the signature.
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"cache-control":
            if b"no-transform" not in value.lower():
                headers[index] = (name, value + b", no-transform")
            return
    headers.append((b"cache-control", b"no-transform"))
