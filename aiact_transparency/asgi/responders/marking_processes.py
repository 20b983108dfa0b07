"""Media marking in worker processes (``images.executor: process``).

Why: Pillow's JPEG encoder holds the GIL for the whole encode, and CPython hands the GIL back to a waiting
thread only after its switch interval (5 ms), so marking in threads delays the event loop of the same
process by several milliseconds per image (bench/bench_image_pipeline.py, section 6). In worker processes
the event loop only waits for bytes to come back.

Each worker builds its own markers (MediaMarkers) from the (picklable) config: the signer is loaded there from the
same files, environment or development chain, so no key crosses a process boundary.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...config import TransparencyConfig
    from ...provenance.media import MarkedMedia, MediaMarkers

_worker_marker: MediaMarkers | None = None


def _start_worker(config: TransparencyConfig) -> None:
    from ...provenance.media import MediaMarkers

    global _worker_marker
    _worker_marker = MediaMarkers(config)


def _mark(data: bytes, media_type: str, accept_language: str | None = None) -> MarkedMedia:
    assert _worker_marker is not None, "worker started without its marker"
    return _worker_marker.mark(data, media_type, accept_language=accept_language)


def _ready() -> bool:
    return _worker_marker is not None


def marking_pool(config: TransparencyConfig, workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, each with its own marker. 'spawn': forking a process that runs an
    event loop and threads is unsafe."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(config,),
    )
    pool.submit(_ready)  # start the workers now rather than at the first image
    return pool


mark_in_worker = _mark
