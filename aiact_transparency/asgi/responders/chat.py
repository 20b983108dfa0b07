"""OpenAI-compatible chat and completion responses get the C2PA text wrapper (routes with `text: c2pa`).

Event streams: each event passes as it arrives; only an event cut by a body message boundary waits for its
end (bounded). The text of every choice is assembled from its deltas (`delta.content`, or `text` for
/v1/completions); when a choice finishes (`finish_reason` set) its wrapper goes out as one extra delta event
right before that final chunk (after it, when the final chunk itself carries text: the wrapper must follow
all of it), or before `data: [DONE]`. A stream that ends without either still gets the wrappers, as the last
events, with an INFO line: the manifest then covers exactly the (possibly cut) text that was sent.
Whatever cannot be followed exactly (a data event that is not JSON, text beyond the bound, a foreign
wrapper already sent) makes the rest of the stream pass unchanged, with a WARNING: nothing is corrupted.

JSON bodies: chat_json.py. `text_responder` picks the responder for a text route's response.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from json import decoder
from typing import Any

from ...http_messages import Headers, Message, Send, remove_header, weaken_etag
from .chat_json import ChatJsonResponder, dumps_compact
from .digests import remove_digests, without_digests
from .notices import Responder
from .text_plain import TextPlainResponder
from .text_service import TextMarkingService

__all__ = ["ChatJsonResponder", "ChatStreamResponder", "text_responder"]

logger = logging.getLogger("aiact_transparency")

# A blank line ends an SSE event (WHATWG HTML §9.2.6); servers write LF (OpenAI) or CRLF (sse-starlette).
_EVENT_END = re.compile(rb"\r?\n\r?\n|\r\r")
_LINE = re.compile(rb"\r\n|\r|\n")
_DONE = b"[DONE]"
# The C JSON string scanner: (value, index after the closing quote) from the index after the opening one.
_scanstring: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]
# Where a chunk's text string starts (JSON whitespace only: a one-line event holds no CR/LF).
_KEY_STRING = {key: re.compile(re.escape(key) + rb'[ \t]*:[ \t]*"') for key in (b'"content"', b'"text"')}
# Top-level chunk members copied into the wrapper's own chunk, so clients see the stream's id, model...
_CHUNK_KEYS = ("id", "object", "created", "model", "system_fingerprint", "service_tier")


def _data(event: bytes) -> bytes | None:
    """The event's data (its `data:` lines joined by LF), or None when it has none."""
    if event.startswith(b"data: ") and b"\n" not in event and b"\r" not in event:
        return event[6:]  # the one-line shape every OpenAI-compatible server sends
    lines = [line for line in _LINE.split(event) if line.startswith(b"data")]
    values = [line[6:] if line.startswith(b"data: ") else line[5:] for line in lines if line[4:5] in (b":", b"")]
    return b"\n".join(values) if values else None


class _Choice:
    __slots__ = ("completion", "done", "parts")

    def __init__(self, completion: bool) -> None:
        self.completion = completion  # /v1/completions: `text`, not `delta.content`
        self.parts: list[str] = []
        self.done = False


class ChatStreamResponder:
    """text/event-stream on a text route: the SSE notice first (when the route has it), then the chunks."""

    def __init__(self, send: Send, start: Message, service: TextMarkingService, notice: bytes | None,
                 path: str) -> None:
        self._send = send
        self._start = start
        self._service = service
        self._notice = notice
        self._path = path
        self._partial = b""
        self._choices: dict[int, _Choice] = {}
        self._chars = 0
        self._template: dict[str, Any] | None = None
        self._separator = b"\n\n"
        self._passthrough = False
        self._ended = False
        self._shapes: list[tuple[bytes, bytes, _Choice]] = []  # see _fast
        self._changed = notice is not None  # a notice or a wrapper event sent: the app's trailers lose their digests

    async def begin(self) -> None:
        headers: Headers = self._start["headers"]
        remove_header(headers, b"content-length")
        weaken_etag(headers)  # the wrapper (and the notice) change the body
        remove_digests(headers)  # (digests.py) before the stream shows whether it will: the headers cannot wait
        await self._send(self._start)
        if self._notice is not None:
            await self._send({"type": "http.response.body", "body": self._notice, "more_body": True})

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self._send(without_digests(message) if self._changed else message)  # the app's trailers
            return
        if self._passthrough or self._ended:
            await self._send(message)
            return
        body = message.get("body", b"")
        if self._shapes and not self._partial and message.get("more_body", False) and self._fast(body):
            await self._send(message)  # one whole one-line event carrying a text piece: the common case
            return
        body = self._partial + body if self._partial else body
        more = message.get("more_body", False)
        out: list[bytes] = []
        cursor = 0
        for match in _EVENT_END.finditer(body):
            event = body[cursor:match.start()]
            if cursor == 0 and not self._choices:
                self._separator = match.group()
            before, after = await self._inspect(event)
            if before:
                out.append(before)
            out.append(body[cursor:match.end()])
            if after:
                out.append(after)
            cursor = match.end()
            if self._passthrough:
                break
        rest = body[cursor:]
        if self._passthrough:
            self._partial = b""
            out.append(rest)
        elif not more:
            # Bytes after the last blank line are an unfinished event, which SSE clients discard (WHATWG HTML
            # §9.2.6): not text the client saw, so not covered; the pending wrappers go before them.
            self._partial = b""
            out += [await self._unfinished(), rest]
            self._ended = True
        elif len(rest) > self._service.max_chars:
            self._give_up(f"an event of over {self._service.max_chars} bytes")
            out.append(rest)
            self._partial = b""
        else:
            self._partial = rest  # an event cut by the message boundary waits for its end
        await self._send({"type": "http.response.body", "body": b"".join(out), "more_body": more})

    def close(self) -> None:
        self._choices = {}
        self._partial = b""

    def _fast(self, body: bytes) -> bool:
        """Takes the text piece of a chunk shaped like one already parsed (same bytes before and after the
        content string: servers repeat id, model and choice fields verbatim), without a JSON parse, which alone
        costs ~2 us. Exact: with no unescaped quote between the learnt prefix and suffix, the chunk is that
        same JSON object with another string. False: anything else, and then the full parse decides."""
        for prefix, suffix, state in self._shapes:
            if body.startswith(prefix) and body.endswith(suffix) and not state.done:
                middle = body[len(prefix):len(body) - len(suffix)]
                if b'"' in middle:
                    return False
                try:  # UnicodeDecodeError is a ValueError too
                    text = middle.decode("utf-8")
                    piece, end = _scanstring(text + '"', 0) if "\\" in text else (text, len(text) + 1)
                except ValueError:
                    return False
                if end != len(text) + 1 or self._chars + len(piece) > self._service.max_chars:
                    return False  # a backslash escaping the closing quote; or the full path gives up, logged
                self._chars += len(piece)
                state.parts.append(piece)
                return True
        return False

    def _learn(self, event: bytes, key: bytes, piece: str, state: _Choice) -> None:
        """Remembers where a parsed one-choice chunk's text string sits, for _fast."""
        if len(self._shapes) >= 8 or not event.startswith(b"data: ") or b"\n" in event or b"\r" in event:
            return
        found = _KEY_STRING[key].search(event)
        if found is None or event.count(key) != 1:
            return
        rest = event[found.end():].decode("utf-8", "replace")
        try:
            value, end = _scanstring(rest, 0)
        except ValueError:
            return
        if value == piece:
            closing = found.end() + len(rest[:end - 1].encode("utf-8"))
            self._shapes.append((event[:found.end()], event[closing:] + self._separator, state))

    def _give_up(self, why: str) -> None:
        self._passthrough = True
        self._choices = {}
        self._shapes = []
        logger.warning("C2PA text manifest not added to the stream on %r: %s; the rest passed unchanged",
                       self._path, why)

    async def _inspect(self, event: bytes) -> tuple[bytes, bytes]:
        """(events to send before this one, events to send after it)."""
        data = _data(event)
        if data is None:
            return b"", b""  # a comment, a retry or an event without data
        if data.strip() == _DONE:
            return await self._unfinished(), b""
        try:
            chunk = json.loads(data)
        except ValueError:  # UnicodeDecodeError included
            self._give_up("a data event is not JSON, so the text it carries is unknown")
            return b"", b""
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not isinstance(choices, list):
            return b"", b""  # an error event, or another server's event: not a completion chunk
        if self._template is None:
            self._template = {k: chunk[k] for k in _CHUNK_KEYS if k in chunk}
        before: list[bytes] = []
        after: list[bytes] = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _Choice(completion="delta" not in choice)
            delta = choice.get("delta")
            holder = choice if state.completion else delta if isinstance(delta, dict) else {}
            piece = holder.get("text" if state.completion else "content")
            if isinstance(piece, str) and piece and not state.done:
                self._chars += len(piece)
                if self._chars > self._service.max_chars:
                    self._give_up(f"the text is longer than the bound of {self._service.max_chars} characters")
                    return b"", b""
                state.parts.append(piece)
                if len(choices) == 1 and choice.get("finish_reason") is None:
                    self._learn(event, b'"text"' if state.completion else b'"content"', piece, state)
            if choice.get("finish_reason") is not None and not state.done:
                wrapper = await self._wrapper_event(index, state)
                (after if isinstance(piece, str) and piece else before).append(wrapper)
        return b"".join(before), b"".join(after)

    async def _unfinished(self) -> bytes:
        pending = [(i, c) for i, c in sorted(self._choices.items()) if not c.done and c.parts]
        if pending and not self._ended:
            logger.info("stream on %r ended without a final chunk for %d choice(s); their C2PA text wrappers "
                        "were sent at the end, covering the text as sent", self._path, len(pending))
        return b"".join([await self._wrapper_event(i, c) for i, c in pending])

    async def _wrapper_event(self, index: int, state: _Choice) -> bytes:
        state.done = True
        text = "".join(state.parts)
        state.parts = []
        if not text:
            return b""
        wrapped = await self._service.wrap(text, self._path, replace=False)
        if wrapped is None or not wrapped[1]:
            return b""
        wrapper = wrapped[1]
        self._changed = True
        choice: dict[str, Any] = (
            {"index": index, "text": wrapper, "logprobs": None, "finish_reason": None} if state.completion
            else {"index": index, "delta": {"content": wrapper}, "logprobs": None, "finish_reason": None}
        )
        chunk = {**(self._template or {}), "choices": [choice]}
        return b"data: " + dumps_compact(chunk) + self._separator


_UTF8 = frozenset({"", "utf-8", "utf8"})


def text_responder(send: Send, start: Message, kind: str, charset: str, service: TextMarkingService, path: str,
                   *, notice: bytes | None, member: tuple[str, Any] | None) -> Responder | None:
    """The responder for a text route's response, or None when its type carries no text we mark."""
    if kind == "text/event-stream":  # always UTF-8 (WHATWG HTML §9.2.5)
        return ChatStreamResponder(send, start, service, notice, path)
    if charset not in _UTF8:
        return None  # the wrapper's characters exist in UTF-8 (and UTF-16/32); re-encoding could corrupt
    if kind == "application/json":
        return ChatJsonResponder(send, start, service, path, member)
    if kind == "text/plain":
        return TextPlainResponder(send, start, service, path)
    return None
