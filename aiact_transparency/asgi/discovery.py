"""The discovery document at /.well-known/ai-disclosure: JSON for machines, a readable page for people.

The JSON is the machine interface: every switch as it applies (global value plus route overrides), and who
signs image manifests, saying so when that is the untrusted development chain. The page
(:mod:`..disclosure.discovery_page`) says the same in plain words in the visitor's language. Both are rendered
once (HTML once per language): in the constructor, or on first use when the signer's marker is built after the endpoint
(as in the middleware); serving is a dictionary lookup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config import TransparencyConfig
from ..detection.describe import discovery_entry
from ..detection.page import MESSAGES as DETECTION_MESSAGES
from ..detection.page import page_language as detection_language
from ..detection.soft_binding.describe import soft_binding_entry
from ..disclosure import Disclosure, RoutePolicy
from ..disclosure.discovery_page import discovery_html
from ..http_messages import Receive, Scope, Send, accept_weights
from ..provenance.formats import types_of

if TYPE_CHECKING:
    from ..provenance.keys import SigningIdentity
    from ..provenance.media import Marker

_CSP = b"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def _applies(policy: RoutePolicy) -> dict[str, Any]:
    return {
        "mode": policy.mode,
        "html_banner": policy.banner,
        "event_stream_notice": policy.event_stream,
        "json_body": policy.json_body,
    }


def _route_rules(disclosure: Disclosure) -> list[dict[str, Any]]:
    """What each route rule really switches on or off, read from the policies the middleware serves with (so
    the document cannot disagree with the responses): a rule applies to its paths (first match wins) in full,
    including the global values for what it leaves unset, and a mode=none route gets nothing."""
    rules = disclosure.config.disclosure.routes
    # Disclosure's own resolved rules (private, same package): no second reading of the config to drift apart.
    policies = [policy for _, policy, _ in disclosure._rules]
    return [{"path": rule.path, **_applies(policy)} for rule, policy in zip(rules, policies, strict=True)]


def _signer(identity: SigningIdentity | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    described = identity.describe()  # names and dates only: no key material
    keep = ("subject", "issuer", "not_after", "fingerprint_sha256", "development", "trust")
    return {key: described[key] for key in keep} | {"untrusted": identity.development}


def discovery_document(
    disclosure: Disclosure, *, marking: TransparencyConfig | None = None, signer: SigningIdentity | None = None
) -> dict[str, Any]:
    """The machine-readable description. `marking` is the config whose images section marks images (default:
    the disclosure's), `signer` the identity that signs their C2PA manifests."""
    config = disclosure.config
    system = config.system
    marking = marking if marking is not None else config
    images = marking.images
    marking_disclosure = Disclosure(marking) if marking is not config else disclosure
    marked = marking_disclosure.marks_images
    audio, audio_marked = marking.audio, marking_disclosure.marks_audio
    video, video_marked = marking.video, marking_disclosure.marks_video
    on = config.disclosure
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
            "mode": on.mode,
            "reviewed_by": on.reviewed_by,
            "http_header": "AI-Disclosure (draft-abaris-aicdh, RFC 9651 Dictionary)",
            "html_banner": {"languages": list(disclosure.languages)},
            "html_meta": "ai-disclosure",
            "event_streams": {"notice": "SSE comment line before the first event"},
            "json_key": on.json_key,
            "default": _applies(disclosure.default_policy),
            "routes": _route_rules(disclosure),
        },
        "marking": {
            "images": {
                "enabled": marked,
                "routes": list(images.routes),
                "route_overrides": {rule.path: rule.media for rule in on.routes if rule.media is not None},
                "c2pa": images.c2pa,
                "xmp_digital_source_type": images.xmp,
                "invisible_watermark": images.watermark,
                "visible_label": images.visible_label,
                "training_mining": dict(images.training_mining),
                "signer": _signer(signer) if marked and images.c2pa else None,
            },
            "text": {
                "c2pa_text": [r.path for r in on.routes if r.text == "c2pa" and (r.mode or on.mode) != "none"],
                "how": "C2PA text manifest (C2PA 2.3 unstructured text, A.8 in 2.4): invisible characters appended "
                       "after the visible text, U+FEFF then one variation selector per manifest byte; opt-in per route",
                "how_to_strip": "aiact_transparency.provenance.text.c2pa_text.strip_c2pa_text(text), or delete U+FEFF "
                                "with the run of U+FE00-U+FE0F / U+E0100-U+E01EF after it (removes the provenance)",
                "documents": {"types": sorted(types_of("document")), "routes": "as images.routes",
                              "c2pa": marked and images.c2pa, "watermark": False},
            },
            # On the same routes (images.routes, routes[].media), signed by the same signer.
            "audio": {
                "enabled": audio_marked,
                "types": sorted(types_of("audio")),
                "c2pa": audio.c2pa,
                "xmp_digital_source_type": audio.xmp,
                "invisible_watermark": audio.watermark,
                "spoken_disclaimer": audio.disclaimer.enabled,
                "signer": _signer(signer) if audio_marked and audio.c2pa else None,
            },
            "video": {
                "enabled": video_marked,
                "types": sorted(types_of("video")),
                "c2pa": video.c2pa,
                "invisible_watermark": {"frames": video.watermark, "soundtrack": video.audio_watermark},
                "visible_label": video.visible_label,
                "signer": _signer(signer) if video_marked and video.c2pa else None,
            },
        },
        # The detector this middleware serves (Code of Practice, 2.1-2.3) and whether outputs are fingerprinted:
        # the engine and retention, never the store's URL (it may carry a password).
        "detection": (discovery_entry(config.detection, signer=_signer(signer) if marked and images.c2pa else None)
                      if config.detection.enabled else {"enabled": False}),
        # Where a stripped output's manifest can be recovered from its watermark or fingerprint (issue 18).
        "c2pa_soft_binding": soft_binding_entry(config),
        "fingerprints": config.fingerprints.describe() | {
            "records": "per marked output: perceptual hash (PDQ; for texts of 200 words or more a MinHash of their "
                       "words), SHA-256, watermark payload, C2PA manifest id, media type, size, time, route path; "
                       "never prompts, client addresses or user ids"},
        "verify": {
            "cli": "pip install aiact-transparency && aiact-transparency verify FILE",
            "c2pa": "any C2PA (Content Credentials) reader, e.g. c2patool or the c2pa-python Reader",
            "xmp": "Iptc4xmpExt:DigitalSourceType, e.g. exiftool -XMP-iptcExt:DigitalSourceType FILE",
        },
    }


def _detector_title(language: str) -> str:
    """The detection page's own title, in the language its page would use for this visitor."""
    return DETECTION_MESSAGES[detection_language(language)]["title"]


def _prefers_html(accept: str | None, query: bytes) -> bool:
    if b"format=json" in query:
        return False
    weights = accept_weights(accept)
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= max(weights.get("application/json", 0.0), weights.get("application/*", 0.0))


class DiscoveryEndpoint:
    """GET/HEAD on the discovery path: JSON by default, the page for browsers (``Accept: text/html``).

    `marking`: the config whose images section marks this system's images, when that is not the disclosure's
    (Gradio: the output hook marks, the middleware does not). `signer`: who signs their C2PA manifests; or
    `marker`, a function returning the marker that signs, for a marker built after this endpoint (the
    middleware builds its image service second): the document and pages are then rendered once on first use
    rather than in the constructor, and the signer is read from the marker, never loaded a second time.
    """

    def __init__(
        self,
        disclosure: Disclosure,
        *,
        marking: TransparencyConfig | None = None,
        signer: SigningIdentity | None = None,
        marker: Callable[[], Marker | None] | None = None,
    ) -> None:
        self._disclosure = disclosure
        self._marking = marking
        self._signer = signer
        self._marker = marker
        self._rendered: tuple[dict[str, Any], bytes, dict[str, bytes], dict[str, bytes]] | None = None
        if marker is None:
            self._render()

    def _render(self) -> tuple[dict[str, Any], bytes, dict[str, bytes], dict[str, bytes]]:
        if self._rendered is None:
            disclosure, signer = self._disclosure, self._signer
            found = self._marker() if self._marker is not None else None
            if found is not None:
                signer = found.identity
            document = discovery_document(disclosure, marking=self._marking, signer=signer)
            as_json = json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
            # Once per language; serving is a lookup. The document describes the system; it is not AI-generated.
            pages = {lang: discovery_html(disclosure, document, lang, detector_title=_detector_title(lang))
                     for lang in disclosure.languages}
            html = {lang: page for lang, (page, _) in pages.items()}
            written_in = {lang: content.encode("ascii") for lang, (_, content) in pages.items()}
            self._rendered = (document, as_json, html, written_in)
        return self._rendered

    @property
    def document(self) -> dict[str, Any]:
        return self._render()[0]

    @property
    def _html(self) -> dict[str, bytes]:
        return self._render()[2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        headers = dict((k, bytes(v).decode("latin-1")) for k, v in scope.get("headers", ()))
        if method not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD")]
            await self._respond(send, 405, b"text/plain; charset=utf-8", b"Method Not Allowed\n", allow)
            return
        if _prefers_html(headers.get(b"accept"), scope.get("query_string", b"")):
            language = self._disclosure.negotiate(headers.get(b"accept-language"))
            _, _, html, written_in = self._render()
            body, kind = html[language], b"text/html; charset=us-ascii"
            extra = [(b"content-security-policy", _CSP), (b"content-language", written_in[language])]
        else:
            body, kind, extra = self._render()[1], b"application/json", [(b"access-control-allow-origin", b"*")]
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
