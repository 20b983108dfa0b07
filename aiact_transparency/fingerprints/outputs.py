"""The output log as the transports use it: hand over each marked output, never wait, never fail.

`OutputLog(settings)` opens the store and a `FingerprintWriter`. `submit(marked, route)` only queues the
marked bytes (a reference, no copy); one daemon thread decodes each image, computes its PDQ hash and hands the
record to the writer, so neither the event loop nor the response waits for hashing or the database.
`submit_text(text, route)` does the same for a marked text (the MinHash of its words, minhash.py). The queue
is bounded (`MAX_PENDING` outputs, each at most images.max_bytes): beyond it outputs are dropped with a
counted, rate-limited WARNING, never held without bound.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import sys
import threading
import time
from typing import Any

from PIL import Image

from ..config.fingerprints import FingerprintSettings
from ..provenance.media import MarkedMedia
from .engines import open_store
from .manifests import manifest_entry_of
from .minhash import text_signature
from .pdq import pdq_hash
from .record import FingerprintRecord, record_for, text_record_for
from .store import FingerprintStore
from .writer import FingerprintWriter

__all__ = ["MAX_PENDING", "OutputLog", "record_of"]

log = logging.getLogger("aiact_transparency.fingerprints")
MAX_PENDING = 64  # marked outputs waiting to be hashed
# The hashing thread's nice value (Linux: each thread has its own): hashing waits for idle CPU, so the marking
# of the next output and the event loop go first. The bounded queue keeps what waits (MAX_PENDING).
HASHER_NICE = 10


def _yield_cpu() -> None:
    if sys.platform.startswith("linux"):
        # A sandbox may forbid it (OSError): hashing at normal priority is still correct.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHER_NICE)


def record_of(data: bytes | str, media_type: str, report: Any, route: str | None) -> FingerprintRecord:
    """The record of one marked output: PDQ of the image as served, the watermark payload and manifest id its
    report names, the route path; for a text (a `str`), its MinHash signature. Output data only."""
    if isinstance(data, str):
        return text_record_for(data, signature=text_signature(data), route=route)
    pdq = None
    if media_type.startswith("image/"):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pdq = pdq_hash(image)
    watermark = getattr(report, "watermark", None) or {}
    value = watermark.get("value") if isinstance(watermark, dict) else None
    return record_for(data, media_type, pdq=pdq, payload=bytes.fromhex(value) if isinstance(value, str) else None,
                      manifest_id=getattr(report, "manifest_id", None), route=route)


class OutputLog:
    def __init__(self, settings: FingerprintSettings, *, store: FingerprintStore | None = None) -> None:
        self.settings = settings
        self.store = store if store is not None else open_store(settings.store, **settings.store_options())
        self._owns_store = store is None
        self.writer = FingerprintWriter(self.store, retention_days=settings.retention_days,
                                        queue_size=settings.queue_size, batch_size=settings.batch_size,
                                        flush_interval=settings.flush_interval)
        self._queue: queue.Queue[tuple[bytes | str, str, Any, str | None] | None] = queue.Queue(MAX_PENDING)
        self.dropped = 0
        self._last_drop_log = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="aiact-fingerprint-hasher", daemon=True)
        self._thread.start()

    def submit(self, marked: MarkedMedia, route: str | None) -> None:
        """Queue a marked output; never blocks, never raises. An output returned as is (already ours) is skipped:
        it is logged from the time it was marked."""
        try:
            if marked.report.already_marked:
                return
        except Exception as exc:  # a bug here must never reach the response
            log.warning("fingerprint log: output not logged: %s", type(exc).__name__)
            return
        self._put((marked.data, marked.media_type, marked.report, route))

    def submit_text(self, text: str, route: str | None) -> None:
        """Queue a marked text as served (its wrapper included); never blocks, never raises."""
        self._put((text, "text/plain", None, route))

    def _put(self, item: tuple[bytes | str, str, Any, str | None]) -> None:
        try:
            if self._closed:
                return
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log >= 10.0:
                self._last_drop_log = now
                log.warning("fingerprint log: hashing queue full, %d output(s) not logged so far", self.dropped)
        except Exception as exc:  # a bug here must never reach the response
            log.warning("fingerprint log: output not logged: %s", type(exc).__name__)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is hashed and written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks and self.writer.flush(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 10.0) -> None:
        """Hash and write what is queued (up to timeout), stop both threads, close the store it opened. Safe
        to call twice."""
        if self._closed:
            return
        self._closed = True
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
        self.writer.close(timeout)
        if self._owns_store:
            self.store.close()

    def _run(self) -> None:
        _yield_cpu()
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                data, media_type, report, route = item
                record = record_of(data, media_type, report, route)
                # The signed manifest store as well (issue 18), under the record's time: one retention for both.
                entry = manifest_entry_of(report, record.created_at)
                if entry is not None:
                    self.writer.submit(entry)
                self.writer.submit(record)
            except Exception as exc:  # an undecodable output: logged, counted, the thread goes on
                self.dropped += 1
                log.warning("fingerprint log: could not fingerprint an %s output: %s", item[1] if item else "?",
                            type(exc).__name__)
            finally:
                self._queue.task_done()
