"""The text marking service: one TextMarker per middleware, signing off the event loop under a limiter.

Signing a text manifest costs a few milliseconds of CPU (the signature, the c2pa-python call), so it runs in
worker threads through the media service's slot machinery (:func:`run_in_slot`: a hung signer keeps its
slot until it returns) under a deadline. Text is never held back for a failed signature: the response then
leaves as the app sent it, unmarked, with a WARNING naming the route and the reason (never the text).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import anyio

from ...provenance.errors import SigningError
from ...provenance.text.c2pa_text import MARKER, strip_c2pa_text
from ...provenance.text.marking import MarkedText, TextMarker
from .marking_service import MARK_TIMEOUT, run_in_slot

if TYPE_CHECKING:
    from ...config import ModelFacts, TransparencyConfig
    from ...fingerprints.outputs import OutputLog
    from ...provenance.keys import ManifestSigner

__all__ = ["MAX_TEXT_CHARS", "TextMarkingService"]

logger = logging.getLogger("aiact_transparency")

# The most text one response may carry and still be marked, all choices together (characters). A chat answer
# is a few thousand; the bound caps what a stream holds (its running text) and what one signature hashes.
# Not a config key (yet): set `TextMarkingService.max_chars`.
MAX_TEXT_CHARS = 1_000_000


class TextMarkingService:
    """Built once per middleware when some route says `text: c2pa` (so a bad key stops start-up)."""

    def __init__(self, marker: TextMarker, *, workers: int | None = None) -> None:
        self.marker = marker
        self.workers = workers or max(1, (os.cpu_count() or 1) - 1)
        self.max_chars = MAX_TEXT_CHARS
        self.timeout = MARK_TIMEOUT
        self.output_log: OutputLog | None = None  # set by the middleware when fingerprints.enabled
        self._limiters: tuple[anyio.CapacityLimiter, anyio.CapacityLimiter] | None = None

    @classmethod
    def for_config(cls, config: TransparencyConfig, facts: ModelFacts, signer: ManifestSigner | None = None
                   ) -> TextMarkingService | None:
        """`signer`: the media service's, so the key is loaded (and checked, and warned about) once."""
        if not any(rule.text == "c2pa" and (rule.mode or config.disclosure.mode) != "none"
                   for rule in config.disclosure.routes):
            return None
        return cls(TextMarker(config, facts=facts, signer=signer), workers=config.images.workers)

    def _slots(self) -> tuple[anyio.CapacityLimiter, anyio.CapacityLimiter]:
        # Created on first use: anyio's limiter binds to the running event loop's backend.
        if self._limiters is None:
            self._limiters = (anyio.CapacityLimiter(self.workers), anyio.CapacityLimiter(self.workers))
        return self._limiters

    async def wrap(self, text: str, path: str, *, replace: bool) -> tuple[str, str] | None:
        """(kept, wrapper): send `kept + wrapper` where the app sent `text`. `kept` is `text` unchanged (not even
        NFC-normalised: verification normalises), or with a foreign wrapper removed when `replace` (the
        new manifest keeps it as an ingredient). None: leave the text as it was (the reason is logged).
        `wrapper` is "" when the text already carries a valid manifest of this system."""
        if not text:
            return None
        if len(text) > self.max_chars:
            logger.warning("C2PA text manifest not added on %r: the text (%d characters) is longer than the "
                           "bound of %d; it left unmarked", path, len(text), self.max_chars)
            return None
        foreign = MARKER in text and strip_c2pa_text(text) != text
        try:
            with anyio.fail_after(self.timeout):
                limiter, threads = self._slots()
                marked: MarkedText = await run_in_slot(limiter, threads, lambda: self.marker.mark(text))
        except TimeoutError:
            logger.warning("C2PA text manifest not added on %r: signing did not finish within %g s (a slow or "
                           "unresponsive signer?); the text left unmarked", path, self.timeout)
            return None
        except (SigningError, ValueError) as exc:
            logger.warning("C2PA text manifest not added on %r: %s; the text left unmarked", path, exc)
            return None
        if marked.report.already_marked:
            return text, ""
        if foreign and not replace:
            logger.warning("C2PA text manifest not added on %r: the streamed text already carries a C2PA text "
                           "wrapper that is not this system's, and a second one would leave neither valid (A.8 "
                           "allows one per text)", path)
            return None
        wrapper = marked.text[marked.text.rindex(MARKER):]
        kept = strip_c2pa_text(text) if foreign else text
        if self.output_log is not None:  # the text as served; queued for hashing, never waited for
            self.output_log.submit_text(kept + wrapper, path)
        return kept, wrapper
