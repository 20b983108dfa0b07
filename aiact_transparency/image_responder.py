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
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress

import anyio
import anyio.from_thread
import anyio.to_thread

from ._asgi import Message, Scope, Send, remove_header, set_header
from ._marking_processes import mark_in_worker, marking_pool
from .provenance.errors import ImageMarkingError
from .provenance.pipeline import ImageMarker, MarkedImage

logger = logging.getLogger("aiact_transparency")

MARKABLE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
# Headers that would describe the unmarked original: its validator, its byte ranges, its transfer.
_DIRECT_SEND = ("http.response.pathsend", "http.response.zerocopysend")
# Request headers that would make the app send bytes we cannot mark: a slice, or an encoded body.
_REQUEST_HEADERS_TO_DROP = frozenset({b"range", b"if-range", b"accept-encoding"})
_STALE_HEADERS = (b"content-length", b"etag", b"accept-ranges", b"content-range", b"content-md5", b"digest")
# Longest a request waits for its image to be marked, queueing included (seconds). Marking a large image takes
# a few seconds at most; a signer that never answers (a hung KMS or remote signing service) must not hang the
# request. Not a config key (yet): set `ImageMarkingService.timeout` to change it.
MARK_TIMEOUT = 60.0


class MarkingTimeoutError(ImageMarkingError):
    title = "Image marking timed out"


class _Job:
    """One marking job's claim on a limiter slot. The slot is given back by whichever side finishes last: the
    request task (normal end, or it gave up before the thread started) or the worker thread (the task timed out
    while the thread was still marking). So a hung signer keeps its slot until it really returns."""

    __slots__ = ("abandoned", "finished", "lock", "started")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = self.finished = self.abandoned = False


class ImageMarkingService:
    """One per middleware: the marker, the worker limiter and the queue bound, shared by requests."""

    def __init__(self, marker: ImageMarker) -> None:
        images = marker.config.images
        self.marker = marker
        # Default: one core fewer than the machine has. Pillow's JPEG encoder holds the GIL, so with a worker
        # per core the event loop waited up to tens of ms behind image encodes (bench_image_pipeline [6]).
        self.workers = images.workers or max(1, (os.cpu_count() or 1) - 1)
        self.max_queue = images.max_queue
        self.max_bytes = images.max_bytes
        self.fail_open = images.on_error == "fail-open"
        self.timeout = MARK_TIMEOUT
        self._limiter: anyio.CapacityLimiter | None = None
        self._threads: anyio.CapacityLimiter | None = None
        self.waiting = 0
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        if images.executor == "process":
            self._pool = marking_pool(marker.config, self.workers)

    def _mark_now(self, data: bytes, media_type: str) -> MarkedImage:
        """Runs in a worker thread: marks there, or hands the bytes to a worker process and waits (the GIL
        is free while it waits, so the event loop is not delayed by the encoders)."""
        pool = self._pool
        if pool is None:
            return self.marker.mark(data, media_type)
        try:
            return pool.submit(mark_in_worker, data, media_type).result()
        except BrokenProcessPool:
            with self._pool_lock:  # one replacement for all the jobs that saw the same broken pool
                if self._pool is pool:
                    self._pool = marking_pool(self.marker.config, self.workers)
            raise ImageMarkingError("the image marking worker process died (out of memory?); restarted") from None

    def close(self) -> None:
        """Stops the worker processes (the middleware calls it at lifespan shutdown). Safe to call twice."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def limiter(self) -> anyio.CapacityLimiter:
        # Created on first use: anyio's limiter binds to the running event loop's backend.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.workers)
            # anyio's own limiter for the threads themselves: never the bottleneck (our slots bound the threads),
            # but kept apart from the default limiter that the app's sync endpoints share.
            self._threads = anyio.CapacityLimiter(self.workers)
        return self._limiter

    def saturated(self) -> bool:
        return self.waiting >= self.max_queue + self.workers

    def admit(self) -> bool:
        """Claims a place for one image response from its first message on, while its body is collected, queued
        and marked; False when all (workers + max_queue) are taken. Counting from the first message, not from
        the whole body, is what bounds memory: at most that many bodies of at most max_bytes are held.
        No await between the check and the increment, so the bound holds on the event loop."""
        if self.saturated():
            return False
        self.waiting += 1
        return True

    def release(self) -> None:
        self.waiting -= 1

    async def mark(self, data: bytes, media_type: str) -> MarkedImage:
        """Mark in a worker thread; MarkingTimeoutError when that (queueing included) takes over `timeout` s.
        The caller holds a place (admit) for the whole time."""
        try:
            with anyio.fail_after(self.timeout):
                return await self._run(data, media_type)
        except TimeoutError:
            raise MarkingTimeoutError(
                f"marking did not finish within {self.timeout:g} s (a slow or unresponsive signer?)"
            ) from None

    async def _run(self, data: bytes, media_type: str) -> MarkedImage:
        limiter = self.limiter()
        job = _Job()
        await limiter.acquire_on_behalf_of(job)

        def release_from_thread() -> None:
            # The loop may be gone (server shut down) by the time a hung signer returns: nothing left to free.
            with suppress(RuntimeError):
                anyio.from_thread.run_sync(limiter.release_on_behalf_of, job)

        def work() -> MarkedImage | None:
            with job.lock:
                if job.abandoned:
                    return None  # the request gave up before this thread started; it freed the slot itself
                job.started = True
            try:
                return self._mark_now(data, media_type)
            finally:
                with job.lock:
                    job.finished = True
                    abandoned = job.abandoned
                if abandoned:
                    release_from_thread()

        try:
            # abandon_on_cancel: on timeout the request answers now. Python cannot kill a thread, so a hung
            # signer keeps running in its worker thread, holding its limiter slot (see _Job) until it returns;
            # with every slot hung, later images time out in the queue and saturation answers 503.
            result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=self._threads)
        finally:
            with job.lock:
                job.abandoned = True
                release_now = job.finished or not job.started
            if release_now:
                limiter.release_on_behalf_of(job)
        assert result is not None  # None only when abandoned, and then this line is never reached
        return result


def problem(status: int, title: str, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class ImageResponder:
    """Holds the start message, collects the body, then sends the marked image (or applies the policy)."""

    def __init__(
        self,
        send: Send,
        start: Message,
        media_type: str,
        service: ImageMarkingService,
        path: str,
        *,
        refusal: str | None = None,
    ) -> None:
        """`refusal`: why this response cannot be marked at all (encoded, partial): the policy applies at once."""
        self._send = send
        self._refusal = refusal
        self._start = start
        self._media_type = media_type
        self._service = service
        self._path = path
        self._chunks: list[bytes] = []
        self._size = 0
        self._state = "collecting"  # -> "passthrough" (sending the original on) or "discarding" (answered)
        self._admitted = False

    async def begin(self) -> None:
        if self._refusal is not None:
            await self._fail(self._refusal, complete=False)
        elif self._service.admit():
            self._admitted = True
        else:
            await self._answer(503, "Image marking is saturated", "too many images are waiting to be marked")

    def close(self) -> None:
        """The app is done (or failed, or the client left): give back the place and drop what was collected."""
        self._chunks = []
        if self._admitted:
            self._admitted = False
            self._service.release()

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
            data = b"".join(self._chunks)
            self._chunks = [data]  # one copy of the body held, kept for fail-open
            await self._mark(data)

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
        headers = self._start["headers"]  # the middleware's copy (header_list), ours to change
        for name in _STALE_HEADERS:
            remove_header(headers, name)
        set_header(headers, b"content-type", marked.media_type.encode("ascii"))
        headers.append((b"content-length", str(len(marked.data)).encode("ascii")))
        _add_no_transform(headers)
        self._state = "discarding"
        self.close()
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": marked.data, "more_body": False})

    async def _fail(self, detail: str, *, complete: bool, title: str = ImageMarkingError.title) -> None:
        """Apply the failure policy. `complete`: the app has sent its whole body already."""
        chunks = self._chunks
        self.close()
        if self._service.fail_open:
            logger.warning("serving an UNMARKED image on %s (images.on_error = fail-open): %s", self._path, detail)
            self._state = "passthrough"
            await self._send(self._start)  # the original headers: they describe the original bytes
            if chunks or complete:
                await self._send({"type": "http.response.body", "body": b"".join(chunks), "more_body": not complete})
            return
        logger.error("image on %s not served (images.on_error = fail-closed): %s", self._path, detail)
        await self._answer(500, title, detail)

    async def _answer(self, status: int, title: str, detail: str) -> None:
        self._state = "discarding"
        self.close()
        start, body = problem(status, title, detail)
        # Keep the disclosure headers the middleware already put on the start message.
        start["headers"] += [(k, v) for k, v in self._start["headers"] if k in (b"ai-disclosure", b"link")]
        await self._send(start)
        await self._send(body)


def prepare_scope(scope: Scope) -> Scope:
    """The request as the app should see it on an image route: bodies must pass through us to be marked.

    pathsend/zerocopysend would hand the file to the server directly, and a Range request would get a slice
    of the unmarked original; RFC 9110 lets a server ignore Range, so the app answers with the whole image.
    Accept-Encoding goes too: a compressing middleware inside would send encoded bytes we cannot mark (and
    PNG, JPEG and WebP are compressed already, so little is lost).
    """
    extensions = scope.get("extensions")
    if extensions and ("http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions):
        scope = dict(scope)
        scope["extensions"] = {k: v for k, v in extensions.items() if k not in _DIRECT_SEND}
    headers = scope.get("headers") or ()
    for name, _ in headers:
        if name in _REQUEST_HEADERS_TO_DROP:
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in headers if k not in _REQUEST_HEADERS_TO_DROP]
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
