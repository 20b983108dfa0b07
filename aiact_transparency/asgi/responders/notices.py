"""Per-response body rewriters: HTML banner, event-stream notice, JSON disclosure member.

Each gets the start message (disclosure headers already added to its own copy of the header list, see
:func:`~aiact_transparency.asgi.messages.header_list`), then `begin()` is awaited, then every later
message of the response goes through the responder. The middleware creates at most one per response, only
when the body may change.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from ...http_messages import Headers, Message, Send, remove_header, weaken_etag
from ..html_scanner import HtmlInjector
from .digests import DIGEST_FIELDS, DIGEST_NAME_SIZES, remove_digests, without_digests
from .whole_body import WholeBodyResponder

logger = logging.getLogger("aiact_transparency")


class Responder(Protocol):
    async def begin(self) -> None: ...

    async def __call__(self, message: Message) -> None: ...

    def close(self) -> None:
        """Called once the app has returned or raised: free what is held (an image's queue place, buffers)."""


class BannerGaps:
    """Logs each route where the banner could not be inserted, once: a missing banner is a compliance gap (a
    WARNING), but one line per request would bury everything else. Paths are client-chosen, so the set is
    bounded: when full it starts over, and a route may then be logged again."""

    def __init__(self, limit: int = 1024) -> None:
        self._seen: set[tuple[str, int, str]] = set()  # (path, level, what): an INFO hides no WARNING
        self._limit = limit

    def log(self, path: str, reason: str, *, level: int = logging.WARNING, what: str = "AI banner") -> None:
        """`what`: the notice missing, e.g. "AI disclosure JSON member" (each is logged once per route)."""
        key = (path, level, what)
        if key in self._seen:
            return
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        logger.log(level, "%s not inserted in %r: %s", what, path, reason)


class HtmlBannerResponder:
    """Holds the start message until the first body chunk, then streams through the injector."""

    __slots__ = ("_app_fields", "_gaps", "_injector", "_path", "_send", "_start")

    def __init__(
        self, send: Send, start: Message, injector: HtmlInjector, path: str, gaps: BannerGaps, *, app_fields: int = -1
    ) -> None:
        """`app_fields`: how many of the start message's header fields (the first ones) are the app's, when the
        rest are the caller's own and hold no Content-Length or ETag (-1: all of them may)."""
        self._send = send
        self._start: Message | None = start
        self._injector = injector
        self._path = path
        self._gaps = gaps
        self._app_fields = app_fields

    async def begin(self) -> None:
        """The start message waits for the first body chunk: only then is Content-Length known."""

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            # e.g. http.response.pathsend: the body never passes through us, so headers go out unchanged. Or the
            # app's trailers: their digests went stale if the banner went in.
            await self._flush_start()
            await self._send(without_digests(message) if self._injector.injected else message)
            return
        injector = self._injector
        start = self._start
        if start is None and injector.done:
            await self._send(message)  # after the decision: the app's own message, untouched
            return
        more = message.get("more_body", False)
        out = injector.feed(message.get("body", b""))
        gave_up = injector.gave_up_reason
        if gave_up:  # within the lookahead: a page whose <body> came too late (or never)
            reason = f"{gave_up} (if the page's <body> comes later, raise banner.max_lookahead)"
            self._gaps.log(self._path, reason)
        elif not more and not injector.done:  # once done (inserted), finish() has nothing left to say
            out += injector.finish()
            if injector.gave_up_reason:  # the whole body had no <body>: a fragment (htmx, a partial), no gap
                self._gaps.log(self._path, injector.gave_up_reason, level=logging.INFO)
        if start is not None:
            self._start = None
            length = len(out) if not more and injector.injected else -1
            # The digests go when the banner is in, or may still go in (the start cannot wait for the decision).
            _fix_headers(start["headers"], length, streamed=more, fields=self._app_fields,
                         digests=injector.injected or not injector.done)
            await self._send(start)
        await self._send({"type": "http.response.body", "body": out, "more_body": more})

    def close(self) -> None:
        """Nothing held beyond the injector's lookahead, freed with it."""

    async def _flush_start(self) -> None:
        if self._start is not None:
            start, self._start = self._start, None
            await self._send(start)


def _fix_headers(headers: Headers, length: int, *, streamed: bool, fields: int = -1, digests: bool = True) -> None:
    """One pass: the ETag weakened, even when nothing was inserted (a fragment without <body>: HEAD cannot see
    the body, so it always sends the weak tag, and GET must agree with it, RFC 9110 §9.3.2); Content-Length
    dropped when streamed (the final length is unknown when the headers must leave), or set to `length` unless
    that is -1 (nothing inserted: the app's own stays as it was), in place of the app's (appended if it sent
    none); with `digests`, the digest fields dropped (digests.py: the bytes are not the app's). Only the first
    `fields` header fields are looked at, unless that is -1."""
    drop_length = streamed or length >= 0
    lengths: list[int] = []
    stale: list[int] = []  # digest fields
    # Changed in place (the middleware's own copy of the list): no second list per page. Every name is compared by
    # length first, and a 4-byte one (Link and Vary are ours on every page) by its first letter: lower() makes
    # a new object, and this runs for every page.
    for index in range(len(headers) if fields < 0 else fields):
        name, value = headers[index]
        size = len(name)
        if size == 14 and drop_length and name.lower() == b"content-length":
            lengths.append(index)
        elif size == 4 and name[0] | 0x20 == 0x65 and name.lower() == b"etag" and not value.startswith(b"W/"):
            headers[index] = (name, b"W/" + value)
        elif digests and size in DIGEST_NAME_SIZES and name.lower() in DIGEST_FIELDS:
            stale.append(index)
    if length >= 0:
        field = (b"content-length", b"%d" % length)
        if lengths:
            headers[lengths.pop(0)] = field
        # (rare: a whole page comes with its length) appended, unless the app chose chunked framing itself: a
        # message must not carry both (RFC 9112 §6.2), and the server then frames it so
        elif not any(len(name) == 17 and name.lower() == b"transfer-encoding" for name, _ in headers):
            headers.append(field)  # (after every index in `stale`: they stay right)
    if stale:  # rare: the two index lists merged only then (a sort per page measured +0.2 us)
        lengths += stale
        lengths.sort()
    for index in reversed(lengths):
        del headers[index]


class EventStreamResponder:
    """Sends one SSE comment line right after the headers; every chunk then leaves as it arrives."""

    def __init__(self, send: Send, start: Message, notice: bytes) -> None:
        self._send = send
        self._start = start
        self._notice = notice

    async def begin(self) -> None:
        headers: Headers = self._start["headers"]
        remove_header(headers, b"content-length")
        weaken_etag(headers)  # the notice line changes the body: a strong validator cannot stay (RFC 9110 §8.8.3)
        remove_digests(headers)  # and no digest of the app's bytes matches it (digests.py)
        await self._send(self._start)
        # A comment (': ...'), never a data event: SSE clients such as the OpenAI SDK parse every data event.
        await self._send({"type": "http.response.body", "body": self._notice, "more_body": True})

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":  # the app's trailers: digests of the body without the notice
            message = without_digests(message)
        await self._send(message)

    def close(self) -> None:
        """Nothing held: every chunk left as it arrived."""


class JsonMemberResponder(WholeBodyResponder):
    """Buffers a JSON response (up to a limit) and adds the disclosure member to top-level objects."""

    def __init__(self, send: Send, start: Message, key: str, member: bytes, limit: int = 4 << 20) -> None:
        super().__init__(send, start, limit, f"larger than {limit} bytes")
        self._key = key
        self._member = member

    def gave_up(self, why: str) -> None:
        if why.startswith("larger than"):  # a pathsend body never passes through: nothing to say about it
            logger.info("AI disclosure not added to a JSON body %s", why)

    async def rewrite(self, body: bytes) -> bytes | None:
        return self._with_member(body)

    def _with_member(self, body: bytes) -> bytes | None:
        # Only a UTF-8 top-level object that does not already carry the key; everything else stays as is.
        if body.lstrip()[:1] != b"{":
            return None
        try:
            # Decode as UTF-8 first: json.loads(bytes) would also accept UTF-16/32, where spliced bytes corrupt.
            document = json.loads(body.decode("utf-8"))
        except ValueError:
            return None
        if not isinstance(document, dict) or self._key in document:
            return None
        end = body.rindex(b"}")
        separator = b"," if document else b""
        return body[:end] + separator + self._member + body[end:]
