"""JSON chat and completion responses on a text route (`chat.completion`, `text_completion`): the body is held
(bounded), and each choice's `message.content` (or `text`) ends with its own C2PA text wrapper. Tool calls and
choices without text stay as they are. Streams: chat.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ...http_messages import Message, Send
from .text_service import TextMarkingService
from .whole_body import WholeBodyResponder

__all__ = ["ChatJsonResponder", "dumps_compact"]

logger = logging.getLogger("aiact_transparency")


class ChatJsonResponder(WholeBodyResponder):
    """application/json on a text route: a chat.completion or text_completion gets a wrapper per choice."""

    def __init__(self, send: Send, start: Message, service: TextMarkingService, path: str,
                 member: tuple[str, Any] | None = None, limit: int = 16 << 20) -> None:
        super().__init__(send, start, limit, f"the JSON body is larger than {limit} bytes")
        self._service = service
        self._path = path
        self._member = member  # the JSON disclosure member, when the route also asks for it

    def gave_up(self, why: str) -> None:
        if why != "the body did not pass through the middleware (pathsend)":  # nothing to follow there
            logger.warning("C2PA text manifest not added on %r: %s; it passed unchanged", self._path, why)

    async def rewrite(self, body: bytes) -> bytes | None:
        try:
            document = json.loads(body.decode("utf-8"))
        except ValueError:
            return None  # not JSON (an error page?): nothing this responder could follow
        choices = document.get("choices") if isinstance(document, dict) else None
        changed = False
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            holder: Any = choice.get("message") if "message" in choice else choice
            key = "content" if holder is not choice else "text"
            text = holder.get(key) if isinstance(holder, dict) else None
            if not isinstance(text, str) or not text:
                continue  # tool calls only, refusals, non-text choices
            wrapped = await self._service.wrap(text, self._path, replace=True)
            if wrapped is not None and wrapped[1]:
                holder[key] = wrapped[0] + wrapped[1]
                changed = True
        if self._member is not None and isinstance(document, dict) and self._member[0] not in document:
            document[self._member[0]] = self._member[1]
            changed = True
        return dumps_compact(document) if changed else None


def dumps_compact(document: Any) -> bytes:
    """Compact UTF-8 JSON (the wrapper's characters as 4 bytes each, not 12 as escaped surrogate pairs).
    A lone surrogate (from a `\\ud800` escape the app sent) has no UTF-8 form: then everything is escaped."""
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":")).encode("ascii")
