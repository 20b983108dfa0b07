"""The disclosure inside a Gradio UI: a banner as its first element, the meta tag in its head, and the route
rules that keep the middleware from adding a second banner to Gradio's pages.

Why the banner lives in the UI rather than only in the middleware's HTML injection: Gradio apps are also
shown without their index page (``<gradio-app>`` web components, iframes on Spaces, ``gr.load``), and only a
component travels with the app everywhere. Its text follows the visitor's ``Accept-Language``: it starts in
the configured default language and a page-load event (no queue, not part of the API) swaps in the
negotiated one. The middleware is told not to inject its own banner on the Gradio paths, so the visitor sees
exactly one.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..config import RouteRule, TransparencyConfig
from ..disclosure import Disclosure
from ..disclosure.csp import ATTRIBUTES

BANNER_ELEM_ID = "aiact-disclosure-banner"


def add_banner(demo: gr.Blocks, disclosure: Disclosure) -> gr.HTML:
    """Place the banner first in `demo` and localize it when a page loads."""

    def banner_for(request: gr.Request) -> str:
        language = disclosure.negotiate(request.headers.get("accept-language") if request else None)
        return disclosure.banner_html(language, ATTRIBUTES).decode("ascii")

    with demo:
        banner = gr.HTML(
            disclosure.banner_html(disclosure.default_language, ATTRIBUTES).decode("ascii"),
            elem_id=BANNER_ELEM_ID,
            padding=False,
            container=False,
        )
        demo.load(
            banner_for, inputs=None, outputs=banner, queue=False, show_progress="hidden", api_visibility="private"
        )
    # Re-entering the Blocks appends; the layout is built from `children` at launch, so move it to the front.
    demo.children.remove(banner)
    demo.children.insert(0, banner)
    return banner


def merge_head(disclosure: Disclosure, head: str | None) -> str:
    """The ai-disclosure meta tag first, then whatever head the app passed to launch() or mount."""
    meta = disclosure.meta_tag.decode("ascii")
    head = head or ""
    return head if meta in head else meta + head


def gradio_routes_config(config: TransparencyConfig, path: str) -> TransparencyConfig:
    """The middleware's config for an app serving Gradio under `path`: HTML banner and SSE notice off there.

    The rules go first (first match wins) and keep whatever a user rule says about the same path otherwise.
    Image and audio responses on those paths are left to the output hook (routes[].media = false): the middleware
    would otherwise also mark what users uploaded when Gradio serves it back.
    """
    prefix = "/" + path.strip("/") if path.strip("/") else ""
    patterns = [f"{prefix}/*"] if not prefix else [prefix, f"{prefix}/*"]
    existing = list(config.disclosure.routes)
    rules = [_rule_for(pattern, existing, prefix + "/") for pattern in patterns]
    update: dict[str, Any] = {"disclosure": config.disclosure.model_copy(update={"routes": rules + existing})}
    if not prefix:
        # The whole app is Gradio: its outputs are marked by the hook, and everything else it serves
        # (uploads shown back, examples, assets) is not AI output.
        update["images"] = config.images.model_copy(update={"enabled": False})
        update["audio"] = config.audio.model_copy(update={"enabled": False})
    return config.model_copy(update=update)


def _rule_for(pattern: str, existing: list[RouteRule], sample: str) -> RouteRule:
    from ..disclosure.disclosure import _glob  # the middleware's own matcher: the same semantics for the same patterns

    base = next((rule for rule in existing if _glob(rule.path).match(sample)), None)
    values: dict[str, Any] = base.model_dump(by_alias=False) if base is not None else {}
    # gradio_client (2.7) raises "Unexpected SSE line" on the comment line the middleware adds to event
    # streams, although comments are valid SSE: on Gradio's queue the headers alone carry the disclosure.
    values.update(path=pattern, banner=False, event_stream=False, media=False)
    return RouteRule(**values)
