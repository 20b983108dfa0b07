"""The responders that must see a whole body before they can change it (a JSON member, a text wrapper).

The start message waits for the body, because Content-Length changes; the body is held up to a bound (the
event loop must not parse an unbounded one). Beyond the bound, or when the body does not pass through the
middleware (pathsend), what was held and the rest go out unchanged, and the subclass says why in its log.
"""

from __future__ import annotations

from ...http_messages import Headers, Message, Send, set_header, weaken_etag
from .digests import remove_digests, without_digests

__all__ = ["WholeBodyResponder"]


class WholeBodyResponder:
    """Subclasses give `rewrite` (the changed body, or None to send it unchanged) and `gave_up` (the log)."""

    def __init__(self, send: Send, start: Message, limit: int, too_large: str) -> None:
        self._send = send
        self._start = start
        self._limit = limit  # bytes
        self._too_large = too_large  # the reason gave_up hears when the body is over the limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._passthrough = False  # from the release, or once the whole body is sent
        self._changed = False  # the body sent is not the app's: its trailers lose their digests too

    async def begin(self) -> None:
        """The start message waits for the whole body: Content-Length changes with the rewrite."""

    async def rewrite(self, body: bytes) -> bytes | None:
        raise NotImplementedError

    def gave_up(self, why: str) -> None:
        """The body passes unchanged, for `why`: subclasses log it at the level the gap deserves."""

    async def __call__(self, message: Message) -> None:
        if self._passthrough:  # (after the body: the app's trailers)
            await self._send(without_digests(message) if self._changed else message)
            return
        if message["type"] != "http.response.body":
            await self._release(message, "the body did not pass through the middleware (pathsend)")
            return
        body = message.get("body", b"")
        self._chunks.append(body)
        self._size += len(body)
        more = message.get("more_body", False)
        if self._size > self._limit:  # streamed or not: parsing it would stall the event loop
            await self._release(None, self._too_large, more_body=more)
            return
        if more:
            return
        whole = b"".join(self._chunks)
        self._chunks = []
        changed = await self.rewrite(whole)
        if changed is not None:
            headers: Headers = self._start["headers"]
            set_header(headers, b"content-length", str(len(changed)).encode("ascii"))
            weaken_etag(headers)
            remove_digests(headers)  # of the app's bytes (digests.py); an unchanged body keeps them
            whole = changed
            self._changed = True
        # Anything after the body (trailers) passes on: not a pathsend, and the start must not go out twice.
        self._passthrough = True
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": whole, "more_body": False})

    def close(self) -> None:
        self._chunks = []

    async def _release(self, message: Message | None, why: str, *, more_body: bool = True) -> None:
        self.gave_up(why)
        self._passthrough = True
        await self._send(self._start)
        if self._chunks or not more_body:
            await self._send({"type": "http.response.body", "body": b"".join(self._chunks), "more_body": more_body})
            self._chunks = []
        if message is not None:
            await self._send(message)
