"""The one place this package reaches into Gradio's private API: where event outputs enter Gradio's cache.

``gradio.processing_utils.async_move_files_to_cache(data, block, postprocess=True)`` runs for every output
value of every event (twice for most: once for the session's config state, once for what is sent), after
Gradio encoded the image and copied it into its cache, and before any URL of it reaches a session. Marking
there and pointing the output at the marked copy means no session is ever handed the unmarked file.

It is private, so :data:`HOOK_SIGNATURE` pins what we rely on and :func:`check_hook_point` refuses, loudly,
a Gradio whose hook point moved (tests/gradio/test_gradio.py calls it too). The patch is global but inert: it acts
only while a wrapped demo's ``postprocess_data`` runs, which sets :data:`current_event`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from gradio import processing_utils
from gradio.blocks import Blocks

HOOK_NAME = "async_move_files_to_cache"
HOOK_SIGNATURE = ("data", "block", "postprocess", "check_in_upload_folder", "keep_in_cache")
POSTPROCESS_SIGNATURE = ("self", "block_fn", "predictions", "state")
_PATCHED_FLAG = "__aiact_transparency_hook__"


class OutputHandler(Protocol):
    """Marks the files of one output value; returns the value pointing at the marked copies."""

    async def __call__(self, data: Any, block: Any, block_fn: Any, keep_in_cache: bool) -> Any: ...


# (handler, block_fn) of the wrapped demo whose outputs are being post-processed in this task, if any.
current_event: contextvars.ContextVar[tuple[OutputHandler, Any] | None] = contextvars.ContextVar(
    "aiact_gradio_event", default=None
)


class GradioHookError(RuntimeError):
    """This Gradio version does not have the hook point the output marking depends on."""


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def check_hook_point() -> None:
    """Fail with a clear message when Gradio moved or reshaped the private functions we hook."""
    target = getattr(processing_utils, HOOK_NAME, None)
    original = getattr(target, "__wrapped__", target) if getattr(target, _PATCHED_FLAG, False) else target
    problems = []
    if original is None or not inspect.iscoroutinefunction(original):
        problems.append(f"gradio.processing_utils.{HOOK_NAME} is missing or not async")
    elif _parameters(original) != HOOK_SIGNATURE:
        problems.append(f"{HOOK_NAME}{_parameters(original)} != {HOOK_SIGNATURE}")
    postprocess = getattr(Blocks, "postprocess_data", None)
    if postprocess is None or _parameters(postprocess) != POSTPROCESS_SIGNATURE:
        problems.append("gradio.Blocks.postprocess_data(block_fn, predictions, state) changed")
    if problems:
        raise GradioHookError(
            "aiact_transparency cannot mark Gradio outputs with this Gradio version: "
            + "; ".join(problems)
            + '. Install the supported range: pip install "aiact-transparency[gradio]"'
        )


def install() -> None:
    """Patch the module attribute Gradio calls through (``processing_utils.<name>``), once per process."""
    check_hook_point()
    original = getattr(processing_utils, HOOK_NAME)
    if getattr(original, _PATCHED_FLAG, False):
        return

    @functools.wraps(original)
    async def move_and_mark(
        data: Any,
        block: Any,
        postprocess: bool = False,
        check_in_upload_folder: bool = False,
        keep_in_cache: bool = False,
    ) -> Any:
        # Gradio moves first: its path checks (allowed/blocked paths) decide what may be read at all.
        moved = await original(data, block, postprocess, check_in_upload_folder, keep_in_cache)
        event = current_event.get()
        if not postprocess or event is None or moved is None:
            return moved
        handler, block_fn = event
        return await handler(moved, block, block_fn, keep_in_cache)

    setattr(move_and_mark, _PATCHED_FLAG, True)
    setattr(processing_utils, HOOK_NAME, move_and_mark)


def attach(demo: Blocks, handler: OutputHandler) -> None:
    """Route the post-processing of `demo`'s events through `handler` (an instance attribute: only this demo)."""
    install()
    original: Callable[[Any, Any, Any], Awaitable[list[Any]]] = demo.postprocess_data

    async def postprocess_data(block_fn: Any, predictions: Any, state: Any) -> list[Any]:
        token = current_event.set((handler, block_fn))
        try:
            return await original(block_fn, predictions, state)
        finally:
            current_event.reset(token)

    demo.postprocess_data = postprocess_data  # type: ignore[method-assign]
