"""text/plain on a text route: the body (bounded) ends with the C2PA text wrapper; the text itself unchanged."""

from __future__ import annotations

import logging

from ...http_messages import Message, Send
from .text_service import TextMarkingService
from .whole_body import WholeBodyResponder

__all__ = ["TextPlainResponder"]

logger = logging.getLogger("aiact_transparency")


class TextPlainResponder(WholeBodyResponder):
    """Holds the body (up to the service's bound, as UTF-8 bytes), then sends it with the wrapper appended.
    Invalid UTF-8, or a body beyond the bound, passes unchanged with a WARNING: the wrapper binds Unicode text,
    and bytes that are not text cannot be bound (nor re-encoded without corrupting them)."""

    def __init__(self, send: Send, start: Message, service: TextMarkingService, path: str) -> None:
        limit = service.max_chars  # characters; UTF-8 bytes bound them from above
        super().__init__(send, start, 4 * limit, f"the text is longer than the bound of {limit} characters")
        self._service = service
        self._path = path

    def gave_up(self, why: str) -> None:
        logger.warning("C2PA text manifest not added on %r: %s; it passed unchanged", self._path, why)

    async def rewrite(self, body: bytes) -> bytes | None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            logger.warning("C2PA text manifest not added on %r: the text/plain body is not valid UTF-8 (%s at "
                           "byte %d); it passed unchanged", self._path, exc.reason, exc.start)
            return None
        wrapped = await self._service.wrap(text, self._path, replace=True) if text else None
        return (wrapped[0] + wrapped[1]).encode("utf-8") if wrapped is not None and wrapped[1] else None
