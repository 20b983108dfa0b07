"""The discovery document at /.well-known/ai-disclosure: JSON for machines, a readable page for people.

Both bodies are rendered once at start-up (HTML once per language); serving is a dictionary lookup.
"""

from __future__ import annotations

import json
from typing import Any

from . import i18n
from ._asgi import Receive, Scope, Send
from ._version import __version__
from .csp import ATTRIBUTES
from .disclosure import Disclosure

_CSP = b"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def discovery_document(disclosure: Disclosure) -> dict[str, Any]:
    config = disclosure.config
    system = config.system
    images = config.images
    return {
        "schema": "https://github.com/aiact-transparency/aiact-transparency/discovery/v1",
        "generator": f"aiact-transparency/{__version__}",
        "regulation": "Regulation (EU) 2024/1689 (AI Act), Article 50",
        "system": {
            "name": system.name,
            "provider": system.provider,
            "contact": system.contact,
            "purpose": system.purpose,
            "risk_class": system.risk_class,
        },
        "model": disclosure.facts.to_dict(),
        "disclosure": {
            "mode": config.disclosure.mode,
            "reviewed_by": config.disclosure.reviewed_by,
            "http_header": "AI-Disclosure (draft-abaris-aicdh, RFC 9651 Dictionary)",
            "html_banner": {"enabled": config.banner.enabled, "languages": list(disclosure.languages)},
            "html_meta": "ai-disclosure",
            "event_streams": "SSE comment line before the first event" if config.disclosure.event_stream else None,
            "json_key": config.disclosure.json_key if _json_anywhere(disclosure) else None,
        },
        "marking": {
            "images": {
                "routes": list(images.routes),
                "c2pa": images.c2pa,
                "xmp_digital_source_type": images.xmp,
                "invisible_watermark": images.watermark,
                "visible_label": images.visible_label,
                "training_mining": dict(images.training_mining),
            }
        },
        "verify": {
            "cli": "pip install aiact-transparency && aiact-transparency verify FILE",
            "c2pa": "any C2PA (Content Credentials) reader, e.g. c2patool or the c2pa-python Reader",
            "xmp": "Iptc4xmpExt:DigitalSourceType, e.g. exiftool -XMP-iptcExt:DigitalSourceType FILE",
        },
    }


def _json_anywhere(disclosure: Disclosure) -> bool:
    return disclosure.config.disclosure.json_body or any(r.json_body for r in disclosure.config.disclosure.routes)


def _rows(data: dict[str, Any]) -> str:
    esc = i18n.to_ascii_html
    cells = []
    for key, value in data.items():
        if value in (None, [], {}, ()):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        if isinstance(value, dict):
            shown = ", ".join(f"{k}: {v}" for k, v in value.items())
        cells.append(f'<tr><th scope="row">{esc(key.replace("_", " "))}</th><td>{esc(shown)}</td></tr>')
    return "".join(cells)


def discovery_html(disclosure: Disclosure, document: dict[str, Any], language: str) -> bytes:
    esc = i18n.to_ascii_html
    sections = "".join(
        f"<section><h2>{esc(title)}</h2><table>{_rows(document[key])}</table></section>"
        for key, title in (
            ("system", "System"),
            ("model", "Model"),
            ("disclosure", "Disclosure"),
            ("verify", "How to verify"),
        )
    )
    images = document["marking"]["images"]
    page = (
        f'<!DOCTYPE html><html lang="{esc(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{disclosure.meta_tag.decode()}'
        f"<title>{esc(document['system']['name'])}: AI disclosure</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fff}"
        "main{max-width:48rem;margin:1rem auto;padding:0 1rem}th{text-align:left;padding-right:1rem;"
        "vertical-align:top}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25rem}"
        "</style></head><body>"
        f"{disclosure.banner_html(language, ATTRIBUTES).decode()}"
        f"<main><h1>{esc(document['system']['name'])}</h1><p>{esc(document['regulation'])}</p>"
        f"{sections}<section><h2>Image marking</h2><table>{_rows(images)}</table></section>"
        f'<p><a href="?format=json">JSON</a></p></main></body></html>'
    )
    return page.encode("ascii")


def _prefers_html(accept: str | None, query: bytes) -> bool:
    if b"format=json" in query:
        return False
    if not accept:
        return False
    weights: dict[str, float] = {}
    for part in accept.split(","):
        kind, *params = part.strip().split(";")
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[kind.strip().lower()] = q
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= max(weights.get("application/json", 0.0), weights.get("application/*", 0.0))


class DiscoveryEndpoint:
    def __init__(self, disclosure: Disclosure) -> None:
        self._disclosure = disclosure
        self.document = discovery_document(disclosure)
        self._json = json.dumps(self.document, indent=2, ensure_ascii=False).encode() + b"\n"
        self._html = {lang: discovery_html(disclosure, self.document, lang) for lang in disclosure.languages}
        # The document describes the system; it is not itself AI-generated.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        headers = dict((k, bytes(v).decode("latin-1")) for k, v in scope.get("headers", ()))
        if method not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD")]
            await self._respond(send, 405, b"text/plain; charset=utf-8", b"Method Not Allowed\n", allow)
            return
        if _prefers_html(headers.get(b"accept"), scope.get("query_string", b"")):
            language = self._disclosure.negotiate(headers.get(b"accept-language"))
            body, kind = self._html[language], b"text/html; charset=us-ascii"
            extra = [(b"content-security-policy", _CSP), (b"content-language", language.encode("ascii"))]
        else:
            body, kind, extra = self._json, b"application/json", [(b"access-control-allow-origin", b"*")]
        extra += [(b"cache-control", b"public, max-age=300"), (b"vary", b"Accept, Accept-Language")]
        await self._respond(send, 200, kind, b"" if method == "HEAD" else body, extra, length=len(body))

    async def _respond(
        self, send: Send, status: int, kind: bytes, body: bytes, extra: list[tuple[bytes, bytes]], length: int = -1
    ) -> None:
        headers = [
            (b"content-type", kind),
            (b"content-length", str(length if length >= 0 else len(body)).encode()),
            (b"ai-disclosure", b"mode=none"),
            (b"x-content-type-options", b"nosniff"),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
