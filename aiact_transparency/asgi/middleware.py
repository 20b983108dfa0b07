"""TransparencyMiddleware: pure ASGI; disclosure headers on every HTTP response, body notices where asked.

Everything constant is derived once in ``__init__`` (see :class:`~aiact_transparency.disclosure.Disclosure`);
per request it picks the route policy, adds two headers and, only for HTML, event streams and opted-in JSON,
hands the body to a small per-response rewriter.
"""

from __future__ import annotations

from ..config import TransparencyConfig
from ..detection.endpoint import DetectionEndpoint
from ..detection.wiring import endpoint_for, soft_binding_route
from ..disclosure import (
    MEASURE_BANNER,
    MEASURE_EVENT_STREAM,
    MEASURE_IMAGES,
    MEASURE_JSON_BODY,
    MEASURE_TEXT_C2PA,
    Disclosure,
    RoutePolicy,
)
from ..disclosure.csp import banner_rendering
from ..fingerprints.outputs import OutputLog
from ..http_messages import (
    ASGIApp,
    Headers,
    Message,
    Receive,
    Scope,
    Send,
    get_all,
    header_list,
    parse_media_type,
    request_header,
)
from ..provenance.media import MediaMarkers
from ..startup import load_config
from .bodiless import like_get, measures_for
from .discovery import DiscoveryEndpoint
from .html_scanner import HeadCache, HtmlInjector
from .responders.chat import text_responder
from .responders.coded import coded_responder, recodable
from .responders.marking_service import MarkingService
from .responders.media import MediaResponder, encoding_refusal, prepare_scope
from .responders.notices import BannerGaps, EventStreamResponder, HtmlBannerResponder, JsonMemberResponder, Responder
from .responders.text_service import TextMarkingService

# Distinct Content-Type values whose measures are remembered: apps send few, but the bound keeps an app that
# varies them per response (a boundary parameter, say) from growing the table.
_TYPE_MEASURES_CACHED = 256


class TransparencyMiddleware:
    """``app.add_middleware(TransparencyMiddleware, config=load_config("aiact.yaml"))``."""

    def __init__(
        self, app: ASGIApp, config: TransparencyConfig | None = None, *, output_log: OutputLog | None = None
    ) -> None:
        """`output_log`: a fingerprint log to write to instead of opening one (Gradio's output hook shares its
        own); the middleware closes it at lifespan shutdown either way."""
        self.app = app
        self.config = config if config is not None else load_config()
        self.disclosure = Disclosure(self.config)
        self.banner_gaps = BannerGaps()
        # Built now, so a bad key or certificate stops start-up instead of failing the first image. One service
        # for every markable medium; `images` is its name while the route switch is `images.routes` (the audio
        # issue generalises both, with RoutePolicy.images becoming a `media` flag).
        self.images = (
            MarkingService(MediaMarkers(self.config, facts=self.disclosure.facts))
            if self.disclosure.marks_media
            else None
        )
        signer = self.images.marker.signer if self.images else None
        self.text = TextMarkingService.for_config(self.config, self.disclosure.facts, signer)  # `text: c2pa` routes
        # After the image service: the document names its signer (trusted or not) without loading it twice.
        self.discovery = DiscoveryEndpoint(self.disclosure, signer=self.images.marker.identity if self.images else None)
        self.output_log, self.detection = _output_log_and_detector(self.config, self.images, output_log)
        self.soft_binding, self.soft_binding_prefix = soft_binding_route(self.detection)  # the C2PA resolution API
        if self.text is not None:  # marked texts are fingerprinted too (MinHash, when long enough)
            self.text.output_log = self.output_log
        self._type_measures: dict[bytes, int] = {}  # Content-Type value -> the measures that may change its body
        self._heads = HeadCache(self.config.banner.max_lookahead)  # pages served again skip the scan
        # What every request looks up, bound once. Our own paths map to the attribute that serves them, read when
        # a request comes: a subclass may replace the `discovery` or `detection` object it was built with (Gradio's
        # replaces `discovery`), not add a detector where there was none, nor replace `disclosure` (its headers
        # and policies are bound here). The discovery path wins a tie.
        self._endpoints: dict[str, str] = {}
        if self.detection is not None:
            self._endpoints[self.detection.settings.path] = "detection"
        self._endpoints[self.disclosure.discovery_path] = "discovery"
        self._policy_for = self.disclosure.policy_for
        self._constant_policy = self.disclosure.constant_policy
        self._header_fields = self.disclosure.header_fields
        self._link_fields = self.disclosure.link_fields

    def close(self) -> None:
        """Stops the marking workers and writes out the fingerprint log (also done at lifespan shutdown)."""
        if self.images is not None:
            self.images.close()
        if self.output_log is not None:
            self.output_log.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and (self.images is not None or self.output_log is not None):
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        endpoint = self._endpoints.get(path)  # the discovery document, the detector: one lookup for both
        if endpoint is not None:
            await getattr(self, endpoint)(scope, receive, send)
            return
        if self.soft_binding is not None and path.startswith(self.soft_binding_prefix):
            await self.soft_binding(scope, receive, send)
            return
        policy = self._constant_policy or self._policy_for(path)  # (a RoutePolicy is never falsy)
        if policy.images:
            scope = prepare_scope(scope)  # HEAD too: it must be answered as the GET would be (no 206)
        # The hot path: every response of every route passes through this one closure. It is cheaper per request
        # than a small object (no __init__ call, no bound method), and the start message's header pass is written
        # out here, not called: a call per response was a measurable share of the cost (issue 17).
        rewriter: Responder | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal rewriter
            if rewriter is not None:
                await rewriter(message)
                return
            if message["type"] == "http.response.start":
                raw = message.get("headers")
                # The app's list is never changed in place (a module-level response object sends the same list
                # every time): ours is its concatenation with the two field lines, one new list.
                if type(raw) is not list:
                    raw = header_list(message)  # only for the rare headers that are not a list
                content_type = encoding = None
                has_disclosure = False
                for name, value in raw:  # one pass for the three fields that matter here
                    size = len(name)  # before lower(), which makes a new object: most names differ in length
                    if size == 12:
                        if name.lower() == b"content-type":
                            content_type = value
                    elif size == 16:
                        if name.lower() == b"content-encoding":
                            # Repeated field lines are one list (RFC 9110 §5.3): stacked codings must be seen as such.
                            encoding = value if encoding is None else encoding + b", " + value
                    elif size == 13 and name.lower() == b"ai-disclosure":
                        has_disclosure = True
                # A copy of the message, too, for the same reason. An AI-Disclosure the app set itself describes
                # this response better than the config does; the Link field line appends to any Link the app
                # sent (RFC 9110 §5.3 combines them), never replaces it.
                message = dict(message)
                message["headers"] = raw + (self._link_fields if has_disclosure else self._header_fields(policy))
                if policy.changes_body:
                    if message["status"] == 304 or scope["method"] == "HEAD":
                        rewriter = self._bodiless(scope, send, message, content_type, encoding, policy)
                    elif content_type is not None:
                        applies = policy.measures & (
                            self._type_measures.get(content_type) or self._measures(content_type)
                        )
                        # Only a type one of the route's measures applies to goes on: most responses (JSON on a
                        # banner route, say) skip the responder choice with one lookup, and a page on a banner route
                        # (the most common rewrite) goes straight to its responder.
                        if applies:
                            if applies == MEASURE_BANNER:
                                rewriter = self._page(scope, send, message, encoding, raw)
                            else:
                                rewriter = self._choose(
                                    scope, send, message, content_type, encoding, policy, applies, raw
                                )
                    if rewriter is not None:
                        # The banner's begin() does nothing (its start message waits for the first chunk, which
                        # sets Content-Length): not awaited, a coroutine less per page.
                        if type(rewriter) is not HtmlBannerResponder:
                            await rewriter.begin()
                        return
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:  # also when the app raised or the client went away mid-body: an image's queue place is freed
            if rewriter is not None:
                rewriter.close()

    def _bodiless(
        self, scope: Scope, send: Send, start: Message, content_type: bytes | None, encoding: bytes | None,
        policy: RoutePolicy,
    ) -> Responder | None:
        """A HEAD or a 304 on a route whose bodies may change: the header fields the GET's 200 would carry. On a
        media route, a HEAD for an image the GET could not mark gets the same policy answer (a responder)."""
        status: int = start["status"]
        if policy.images and content_type:
            kind = parse_media_type(content_type)[0]
            if self._marks(kind) and self.images is not None:
                refusal = _refusal(status, encoding)
                if refusal is not None:
                    return MediaResponder(send, start, kind, self.images, scope["path"], refusal=refusal)
                encoding = None  # identity, or a coding the GET's responder decodes: its 200 goes out unencoded
        if recodable(encoding):  # its GET's body is decoded and rewritten (responders/coded.py)
            encoding = None
        if status == 304 or (content_type and _rewritable(status, encoding)):
            like_get(start["headers"], content_type, policy, scope)
        return None

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's lifespan, unchanged, plus: the marking pools and the fingerprint log close once the app has
        shut down (its own shutdown may still mark images). An app without lifespan support raises before any
        shutdown, and the exception goes to the server as before (uvicorn's lifespan=auto then carries on
        without it)."""
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
                self.close()
            await send(message)

        try:
            await self.app(scope, receive_watching, send_watching)
        finally:
            if shutting_down:  # also for an app that returns (or raises) without reporting completion
                self.close()

    def _measures(self, content_type: bytes) -> int:
        """The RoutePolicy.measures bits that may change a body of this Content-Type (remembered per value)."""
        kind, charset = parse_media_type(content_type)
        measures = measures_for(kind, charset) | (MEASURE_IMAGES if self._marks(kind) else 0)
        if len(self._type_measures) >= _TYPE_MEASURES_CACHED:
            self._type_measures.clear()
        self._type_measures[content_type] = measures
        return measures

    def _marks(self, kind: str) -> bool:
        """Whether the marking service takes this bare Content-Type (an enabled medium's type or alias)."""
        return self.images is not None and kind in self.images.types

    def _page(
        self, scope: Scope, send: Send, start: Message, encoding: bytes | None, app_fields: Headers
    ) -> Responder | None:
        """The responder for a page on a banner route, or None when its bytes may not change (`app_fields` as for
        _choose). The fewest steps: every page of a site takes them."""
        status: int = start["status"]
        if (status != 200 or encoding is not None) and not _rewritable(status, encoding):  # 200: no call
            if _rewritable(status, None):  # a page we would change, but its bytes are encoded
                coded = coded_responder(send, start, encoding or b"", scope["path"])  # gzip or deflate: decoded,
                if coded is not None:  # the banner put in, and encoded again (responders/coded.py)
                    return coded.around(self._page(scope, coded.send, start, None, app_fields))
                self._coding_gap(scope["path"], encoding or b"", MEASURE_BANNER)
            return None
        # The banner's language follows Accept-Language, so shared caches must key on it.
        start["headers"].append((b"vary", b"Accept-Language"))
        disclosure = self.disclosure
        accept_language = request_header(scope, b"accept-language")
        policies = get_all(app_fields, b"content-security-policy")
        if policies:  # the banner markup the page's CSP lets the browser render
            rendering = banner_rendering([p.decode("latin-1") for p in policies])
            banner = disclosure.banner_html(disclosure.negotiate(accept_language), rendering)
        else:
            banner = disclosure.styled_banner(accept_language)
        heads = self._heads
        injector = HtmlInjector(head_snippet=disclosure.meta_tag, body_snippet=banner, limit=heads.limit, heads=heads)
        return HtmlBannerResponder(send, start, injector, scope["path"], self.banner_gaps, app_fields=len(app_fields))

    def _coding_gap(self, path: str, encoding: bytes, applies: int) -> None:
        """Logs (once per route) the notice a body in an undecodable Content-Encoding goes out without."""
        if applies & MEASURE_BANNER:
            what = "AI banner"
        elif applies & MEASURE_TEXT_C2PA and self.text is not None:
            what = "C2PA text wrapper"
        elif applies & MEASURE_EVENT_STREAM:
            what = "AI disclosure event-stream notice"
        else:
            what = "AI disclosure JSON member"
        reason = f"the body is Content-Encoding: {encoding.decode('latin-1')}; compress outside TransparencyMiddleware"
        self.banner_gaps.log(path, reason, what=what)

    def _choose(
        self,
        scope: Scope,
        send: Send,
        start: Message,
        content_type: bytes,
        encoding: bytes | None,
        policy: RoutePolicy,
        applies: int,
        app_fields: Headers,
    ) -> Responder | None:
        """The responder for a response whose type one of the route's measures applies to (`applies`: those
        RoutePolicy.measures bits), or None to send it unchanged. `app_fields`: the app's own header list, which
        the start message's begins with (ours follow: no Content-Length, ETag or CSP among them)."""
        status: int = start["status"]
        if applies & MEASURE_IMAGES and self.images is not None:  # a type the marking service takes
            kind = parse_media_type(content_type)[0]
            refusal = _refusal(status, encoding)
            if refusal is not None:
                return MediaResponder(send, start, kind, self.images, scope["path"], refusal=refusal)
            if _rewritable(status, None):  # identity, or a coding the responder decodes before marking
                language = request_header(scope, b"accept-language")  # audio's spoken disclaimer follows it
                return MediaResponder(send, start, kind, self.images, scope["path"], accept_language=language,
                                      content_encoding=encoding)
            return None
        if encoding is not None and not _identity(encoding) and _rewritable(status, None):
            coded = coded_responder(send, start, encoding, scope["path"])  # gzip or deflate compressed inside us
            if coded is not None:  # the responder for the decoded body, its output encoded again
                return coded.around(
                    self._choose(scope, coded.send, start, content_type, None, policy, applies, app_fields)
                )
        if applies & MEASURE_BANNER:
            return self._page(scope, send, start, encoding, app_fields)
        if not _rewritable(status, encoding):
            if _rewritable(status, None):  # a body we would change, in a coding we cannot undo (br, zstd, stacked)
                self._coding_gap(scope["path"], encoding or b"", applies)
            return None
        kind, charset = parse_media_type(content_type)
        disclosure = self.disclosure
        if policy.text_c2pa and self.text is not None:
            member = (disclosure.json_key, disclosure.json_object(policy.mode)) if policy.json_body else None
            notice = disclosure.event_stream_notice if policy.event_stream else None
            text = text_responder(send, start, kind, charset, self.text, scope["path"], notice=notice, member=member)
            if text is not None:
                return text
        if applies & MEASURE_EVENT_STREAM:
            return EventStreamResponder(send, start, disclosure.event_stream_notice)
        if applies & MEASURE_JSON_BODY:
            return JsonMemberResponder(send, start, disclosure.json_key, policy.json_member)
        return None


def _output_log_and_detector(
    config: TransparencyConfig, images: MarkingService | None, output_log: OutputLog | None
) -> tuple[OutputLog | None, DetectionEndpoint | None]:
    """The fingerprint log (its writer runs until close()) and the detector, which signs with the media marker's
    signer (never loaded twice) and looks outputs up in the same store."""
    if output_log is None and config.fingerprints.enabled:
        output_log = OutputLog(config.fingerprints)
    if images is not None:
        images.output_log = output_log
    if not config.detection.enabled:
        return output_log, None
    image_marker = images.marker.markers.get("image") if images is not None else None
    signer = getattr(image_marker, "signer", None)
    store = output_log.store if output_log is not None else None
    return output_log, endpoint_for(config, signer=signer, store=store)


def _rewritable(status: int, content_encoding: bytes | None) -> bool:
    """Responses whose body we may change at all: not informational/empty/partial, not already encoded."""
    if status < 200 or status in (204, 205, 206, 304):
        return False
    return _identity(content_encoding)


def _refusal(status: int, content_encoding: bytes | None) -> str | None:
    """Why an image response cannot be marked at all, or None. The request lost Range (prepare_scope), yet an
    app may still send a slice, or bytes in a coding we cannot decode (gzip and deflate we can): the failure
    policy then decides, with a log line, instead of letting them through unmarked."""
    if status == 206:
        return "the app sent a 206 slice, which cannot be marked"
    return encoding_refusal(content_encoding) if _rewritable(status, None) else None


def _identity(content_encoding: bytes | None) -> bool:
    return content_encoding is None or content_encoding.strip().lower() in (b"", b"identity")
