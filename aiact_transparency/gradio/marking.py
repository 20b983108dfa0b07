"""Marks the image files of a wrapped demo's outputs, on the final files Gradio serves.

Called by the hook in :mod:`.hook` with one output value after Gradio moved it into its cache. Every
image file in it is marked in a worker thread (bounded by a limiter, so Gradio's event loop never waits on
signing), written next to Gradio's cache under an unguessable name, and the value is pointed at that copy.
The unmarked original is never referenced by what a session receives. Which files count as outputs:

- components that show images: every image file in the value;
- ``gr.Chatbot``: images inside ``assistant`` messages only (the history also carries what users uploaded);
- the events Gradio's ``Examples`` use to fill *input* components are skipped: examples are inputs;
- everything else (``gr.State``, ``gr.MultimodalTextbox``, ...) holds inputs or state and is left alone.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import gradio as gr
from gradio_client import utils as client_utils

from ..config import TransparencyConfig
from ..fingerprints.outputs import OutputLog
from ..provenance.errors import MarkingError
from ..provenance.media import MEDIA, Marker, MediaMarkers, Medium, claimed_by

logger = logging.getLogger("aiact_transparency.gradio")

MARKED_DIR = "aiact-marked"
# Components whose files are outputs people see, hear or download. gr.Audio: a file path return, or a
# (rate, numpy) one, which Gradio writes to a WAV file in its cache before this hook sees it. gr.Video: its value
# is {"video": file, "subtitles": file or None}; the walk finds the video file inside.
_IMAGE_COMPONENTS: tuple[type[Any], ...] = tuple(
    getattr(gr, name)
    for name in ("Image", "Gallery", "AnnotatedImage", "ImageSlider", "ImageEditor", "File", "DownloadButton",
                 "Audio", "Video")
    if hasattr(gr, name)
)
# Gradio's Examples fill the *input* components with these (gradio/helpers.py); their files are not outputs.
_EXAMPLE_INPUT_LOADERS = frozenset({"load_example_input", "load_example"})
_SEEN_LIMIT = 4096


def is_example_input_loader(block_fn: Any) -> bool:
    fn = getattr(block_fn, "fn", None)
    return getattr(fn, "__module__", "") == "gradio.helpers" and getattr(fn, "__name__", "") in _EXAMPLE_INPUT_LOADERS


def _is_file(value: Any) -> bool:
    return isinstance(value, dict) and client_utils.is_file_obj_with_meta(value)


class OutputMarker:
    """One per wrapped demo: the markers, the thread limiter and a memory of files already marked."""

    def __init__(self, config: TransparencyConfig, marker: Marker | None = None,
                 output_log: OutputLog | None = None) -> None:
        self.config = config
        self.marker: Marker = marker if marker is not None else MediaMarkers(config)
        # Every output it marks is fingerprinted here when fingerprints.enabled (the middleware launch() adds
        # writes to the same log and closes it at shutdown).
        self.output_log = output_log
        workers = config.images.workers or min(4, os.cpu_count() or 1)
        self.limiter = anyio.CapacityLimiter(workers)
        self.fail_closed = config.images.on_error == "fail-closed"
        # The media this config marks (a disabled one's outputs are left alone), each with its own on_error.
        self._enabled = {m.name for m in MEDIA if m.enabled(config)}
        # (path, size, mtime) -> the path to serve instead. Repeats are common: every output value passes
        # twice per event, chat histories resend old images, cached examples come back on each click.
        self._seen: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._seen_lock = threading.Lock()  # worker threads share it

    async def __call__(self, data: Any, block: Any, block_fn: Any, keep_in_cache: bool) -> Any:
        if is_example_input_loader(block_fn):
            return data
        if isinstance(block, gr.Chatbot):
            return await self._chat(data, block)
        if isinstance(block, _IMAGE_COMPONENTS):
            return await self._walk(data, block)
        return data

    async def _chat(self, data: Any, block: Any) -> Any:
        if not isinstance(data, list):
            return data
        return [
            await self._walk(message, block)
            if isinstance(message, dict) and message.get("role") == "assistant"
            else message
            for message in data
        ]

    async def _walk(self, value: Any, block: Any) -> Any:
        if _is_file(value):
            return await self._mark_file(value, block)
        if isinstance(value, dict):
            return {key: await self._walk(item, block) for key, item in value.items()}
        if isinstance(value, list):
            return [await self._walk(item, block) for item in value]
        return value

    async def _mark_file(self, file: dict[str, Any], block: Any) -> dict[str, Any]:
        path = file.get("path")
        medium = _medium_of(file, path) if isinstance(path, str) else None
        if medium is None or medium.name not in self._enabled or not isinstance(path, str):
            return file
        if file.get("is_stream"):
            # Streaming outputs (gr.Audio(streaming=True)) reach the browser chunk by chunk, outside this hook:
            # nothing to mark here, and nothing passes unmarked without saying so.
            logger.warning("a streamed %s output is served unmarked: streaming outputs cannot be marked; return "
                           "the whole file instead", medium.name)
            return file
        if client_utils.is_http_url_like(path) or not os.path.isfile(path):
            return self._failed(file, f"{path} is not a local file in Gradio's cache; it cannot be marked", medium)
        if Path(path).parent.parent.name == MARKED_DIR:
            return file  # a copy we wrote
        try:
            # Every output passes twice per event: answer repeats without a thread hop.
            marked_path = self._known(path)
            if marked_path is None:
                marked_path = await anyio.to_thread.run_sync(self._marked_copy, path, block, limiter=self.limiter)
        except (MarkingError, OSError) as exc:
            return self._failed(file, f"{type(exc).__name__}: {exc}", medium)
        if marked_path == path:
            return file
        updated = dict(file)
        updated["path"] = marked_path
        updated["size"] = os.path.getsize(marked_path)
        url = file.get("url")
        if isinstance(url, str):
            updated["url"] = url.replace(
                client_utils.encode_file_path(path), client_utils.encode_file_path(marked_path)
            )
        return updated

    def _key(self, path: str) -> tuple[str, int, int]:
        stat = os.stat(path)
        return (path, stat.st_size, stat.st_mtime_ns)

    def _known(self, path: str) -> str | None:
        with self._seen_lock:
            known = self._seen.get(self._key(path))
        return known if known is not None and (known == path or os.path.exists(known)) else None

    def _marked_copy(self, path: str, block: Any) -> str:
        """Runs in a worker thread: read, mark, write the copy atomically; returns the path to serve."""
        key = self._key(path)
        known = self._known(path)
        if known is not None:
            return known
        data = Path(path).read_bytes()
        marked = self.marker.mark(data, mimetypes.guess_type(path)[0])
        if self.output_log is not None:  # queued, never waited for; Gradio outputs have no route path to log
            self.output_log.submit(marked, None)
        result = path if marked.report.already_marked else self._write(marked.data, path, block)
        with self._seen_lock:
            self._seen[key] = result
            if len(self._seen) > _SEEN_LIMIT:
                self._seen.popitem(last=False)
        return result

    def _write(self, data: bytes, original: str, block: Any) -> str:
        cache = Path(getattr(block, "GRADIO_CACHE", None) or Path(original).parent.parent)
        # 128 random bits: nobody can guess a path, and the name says nothing about the unmarked original.
        folder = cache / MARKED_DIR / secrets.token_hex(16)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(original).name
        staging = folder / f".{target.name}.part"
        staging.write_bytes(data)
        os.replace(staging, target)  # a concurrent reader sees the whole file or none
        temp_files = getattr(block, "temp_files", None)
        if isinstance(temp_files, set):
            temp_files.add(str(target))  # Gradio deletes its cache files on shutdown; ours with them
        return str(target)

    def _failed(self, file: dict[str, Any], reason: str, medium: Medium) -> dict[str, Any]:
        word, section = medium.name, medium.section
        if getattr(self.config, section).on_error == "fail-closed":
            logger.error("output %s not served: it could not be marked (%s)", word, reason)
            # gr.Error reaches the visitor; the reason (paths, internals) stays in the server log.
            raise gr.Error(f"The generated {word} could not be marked as AI-generated, so it is not shown.")
        logger.warning("serving an output %s unmarked (%s.on_error = fail-open): %s", word, section, reason)
        return file


def _medium_of(file: dict[str, Any], path: str) -> Medium | None:
    """The medium claiming an output's family (the registry): markable, or refused under the failure policy."""
    media_type = file.get("mime_type") or mimetypes.guess_type(path)[0] or ""
    return claimed_by(media_type)
