"""The marking service: the markers, a bounded worker limiter and the queue bound, shared by requests.

Marking costs tens of milliseconds of CPU, so it runs off the event loop (in worker threads, or worker
processes with ``images.executor: process``) under a bounded limiter, with a bounded queue in front: a
response holds its place from its first message, so at most (workers + max_queue) bodies are ever held.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from ...fingerprints.outputs import OutputLog
from ...provenance.errors import ImageMarkingError
from ...provenance.media import MEDIA, MarkedMedia, MediaMarkers, medium_for
from .marking_processes import mark_in_worker, marking_pool

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["MARK_TIMEOUT", "MarkingService", "MarkingTimeoutError", "MediumLimits", "run_in_slot"]

T = TypeVar("T")

# Longest a request waits for its image to be marked, queueing included (seconds). Marking a large image takes
# a few seconds at most; a signer that never answers (a hung KMS or remote signing service) must not hang the
# request. Not a config key (yet): set `MarkingService.timeout` to change it.
MARK_TIMEOUT = 60.0
# Seconds the worker processes get to exit at shutdown before they are terminated.
_STOP_GRACE = 5.0


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


@dataclass(frozen=True)
class MediumLimits:
    section: str  # "images", "audio": named in errors and logs
    max_bytes: int
    fail_open: bool


def _limits_of(config: TransparencyConfig, section: str) -> MediumLimits:
    settings = getattr(config, section)
    return MediumLimits(section, settings.max_bytes, settings.on_error == "fail-open")


class MarkingService:
    """One per middleware, for every markable medium: the markers, the worker limiter and the queue bound.

    Which media types it takes comes from the provenance registry (`types`). The limits are still read from
    `images.*` (max_bytes, workers, executor, max_queue, on_error): the audio issue generalises that section.
    """

    def __init__(self, marker: MediaMarkers) -> None:
        images = marker.config.images
        self.marker = marker
        self.types = marker.types  # the enabled media's types, aliases included
        # Default: one core fewer than the machine has. Pillow's JPEG encoder holds the GIL, so with a worker
        # per core the event loop waited up to tens of ms behind image encodes (bench_image_pipeline [6]).
        self.workers = images.workers or max(1, (os.cpu_count() or 1) - 1)
        self.max_queue = images.max_queue
        self.max_bytes = images.max_bytes
        self.fail_open = images.on_error == "fail-open"
        # Per medium: its own section's buffer limit and failure policy (images.*, audio.*).
        self._limits = {m.name: _limits_of(marker.config, m.section) for m in MEDIA}
        self.timeout = MARK_TIMEOUT
        self.output_log: OutputLog | None = None  # set by the middleware when fingerprints.enabled
        self._limiter: anyio.CapacityLimiter | None = None
        self._threads: anyio.CapacityLimiter | None = None
        self.waiting = 0
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        if images.executor == "process":
            self._pool = marking_pool(marker.config, self.workers)
        # Video: seconds to minutes of CPU per file, in Python between the codec calls: in threads it would hold
        # the GIL against the event loop for that long. Its own pool (video.workers), unless images use one,
        # started with the first video (most deployments never serve one).
        video = marker.config.video
        self._video_pool: ProcessPoolExecutor | None = None
        self._video_processes = "video" in marker.markers and video.executor == "process"
        self.video_timeout = max(self.timeout, video.mark_timeout)

    def limits_for(self, medium: str) -> MediumLimits:
        """The buffer limit and failure policy for one medium's responses; images.* for anything else."""
        return self._limits.get(medium) or MediumLimits("images", self.max_bytes, self.fail_open)

    def _mark_now(self, data: bytes, media_type: str, accept_language: str | None = None) -> MarkedMedia:
        """Runs in a worker thread: marks there, or hands the bytes to a worker process and waits (the GIL
        is free while it waits, so the event loop is not delayed by the encoders)."""
        pool = self._pool
        if self._video_processes and _is_video(media_type) and pool is None:
            with self._pool_lock:
                if self._video_pool is None:
                    self._video_pool = marking_pool(self.marker.config, self.marker.config.video.workers)
                pool = self._video_pool
        if pool is None:
            if accept_language is None:  # the common case keeps the plain two-argument call
                return self.marker.mark(data, media_type)
            return self.marker.mark(data, media_type, accept_language=accept_language)
        try:
            return pool.submit(mark_in_worker, data, media_type, accept_language).result()
        except BrokenProcessPool:
            with self._pool_lock:  # one replacement for all the jobs that saw the same broken pool
                if self._pool is pool:
                    self._pool = marking_pool(self.marker.config, self.workers)
                elif self._video_pool is pool:
                    self._video_pool = marking_pool(self.marker.config, self.marker.config.video.workers)
            raise ImageMarkingError("the marking worker process died (out of memory?); restarted") from None

    def close(self) -> None:
        """Stops the worker processes (the middleware calls it at lifespan shutdown). Safe to call twice."""
        with self._pool_lock:
            pools, self._pool, self._video_pool = [self._pool, self._video_pool], None, None
        for pool in pools:
            if pool is None:
                continue
            _stop(pool)

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

    async def mark(self, data: bytes, media_type: str, accept_language: str | None = None) -> MarkedMedia:
        """Mark in a worker thread; MarkingTimeoutError when that (queueing included) takes over `timeout` s.
        The caller holds a place (admit) for the whole time. `accept_language`: the request's, for audio's
        spoken disclaimer."""
        timeout = self.video_timeout if _is_video(media_type) else self.timeout
        try:
            with anyio.fail_after(timeout):
                return await self._run(data, media_type, accept_language)
        except TimeoutError:
            raise MarkingTimeoutError(
                f"marking did not finish within {timeout:g} s (a slow or unresponsive signer?)"
            ) from None

    async def _run(self, data: bytes, media_type: str, accept_language: str | None = None) -> MarkedMedia:
        limiter = self.limiter()
        assert self._threads is not None
        return await run_in_slot(limiter, self._threads, lambda: self._mark_now(data, media_type, accept_language))


def _is_video(media_type: str) -> bool:
    medium = medium_for(media_type)
    return medium is not None and medium.name == "video"


def _stop(pool: ProcessPoolExecutor) -> None:
    # shutdown(wait=False) only asks the workers to stop, through the pool's manager thread; on a busy machine a
    # worker was seen alive 30 s later. The server is stopping: give them a moment, then end those still there
    # (a hung signer in a worker would otherwise keep the process forever).
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + _STOP_GRACE
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.terminate()


async def run_in_slot(limiter: anyio.CapacityLimiter, threads: anyio.CapacityLimiter, call: Callable[[], T]) -> T:
    """`call()` in a worker thread, holding a `limiter` slot until it really returns (see _Job). Shared by the
    media service and the text marking service (asgi/responders/text_service.py)."""
    job = _Job()
    await limiter.acquire_on_behalf_of(job)

    def release_from_thread() -> None:
        # The loop may be gone (server shut down) by the time a hung signer returns: nothing left to free.
        with suppress(RuntimeError):
            anyio.from_thread.run_sync(limiter.release_on_behalf_of, job)

    def work() -> T | None:
        with job.lock:
            if job.abandoned:
                return None  # the request gave up before this thread started; it freed the slot itself
            job.started = True
        try:
            return call()
        finally:
            with job.lock:
                job.finished = True
                abandoned = job.abandoned
            if abandoned:
                release_from_thread()

    try:
        # abandon_on_cancel: on timeout the request answers now. Python cannot kill a thread, so a hung
        # signer keeps running in its worker thread, holding its limiter slot (see _Job) until it returns;
        # with every slot hung, later jobs time out in the queue and saturation answers 503.
        result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=threads)
    finally:
        with job.lock:
            job.abandoned = True
            release_now = job.finished or not job.started
        if release_now:
            limiter.release_on_behalf_of(job)
    assert result is not None  # None only when abandoned, and then this line is never reached
    return result
