"""TransparencyMiddleware: pure ASGI; disclosure headers on every HTTP response, body notices where asked.

Everything constant is derived once in ``__init__`` (see :class:`~aiact_transparency.disclosure.Disclosure`);
per request it picks the route policy, adds two headers and, only for HTML, event streams and opted-in JSON,
hands the body to a small per-response rewriter.
"""

from __future__ import annotations

from ._asgi import ASGIApp, Message, Receive, Scope, Send, body_is_rewritable, get_all, header_list, media_type
from .config import TransparencyConfig, load_config
from .csp import ATTRIBUTES, banner_rendering
from .disclosure import Disclosure, RoutePolicy
from .discovery import DiscoveryEndpoint
from .html_inject import HtmlInjector
from .responders import EventStreamResponder, HtmlBannerResponder, JsonMemberResponder

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Charsets in which ASCII bytes do not mean ASCII characters: the banner bytes would corrupt the page.
_NON_ASCII_CHARSETS = ("utf-16", "utf-32", "ucs-2", "ucs-4", "utf-7", "cp037", "ebcdic")


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


class TransparencyMiddleware:
    """``app.add_middleware(TransparencyMiddleware, config=load_config("aiact.yaml"))``."""

    def __init__(self, app: ASGIApp, config: TransparencyConfig | None = None) -> None:
        self.app = app
        self.config = config if config is not None else load_config()
        self.disclosure = Disclosure(self.config)
        self.discovery = DiscoveryEndpoint(self.disclosure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        disclosure = self.disclosure
        path: str = scope["path"]
        if path == disclosure.discovery_path:
            await self.discovery(scope, receive, send)
            return
        policy = disclosure.policy_for(path)
        if policy.changes_body and scope["method"] != "HEAD":
            await self.app(scope, receive, _BodySender(scope, send, disclosure, policy))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(message, disclosure, policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_headers(start: Message, disclosure: Disclosure, policy: RoutePolicy) -> None:
    headers = header_list(start)
    # An AI-Disclosure the app set itself describes this response better than the config does.
    if not any(key.lower() == b"ai-disclosure" for key, _ in headers):
        headers.append((b"ai-disclosure", disclosure.header_value(policy)))
    # A separate field line appends to any Link the app sent (RFC 9110 §5.3 combines them), never replaces.
    headers.append((b"link", disclosure.link_value))


class _BodySender:
    """Wraps `send` for one response whose body may change; picks the rewriter when the headers arrive."""

    __slots__ = ("_disclosure", "_policy", "_rewriter", "_scope", "_send")

    def __init__(self, scope: Scope, send: Send, disclosure: Disclosure, policy: RoutePolicy) -> None:
        self._scope = scope
        self._send = send
        self._disclosure = disclosure
        self._policy = policy
        self._rewriter: Send | None = None

    async def __call__(self, message: Message) -> None:
        if self._rewriter is not None:
            await self._rewriter(message)
        elif message["type"] == "http.response.start":
            _add_headers(message, self._disclosure, self._policy)
            await self._start(message)
        else:
            await self._send(message)

    async def _start(self, start: Message) -> None:
        headers = header_list(start)
        if not body_is_rewritable(start["status"], headers):
            await self._send(start)
            return
        kind, charset = media_type(headers)
        policy = self._policy
        if kind in _HTML_TYPES and policy.banner and not charset.startswith(_NON_ASCII_CHARSETS):
            # The banner's language follows Accept-Language, so shared caches must key on it.
            headers.append((b"vary", b"Accept-Language"))
            self._rewriter = HtmlBannerResponder(self._send, start, self._injector(headers), self._scope["path"])
        elif kind == "text/event-stream" and policy.event_stream:
            await EventStreamResponder(self._send, self._disclosure.event_stream_notice).start(start)
        elif _is_json(kind) and policy.json_body:
            self._rewriter = JsonMemberResponder(self._send, start, self._disclosure.json_key, policy.json_member)
        else:
            await self._send(start)

    def _injector(self, headers: list[tuple[bytes, bytes]]) -> HtmlInjector:
        disclosure = self._disclosure
        language = disclosure.negotiate(_request_header(self._scope, b"accept-language"))
        policies = get_all(headers, b"content-security-policy")
        rendering = banner_rendering([p.decode("latin-1") for p in policies]) if policies else ATTRIBUTES
        return HtmlInjector(
            head_snippet=disclosure.meta_tag,
            body_snippet=disclosure.banner_html(language, rendering),
            limit=disclosure.config.banner.max_lookahead,
        )


def _request_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
