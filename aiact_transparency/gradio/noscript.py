"""The disclosure on a Gradio page for visitors without JavaScript.

Gradio's index page is an empty shell that its JavaScript fills: the banner component and the ``head`` given
to ``launch()``/``mount()`` (with the ai-disclosure meta tag) exist only once that script runs. This pure-ASGI
middleware puts a ``<noscript>`` copy of both into the index page's HTML itself: the banner right after
``<body>``, the meta tag in ``<head>``. Browsers that run scripts ignore ``<noscript>``, so they still show
exactly one banner, the component.
"""

from __future__ import annotations

from ..asgi.html_scanner import HtmlInjector
from ..asgi.responders.notices import BannerGaps, HtmlBannerResponder
from ..disclosure import Disclosure
from ..disclosure.csp import ATTRIBUTES, banner_rendering
from ..http_messages import ASGIApp, Message, Receive, Scope, Send, get_all, get_header, header_list, parse_media_type

# Gradio's head embeds the whole app config and API description as JSON (hundreds of KB for a large app), so
# <body> comes late. The page is one template response already in memory: holding it costs nothing extra.
_INDEX_LOOKAHEAD = 8 * 1024 * 1024


class NoscriptNotice:
    """Adds the <noscript> banner and meta tag to Gradio's index page served at `path` (``/`` or a mount)."""

    def __init__(self, app: ASGIApp, *, disclosure: Disclosure, path: str) -> None:
        self.app = app
        self._disclosure = disclosure
        self._gaps = BannerGaps()  # a page whose notice cannot be inserted is logged once, as elsewhere
        prefix = "/" + path.strip("/") if path.strip("/") else ""
        self._index_paths = {prefix, prefix + "/"} - {""}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self._index_paths:
            await self.app(scope, receive, send)
            return
        responder: HtmlBannerResponder | None = None

        async def send_with_notice(message: Message) -> None:
            nonlocal responder
            if responder is not None:
                await responder(message)
            elif message["type"] == "http.response.start" and _plain_html(message):
                headers = header_list(message)
                headers.append((b"vary", b"Accept-Language"))  # the notice is in the visitor's language
                injector = self._injector(scope, headers)
                responder = HtmlBannerResponder(send, message, injector, scope["path"], self._gaps)
                await responder.begin()
            else:
                await send(message)

        await self.app(scope, receive, send_with_notice)

    def _injector(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> HtmlInjector:
        disclosure = self._disclosure
        accept_language = get_header(list(scope.get("headers", ())), b"accept-language")
        language = disclosure.negotiate(accept_language.decode("latin-1") if accept_language else None)
        policies = [p.decode("latin-1") for p in get_all(headers, b"content-security-policy")]
        rendering = banner_rendering(policies) if policies else ATTRIBUTES
        return HtmlInjector(
            head_snippet=b"<noscript>" + disclosure.meta_tag + b"</noscript>",
            body_snippet=b"<noscript>" + disclosure.banner_html(language, rendering) + b"</noscript>",
            limit=_INDEX_LOOKAHEAD,
        )


def _plain_html(start: Message) -> bool:
    headers = header_list(start)
    content_type = get_header(headers, b"content-type")
    encoding = (get_header(headers, b"content-encoding") or b"identity").strip().lower()
    return (
        start["status"] == 200
        and content_type is not None
        and parse_media_type(content_type)[0] == "text/html"
        and encoding in (b"", b"identity")
    )
