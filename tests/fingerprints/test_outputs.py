"""OutputLog, the transports' side of the log: a put that never blocks or raises, whatever the store does."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from aiact_transparency import TransparencyConfig, mark_image
from aiact_transparency.config import FingerprintSettings
from aiact_transparency.fingerprints import FingerprintRecord, export_jsonl, open_store
from aiact_transparency.fingerprints.outputs import HASHER_NICE, MAX_PENDING, OutputLog
from aiact_transparency.provenance.image.marker import MarkedImage, MarkReport

from ..wired.flows import photo_png


def _settings(tmp_path: Path) -> FingerprintSettings:
    return FingerprintSettings(enabled=True, store=f"sqlite:///{tmp_path / 'fp.db'}", flush_interval=0.05)


@pytest.fixture(scope="module")
def marked() -> MarkedImage:
    return mark_image(photo_png(), config=TransparencyConfig(system={"name": "Acme Studio"}))


def test_marked_output_is_hashed_and_written(tmp_path: Path, marked: MarkedImage) -> None:
    log = OutputLog(_settings(tmp_path))
    log.submit(marked, "/generate")
    assert log.flush()
    log.close()
    log.close()  # twice is harmless
    with open_store(_settings(tmp_path).store) as store:
        (line,) = list(export_jsonl(store))
    assert '"kind":"pdq"' in line and f'"manifest_id":"{marked.report.manifest_id}"' in line
    assert f'"payload":"{marked.report.watermark["value"]}"' in line  # type: ignore[index]


def test_already_marked_outputs_and_closed_logs_are_skipped(tmp_path: Path, marked: MarkedImage) -> None:
    log = OutputLog(_settings(tmp_path))
    log.submit(MarkedImage(marked.data, marked.media_type, MarkReport(marked.media_type, already_marked=True)), "/")
    log.close()
    log.submit(marked, "/")
    assert log.writer.counters.submitted == 0


class _DownStore:
    """Fault injection: a store whose every write fails (a database that is down)."""

    def __init__(self, real: object) -> None:
        self._real = real

    def add_many(self, records: Sequence[FingerprintRecord]) -> int:
        raise ConnectionError("database down")

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def test_a_store_that_is_down_never_reaches_the_caller(tmp_path: Path, marked: MarkedImage,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with open_store(_settings(tmp_path).store) as real:
        log = OutputLog(_settings(tmp_path), store=_DownStore(real))  # type: ignore[arg-type]
        with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
            for _ in range(3):
                log.submit(marked, "/generate")  # returns at once: the failure is the writer thread's
            log.flush(timeout=2)
        log.close(timeout=1)
        assert log.writer.counters.failed >= 1
        assert "database down" in caplog.text


def test_a_full_hashing_queue_drops_and_counts(tmp_path: Path, marked: MarkedImage,
                                               caplog: pytest.LogCaptureFixture) -> None:
    log = OutputLog(_settings(tmp_path))
    log._queue.put(None)  # fault injection: the hashing thread stops, so nothing leaves the queue
    log._thread.join(5)
    with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
        for _ in range(MAX_PENDING + 5):
            log.submit(marked, "/generate")
    assert log.dropped == 5 and "hashing queue full" in caplog.text
    log._queue = type(log._queue)()  # let close() finish
    log.close()


def test_an_undecodable_output_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = OutputLog(_settings(tmp_path))
    broken = MarkedImage(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png", MarkReport("image/png"))
    with caplog.at_level(logging.WARNING, "aiact_transparency.fingerprints"):
        log.submit(broken, "/generate")
        log.flush()
    log.close()
    assert log.dropped == 1 and "could not fingerprint an image/png output" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_hashing_yields_the_cpu_to_marking(tmp_path: Path) -> None:
    log = OutputLog(_settings(tmp_path))
    try:
        hasher = log._thread  # this log's own: other tests' logs may still be closing theirs
        deadline = time.monotonic() + 5
        while os.getpriority(os.PRIO_PROCESS, hasher.native_id or 0) < HASHER_NICE and time.monotonic() < deadline:
            time.sleep(0.01)  # the thread lowers its own priority as it starts
        assert os.getpriority(os.PRIO_PROCESS, hasher.native_id or 0) >= HASHER_NICE
        assert os.getpriority(os.PRIO_PROCESS, 0) < HASHER_NICE  # the rest of the process is untouched
    finally:
        log.close()
