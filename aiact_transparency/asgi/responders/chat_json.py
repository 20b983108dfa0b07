"""JSON chat and completion responses on a text route (`chat.completion`, `text_completion`): the body is held
(bounded), and each choice's `message.content` (or `text`) ends with its own C2PA text wrapper. Tool calls and
choices without text stay as they are. Streams: chat.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ...http_messages import Headers, Message, Send, set_header, weaken_etag
from .text_service import TextMarkingService

__all__ = ["ChatJsonResponder", "dumps_compact"]

logger = logging.getLogger("aiact_transparency")


class ChatJsonResponder:
    """application/json on a text route: a chat.completion or text_completion gets a wrapper per choice."""

    def __init__(self, send: Send, start: Message, service: TextMarkingService, path: str,
                 member: tuple[str, Any] | None = None, limit: int = 16 << 20) -> None:
        self._send = send
        self._start = start
        self._service = service
        self._path = path
        self._member = member  # the JSON disclosure member, when the route also asks for it
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._passthrough = False

    async def begin(self) -> None:
        """The start message waits for the whole body: Content-Length changes with the wrappers."""

    async def __call__(self, message: Message) -> None:
        if self._passthrough:
            await self._send(message)
            return
        if message["type"] != "http.response.body":
            await self._release(message)
            return
        body = message.get("body", b"")
        self._chunks.append(body)
        self._size += len(body)
        more = message.get("more_body", False)
        if self._size > self._limit:
            logger.warning("C2PA text manifest not added on %r: the JSON body is larger than %d bytes; it passed "
                           "unchanged", self._path, self._limit)
            await self._release(None, more_body=more)
            return
        if more:
            return
        whole = b"".join(self._chunks)
        self._chunks = []
        changed = await self._marked(whole)
        if changed is not None:
            headers: Headers = self._start["headers"]
            set_header(headers, b"content-length", str(len(changed)).encode("ascii"))
            weaken_etag(headers)
            whole = changed
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": whole, "more_body": False})

    def close(self) -> None:
        self._chunks = []

    async def _marked(self, body: bytes) -> bytes | None:
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

    async def _release(self, message: Message | None, *, more_body: bool = True) -> None:
        self._passthrough = True
        await self._send(self._start)
        if self._chunks or not more_body:
            await self._send({"type": "http.response.body", "body": b"".join(self._chunks), "more_body": more_body})
            self._chunks = []
        if message is not None:
            await self._send(message)


def dumps_compact(document: Any) -> bytes:
    """Compact UTF-8 JSON (the wrapper's characters as 4 bytes each, not 12 as escaped surrogate pairs).
    A lone surrogate (from a `\\ud800` escape the app sent) has no UTF-8 form: then everything is escaped."""
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":")).encode("ascii")
