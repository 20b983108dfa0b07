"""TransparencyMiddleware: pure ASGI; disclosure headers on every HTTP response, body notices where asked.

Everything constant is derived once in ``__init__`` (see :class:`~aiact_transparency.disclosure.Disclosure`);
per request it picks the route policy, adds two headers and, only for HTML, event streams and opted-in JSON,
hands the body to a small per-response rewriter.
"""

from __future__ import annotations

from ._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    get_all,
    get_header,
    header_list,
    parse_media_type,
    remove_header,
    weaken_etag,
)
from .config import TransparencyConfig, load_config
from .csp import ATTRIBUTES, banner_rendering
from .disclosure import Disclosure, RoutePolicy
from .discovery import DiscoveryEndpoint
from .html_inject import HtmlInjector
from .image_responder import (
    MARKABLE_TYPES,
    ImageMarkingService,
    ImageResponder,
    prepare_scope,
    strip_stale_headers,
)
from .provenance.pipeline import ImageMarker
from .responders import BannerGaps, EventStreamResponder, HtmlBannerResponder, JsonMemberResponder, Responder

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Charsets in which ASCII bytes do not mean ASCII characters: the banner bytes would corrupt the page.
_NON_ASCII_CHARSETS = ("utf-16", "utf-32", "ucs-2", "ucs-4", "utf-7", "cp037", "ebcdic")
# JSON is UTF-8 (RFC 8259 §8.1); the member is spliced in as UTF-8 bytes, which would corrupt UTF-16/32 bodies.
_JSON_CHARSETS = frozenset({"", "utf-8", "utf8"})


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


class TransparencyMiddleware:
    """``app.add_middleware(TransparencyMiddleware, config=load_config("aiact.yaml"))``."""

    def __init__(self, app: ASGIApp, config: TransparencyConfig | None = None) -> None:
        self.app = app
        self.config = config if config is not None else load_config()
        self.disclosure = Disclosure(self.config)
        self.discovery = DiscoveryEndpoint(self.disclosure)
        self.banner_gaps = BannerGaps()
        # Built now, so a bad key or certificate stops start-up instead of failing the first image.
        self.images = (
            ImageMarkingService(ImageMarker(self.config, facts=self.disclosure.facts))
            if self.disclosure.marks_images
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.images is not None:
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        disclosure = self.disclosure
        path: str = scope["path"]
        if path == disclosure.discovery_path:
            await self.discovery(scope, receive, send)
            return
        policy = disclosure.policy_for(path)
        if policy.images:  # HEAD too: it must be answered as the GET would be (no 206, no encoding)
            scope = prepare_scope(scope)
        if not policy.changes_body or scope["method"] == "HEAD":

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    content_type, encoding = _add_headers(message, disclosure, policy)
                    if policy.changes_body:
                        status = message["status"]
                        if status == 304 or (content_type and _rewritable(status, encoding)):
                            _like_get(message["headers"], content_type, policy, scope)
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return

        # Closures rather than a per-response object: this runs for every response on most routes, and the
        # closure measured about 0.5 us cheaper per request.
        rewriter: Responder | None = None

        async def send_maybe_rewritten(message: Message) -> None:
            nonlocal rewriter
            if rewriter is not None:
                await rewriter(message)
                return
            if message["type"] == "http.response.start":
                content_type, encoding = _add_headers(message, disclosure, policy)
                if message["status"] == 304:
                    _like_get(message["headers"], content_type, policy, scope)
                elif content_type is not None:
                    rewriter = self._choose(scope, send, message, content_type, encoding, policy)
                    if rewriter is not None:
                        await rewriter.begin()
                        return
            await send(message)

        try:
            await self.app(scope, receive, send_maybe_rewritten)
        finally:  # also when the app raised or the client went away mid-body: an image's queue place is freed
            if rewriter is not None:
                rewriter.close()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's lifespan, unchanged, plus: the marking pools close once the app has shut down (its own
        shutdown may still mark images). An app without lifespan support raises before any shutdown, and
        the exception goes to the server as before (uvicorn's lifespan=auto then carries on without it)."""
        images = self.images
        assert images is not None
        shutting_down = False

        async def receive_watching() -> Message:
            nonlocal shutting_down
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                shutting_down = True
            return message

        async def send_watching(message: Message) -> None:
            # Closed before the server hears "complete": it may exit right after, leaving the workers behind.
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                images.close()
            await send(message)

        try:
            await self.app(scope, receive_watching, send_watching)
        finally:
            if shutting_down:  # also for an app that returns (or raises) without reporting completion
                images.close()

    def _choose(
        self,
        scope: Scope,
        send: Send,
        start: Message,
        content_type: bytes,
        encoding: bytes | None,
        policy: RoutePolicy,
    ) -> Responder | None:
        kind, charset = parse_media_type(content_type)
        status: int = start["status"]
        if policy.images and kind in MARKABLE_TYPES and self.images is not None:
            if status == 206 or (not _identity(encoding) and _rewritable(status, None)):
                # The request lost Range and Accept-Encoding (prepare_scope), yet the app sent bytes we cannot
                # mark: the failure policy decides, with a log line, instead of passing them through unmarked.
                coding = (encoding or b"").decode("latin-1")
                what = "a 206 slice" if status == 206 else f"a Content-Encoding: {coding} body"
                refusal = f"the app sent {what}, which cannot be marked"
                return ImageResponder(send, start, kind, self.images, scope["path"], refusal=refusal)
            if _rewritable(status, encoding):
                return ImageResponder(send, start, kind, self.images, scope["path"])
            return None
        html = kind in _HTML_TYPES and policy.banner and not charset.startswith(_NON_ASCII_CHARSETS)
        if not _rewritable(status, encoding):
            if html and _rewritable(status, None):  # a page we would change, but its bytes are encoded
                coding = (encoding or b"").decode("latin-1")
                self.banner_gaps.log(scope["path"], f"the body is Content-Encoding: {coding}; compress outside")
            return None
        disclosure = self.disclosure
        if html:
            headers = start["headers"]
            # The banner's language follows Accept-Language, so shared caches must key on it.
            headers.append((b"vary", b"Accept-Language"))
            injector = _injector(disclosure, scope, headers)
            return HtmlBannerResponder(send, start, injector, scope["path"], self.banner_gaps)
        if kind == "text/event-stream" and policy.event_stream:
            return EventStreamResponder(send, start, disclosure.event_stream_notice)
        if policy.json_body and _is_json(kind) and charset in _JSON_CHARSETS:
            return JsonMemberResponder(send, start, disclosure.json_key, policy.json_member)
        return None


def _like_get(
    headers: list[tuple[bytes, bytes]], content_type: bytes | None, policy: RoutePolicy, scope: Scope
) -> None:
    """A bodiless answer (HEAD, or a 304) on a route where GET's 200 would be marked, or get a banner, notice or
    JSON member: it must carry the 200's validator and Vary (RFC 9110 §15.4.5), and a HEAD no Content-Length that
    differs from GET's (§8.6). The app's own length and strong ETag describe the unchanged body."""
    if content_type is None:  # a 304 rarely names its type (Starlette's never does)
        _untyped_304_like_get(headers, policy, scope)
        return
    kind, charset = parse_media_type(content_type)
    if policy.images and kind in MARKABLE_TYPES:  # the marked 200 has no ETag: the app's names the original
        strip_stale_headers(headers)
        return
    html = kind in _HTML_TYPES and policy.banner and not charset.startswith(_NON_ASCII_CHARSETS)
    if (
        html
        or (kind == "text/event-stream" and policy.event_stream)
        or (policy.json_body and _is_json(kind) and charset in _JSON_CHARSETS)
    ):
        _changed_body(headers, vary=html)


def _untyped_304_like_get(headers: list[tuple[bytes, bytes]], policy: RoutePolicy, scope: Scope) -> None:
    """A 304 without Content-Type: the client's If-None-Match tells what its stored 200 carried."""
    etag = get_header(headers, b"etag")
    if_none_match = _request_header(scope, b"if-none-match")
    if etag is not None and if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.encode("latin-1").split(b",")}
        # It holds W/ + the app's strong tag: we changed that 200 (banner, notice, member), so weaken again.
        # It holds the tag as the app sent it: the 200 went out unchanged, and so does its 304.
        if not etag.startswith(b"W/") and b"W/" + etag in tags and etag not in tags:
            _changed_body(headers, vary=policy.banner)
        return
    # No tag to go by (If-Modified-Since alone): judge by the route, as a typed answer there would be judged.
    if policy.images:
        strip_stale_headers(headers)
    elif policy.banner or policy.json_body or policy.event_stream:
        _changed_body(headers, vary=policy.banner)


def _changed_body(headers: list[tuple[bytes, bytes]], *, vary: bool) -> None:
    remove_header(headers, b"content-length")
    weaken_etag(headers)
    if vary:  # the banner's language follows Accept-Language
        headers.append((b"vary", b"Accept-Language"))


def _add_headers(start: Message, disclosure: Disclosure, policy: RoutePolicy) -> tuple[bytes | None, bytes | None]:
    """Adds AI-Disclosure and Link; returns (Content-Type, Content-Encoding), read in the same single pass."""
    headers = header_list(start)
    content_type = content_encoding = None
    has_disclosure = False
    for name, value in headers:
        name = name.lower()
        if name == b"content-type":
            content_type = value
        elif name == b"content-encoding":
            content_encoding = value
        elif name == b"ai-disclosure":
            has_disclosure = True
    # An AI-Disclosure the app set itself describes this response better than the config does.
    if not has_disclosure:
        headers.append((b"ai-disclosure", disclosure.header_value(policy)))
    # A separate field line appends to any Link the app sent (RFC 9110 §5.3 combines them), never replaces.
    headers.append((b"link", disclosure.link_value))
    return content_type, content_encoding


def _injector(disclosure: Disclosure, scope: Scope, headers: list[tuple[bytes, bytes]]) -> HtmlInjector:
    language = disclosure.negotiate(_request_header(scope, b"accept-language"))
    policies = get_all(headers, b"content-security-policy")
    rendering = banner_rendering([p.decode("latin-1") for p in policies]) if policies else ATTRIBUTES
    return HtmlInjector(
        head_snippet=disclosure.meta_tag,
        body_snippet=disclosure.banner_html(language, rendering),
        limit=disclosure.config.banner.max_lookahead,
    )


def _rewritable(status: int, content_encoding: bytes | None) -> bool:
    """Responses whose body we may change at all: not informational/empty/partial, not already encoded."""
    if status < 200 or status in (204, 205, 206, 304):
        return False
    return _identity(content_encoding)


def _identity(content_encoding: bytes | None) -> bool:
    return content_encoding is None or content_encoding.strip().lower() in (b"", b"identity")


def _request_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
