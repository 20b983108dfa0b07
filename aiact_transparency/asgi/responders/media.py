"""Marks media responses on the fly: buffer the body, mark it off the event loop, send the marked bytes.

One responder for every markable medium: the provenance registry (provenance/media.py) says which types
it takes (``MarkingService.types``) and marks them; buffering up to ``max_bytes``, the queue bound, the
deadline, the failure policy and the header fixes are the same for all.

The marking itself, its limiter and its queue bound are in :mod:`.marking_service` (beyond the bound:
503 + Retry-After, never unbounded memory).
When marking fails, the configured policy decides: fail-closed answers 500 with a problem+json body that
says what failed; fail-open serves the original bytes (with the disclosure headers, no mark claimed).
A gzip or deflate body (a compression middleware inside ours) is decoded first (:mod:`.content_coding`),
its decoded size capped by the same max_bytes; the marked file goes out unencoded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import anyio.to_thread

from ...http_messages import Message, Scope, Send, remove_header, set_header
from ...provenance.errors import MarkingError
from ...provenance.media import medium_for
from .content_coding import codings_of, decode, undecodable
from .digests import TRAILERS, remove_digests, without_digests
from .marking_service import MarkingService

logger = logging.getLogger("aiact_transparency")

__all__ = ["MediaResponder", "decodable_accept_encoding", "encoding_refusal", "prepare_scope", "strip_stale_headers"]

_DIRECT_SEND = ("http.response.pathsend", "http.response.zerocopysend")
# Request headers that would make the app send bytes we cannot mark: a slice of the original.
_REQUEST_HEADERS_TO_DROP = frozenset({b"range", b"if-range"})
_REQUEST_HEADERS_TO_CHANGE = _REQUEST_HEADERS_TO_DROP | {b"accept-encoding"}
# The codings a medium, page or JSON body can be decoded from (content_coding.py), and identity.
_UNDOABLE = ("gzip", "x-gzip", "deflate", "identity")
# Accept-Encoding values seen -> the value the app gets, or None when it needs no change (the request is then not
# copied). Clients send few distinct values (a browser's is constant); the bound keeps one that varies them from
# growing the table.
_ACCEPTED: dict[bytes, bytes | None] = {}
_ACCEPTED_CACHED = 256
# Headers that would describe the unmarked original: its validator, its byte ranges, its transfer, its coding
# (a gzip body is decoded before marking; the marked file goes out as it is); its digests go too (digests.py).
_STALE_HEADERS = (b"content-length", b"etag", b"accept-ranges", b"content-range", b"content-encoding")


def problem(status: int, title: str, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class MediaResponder:
    """Holds the start message, collects the body, then sends the marked file (or applies the policy)."""

    def __init__(
        self,
        send: Send,
        start: Message,
        media_type: str,
        service: MarkingService,
        path: str,
        *,
        refusal: str | None = None,
        accept_language: str | None = None,
        content_encoding: bytes | None = None,
    ) -> None:
        """`refusal`: why this response cannot be marked at all (encoded, partial): the policy applies at once.
        `accept_language`: the request's (None: it sent none), for audio's spoken disclaimer.
        `content_encoding`: the response's, one `encoding_refusal` accepted: the body is decoded before marking."""
        self._send = send
        self._refusal = refusal
        self._start = start
        self._media_type = media_type
        medium = medium_for(media_type)
        self._medium = medium.name if medium is not None else "file"  # the word errors and logs use
        self._service = service
        self._limits = service.limits_for(self._medium)
        self._path = path
        self._chunks: list[bytes] = []
        self._size = 0
        # -> "passthrough" (sending the original on), "marked" (the marked file sent) or "discarding" (answered)
        self._state = "collecting"
        self._admitted = False
        self._accept_language = accept_language
        self._codings = codings_of(content_encoding)

    async def begin(self) -> None:
        if self._refusal is not None:
            await self._fail(self._refusal, complete=False)
        elif self._service.admit():
            self._admitted = True
        else:
            medium = self._medium
            await self._answer(503, f"{medium.capitalize()} marking is saturated",
                               f"too many {medium}s are waiting to be marked")

    def close(self) -> None:
        """The app is done (or failed, or the client left): give back the place and drop what was collected."""
        self._chunks = []
        if self._admitted:
            self._admitted = False
            self._service.release()

    async def __call__(self, message: Message) -> None:
        if self._state == "passthrough":
            await self._send(message)
            return
        if self._state == "discarding":
            return  # already answered: the app's remaining messages have nowhere to go
        if self._state == "marked":
            # The app's trailers (its start said it sends them; so does ours, a copy) follow the marked file,
            # without the digests of the original. Nothing else the app sends after its last body is of use.
            if message["type"] == TRAILERS:
                await self._send(without_digests(message))
            return
        if message["type"] != "http.response.body":  # e.g. pathsend, though the middleware disabled it
            await self._fail(f"the app sent {message['type']} instead of the {self._medium} bytes", complete=False)
            if self._state == "passthrough":
                await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        self._size += len(self._chunks[-1])
        more = message.get("more_body", False)
        if self._size > self._limits.max_bytes:
            limits = self._limits
            await self._fail(f"the {self._medium} is larger than {limits.section}.max_bytes = {limits.max_bytes}",
                             complete=not more)
        elif not more:
            data = b"".join(self._chunks)
            self._chunks = [data]  # one copy of the body held, kept for fail-open (a decoded copy beside it)
            await self._mark(data)

    async def _mark(self, data: bytes) -> None:
        try:
            if self._codings:  # off the event loop: zlib frees the GIL, and a large body takes a while
                setting = f"{self._limits.section}.max_bytes"
                data = await anyio.to_thread.run_sync(decode, data, self._codings, self._limits.max_bytes, setting)
            marked = await self._service.mark(data, self._media_type, self._accept_language)
        except MarkingError as exc:
            await self._fail(str(exc), complete=True, title=exc.title)
            return
        except Exception as exc:  # a bug or a broken signer must not take the response down with it
            logger.exception("unexpected error while marking an %s on %s", self._medium, self._path)
            await self._fail(f"unexpected {type(exc).__name__}", complete=True)
            return
        if self._service.output_log is not None:  # queued for hashing and writing: never waits, never fails
            self._service.output_log.submit(marked, self._path)
        headers = self._start["headers"]  # the middleware's copy (header_list), ours to change
        _remove_stale(headers)
        set_header(headers, b"content-type", marked.media_type.encode("ascii"))
        headers.append((b"content-length", str(len(marked.data)).encode("ascii")))
        _add_no_transform(headers)
        self._state = "marked"
        self.close()
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": marked.data, "more_body": False})

    async def _fail(self, detail: str, *, complete: bool, title: str = MarkingError.title) -> None:
        """Apply the failure policy. `complete`: the app has sent its whole body already."""
        chunks = self._chunks
        self.close()
        section = self._limits.section
        if self._limits.fail_open:
            logger.warning(
                "serving an UNMARKED %s on %s (%s.on_error = fail-open): %s", self._medium, self._path, section, detail
            )
            self._state = "passthrough"
            await self._send(self._start)  # the original headers: they describe the original bytes
            if chunks or complete:
                await self._send({"type": "http.response.body", "body": b"".join(chunks), "more_body": not complete})
            return
        logger.error("%s on %s not served (%s.on_error = fail-closed): %s", self._medium, self._path, section, detail)
        await self._answer(500, title, detail)

    async def _answer(self, status: int, title: str, detail: str) -> None:
        self._state = "discarding"
        self.close()
        start, body = problem(status, title, detail)
        # Keep the disclosure headers the middleware already put on the start message.
        start["headers"] += [(k, v) for k, v in self._start["headers"] if k in (b"ai-disclosure", b"link")]
        await self._send(start)
        await self._send(body)


def prepare_scope(scope: Scope) -> Scope:
    """The request as the app should see it on a media route: bodies must pass through us whole to be marked.

    pathsend/zerocopysend would hand the file to the server directly, past us. Range and If-Range go, as the
    route's responses cannot be told apart before the app answers: a 206 is a slice of the unmarked original,
    which cannot be marked (the marker needs the whole file), and slicing marked files instead would corrupt
    downloads, since each marking differs (its manifest's id, timestamp and signature): a download resumed
    with a second range would join bytes of two different files. So every response on the route comes whole,
    a non-media one too: a 200 with the entire body in place of the 206 asked for, which RFC 9110 §14.2 allows
    (a server MAY ignore Range; the client then takes the 200 as the whole representation). Large non-media
    downloads that need ranges belong outside the media routes (README).
    Accept-Encoding keeps only the codings we can undo (`decodable_accept_encoding`): JSON and pages keep a
    compression middleware inside ours, a gzip or deflate medium is decoded before marking (MediaResponder), a
    gzip or deflate page, JSON or text around its responder (CodedResponder); a br or zstd compressor inside
    (browsers ask for both) is not offered them, so it sends gzip or nothing at all.
    """
    # One pass over the request headers, no generator, nothing else per request: this runs for every request on
    # a media route (by default every route), most of which are not media at all. (The responder reads the
    # Accept-Language from the scope itself, only when there is an image to mark.)
    headers = scope.get("headers") or ()
    for name, value in headers:
        # (An Accept-Encoding not seen yet gets `value` back: computed once, then None if it needs no change.)
        if name in _REQUEST_HEADERS_TO_CHANGE and (name != b"accept-encoding" or _ACCEPTED.get(value, value)):
            scope = dict(scope)
            scope["headers"] = _changed_request_headers(headers)
            break
    extensions = scope.get("extensions")
    if extensions and ("http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions):
        scope = dict(scope)
        scope["extensions"] = {k: v for k, v in extensions.items() if k not in _DIRECT_SEND}
    return scope


def _changed_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    changed = []
    for field in headers:  # (the fields as they are: only Accept-Encoding's is a new tuple)
        name = field[0]
        if name in _REQUEST_HEADERS_TO_DROP:
            continue
        changed.append((name, decodable_accept_encoding(field[1])) if name == b"accept-encoding" else field)
    return changed


def decodable_accept_encoding(value: bytes) -> bytes:
    """`value` cut down to the codings we can undo (gzip, x-gzip, deflate) and identity, with their weights (the
    same object when it lists no other). Remembered per value.

    RFC 9110 §12.5.3: `*` stands for every coding the field does not list, so it becomes each undoable coding not
    listed (x-gzip and gzip count as one, §8.4.1.3), identity included, with the `*` member's weight (`*;q=0` stays
    a refusal of them all). Any other coding is dropped, so its absence makes it unacceptable (no `*` is left).
    Nothing left would leave the app with no field, which §12.5.3 reads as "any coding": the field is then
    `identity`, the one answer the client did not refuse and we can always take, unless it refused identity too
    (then its member stays, and nothing is acceptable, as the client asked)."""
    if value in _ACCEPTED:
        return _ACCEPTED[value] or value
    members = [member.strip() for member in value.split(b",")]
    members = [member for member in members if member]
    names = [member.split(b";", 1)[0].strip().lower().decode("latin-1") for member in members]
    listed = set(names)
    if "gzip" in listed or "x-gzip" in listed:
        listed |= {"gzip", "x-gzip"}
    kept: list[bytes] = []
    for member, name in zip(members, names, strict=True):
        if name in _UNDOABLE:
            kept.append(member)
        elif name == "*":
            weight = member[1:].strip()  # ";q=0.5", or b"" for none
            kept += [coding.encode("ascii") + weight for coding in _UNDOABLE if coding not in listed]
    unchanged = all(name in _UNDOABLE for name in names)
    if len(_ACCEPTED) >= _ACCEPTED_CACHED:
        _ACCEPTED.clear()
    _ACCEPTED[value] = None if unchanged else b", ".join(kept) if kept else b"identity"
    return _ACCEPTED[value] or value


def encoding_refusal(content_encoding: bytes | None) -> str | None:
    """Why a media response's Content-Encoding keeps it from being marked (the fix named), or None when it is
    identity or codings the responder decodes."""
    coding = undecodable(content_encoding)
    if coding is None:
        return None
    value = (content_encoding or b"").decode("latin-1")
    return (
        f"the app sent a Content-Encoding: {value} body, which cannot be decoded to be marked ({coding}; only "
        "gzip and deflate are): exclude media types from the compression middleware inside "
        "TransparencyMiddleware, or add the compression outside it"
    )


def strip_stale_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """For HEAD on a media route: the GET would carry different, unencoded bytes, so no length, validator,
    digest or Content-Encoding."""
    _remove_stale(headers)
    _add_no_transform(headers)


def _remove_stale(headers: list[tuple[bytes, bytes]]) -> None:
    for name in _STALE_HEADERS:
        remove_header(headers, name)
    remove_digests(headers)


def _add_no_transform(headers: list[tuple[bytes, bytes]]) -> None:
    # Proxies that recompress media would strip the marks and break the signature.
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"cache-control":
            if b"no-transform" not in value.lower():
                headers[index] = (name, value + b", no-transform")
            return
    headers.append((b"cache-control", b"no-transform"))
