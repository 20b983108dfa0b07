"""What to say, derived once from the config: header values, banner markup per language, notices.

Pure: no I/O after construction, nothing re-derived per request. Transports (middleware, Gradio, CLI)
only pick from what is computed here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..config import DisclosureMode, TransparencyConfig
from ..config.errors import config_problem
from ..config.modelcard import ModelFacts, model_facts
from . import i18n
from .csp import BannerRendering
from .structured_fields import (
    StructuredFieldError,
    fold_to_ascii,
    sf_dictionary,
    sf_string,
    sf_token,
    transliterate,
)

BANNER_ID = "aiact-disclosure"
_BANNER_CSS = {
    "box": "display:block;box-sizing:border-box;width:100%;margin:0;padding:.5em 1em;background:#14213d;"
    "color:#ffffff;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;"
    "border-bottom:3px solid #fca311;text-align:left;position:relative;z-index:2147483647",
    "p": "margin:0;color:#ffffff",
    "a": "color:#ffffff;text-decoration:underline;font-weight:600",
}


# RoutePolicy.measures bits.
MEASURE_BANNER, MEASURE_JSON_BODY, MEASURE_EVENT_STREAM, MEASURE_IMAGES, MEASURE_TEXT_C2PA = 1, 2, 4, 8, 16


@dataclass(frozen=True)
class RoutePolicy:
    """What a response on a given path carries. One instance per distinct outcome, shared by requests."""

    mode: DisclosureMode
    header_prefix: bytes  # the AI-Disclosure value without its per-response date member
    banner: bool
    json_body: bool
    event_stream: bool
    images: bool
    json_member: bytes  # `"key":{...}` spliced into JSON object bodies
    text_c2pa: bool = False  # generated text gets the C2PA text wrapper (a route's `text: c2pa`)
    changes_body: bool = False  # derived in __post_init__: any of the body-changing measures applies
    # Derived too: the measures as MEASURE_* bits, so the middleware can test a response's media type against
    # all of them at once (one AND) instead of calling a predicate per measure on every response.
    measures: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        measures = (
            (MEASURE_BANNER if self.banner else 0)
            | (MEASURE_JSON_BODY if self.json_body else 0)
            | (MEASURE_EVENT_STREAM if self.event_stream else 0)
            | (MEASURE_IMAGES if self.images else 0)
            | (MEASURE_TEXT_C2PA if self.text_c2pa else 0)
        )
        object.__setattr__(self, "measures", measures)
        object.__setattr__(self, "changes_body", measures != 0)


def _glob(pattern: str) -> re.Pattern[str]:
    # ASGI paths are percent-decoded, so "%0A" arrives as "\n": DOTALL lets '*' match it (else adding %0A to a
    # path escapes its rule), and \Z, unlike $, does not also match before a trailing "\n".
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z", re.DOTALL)


# How to give an ASCII spelling, per field that reaches the AI-Disclosure header.
_ASCII_FIX = {
    "system.provider": "set system.provider_ascii to the provider's own Latin-script name",
    "model": "set model.id to the model's ASCII id (e.g. its Hugging Face repo id)",
    "disclosure.reviewed_by": "write disclosure.reviewed_by in Latin script",
}


def _header_text(config: TransparencyConfig, field: str, value: str) -> str:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise config_problem(
            config.source,
            field,
            f"{value!r} contains control characters (line breaks, tabs, NUL) and cannot be sent in the "
            "AI-Disclosure header. Fix: remove them (from the config or the model card)",
        )
    folded = fold_to_ascii(value)
    try:
        return sf_string(folded)
    except StructuredFieldError:
        suggestion = transliterate(value)
        hint = f" (a transliteration would read {suggestion!r}; use it only if the owner spells it so)"
        raise config_problem(
            config.source,
            field,
            f"{value!r} cannot be sent in the AI-Disclosure header: RFC 9651 Strings are ASCII, and only Latin "
            f"letters are folded to it automatically. Fix: {_ASCII_FIX[field]}"
            + (hint if suggestion else ""),
        ) from None


# Paths up to this many characters are cached: real routes are short (a Gradio file URL is ~150), and the
# bound keeps the cache's keys under ~4096 x 256 characters, where full-length keys let 4096 distinct 16 KB
# paths pin 66 MB.
_CACHED_PATH_CHARS = 256
# Accept-Language values remembered by Disclosure.negotiate: at most this many, of at most this many characters.
_CACHED_ACCEPT_LANGUAGES = 1024
_CACHED_ACCEPT_LANGUAGE_CHARS = 256


def _cached_for_short_paths(resolve: Callable[[str], RoutePolicy]) -> Callable[[str], RoutePolicy]:
    cached = lru_cache(maxsize=4096)(resolve)

    def policy_for(path: str) -> RoutePolicy:
        return cached(path) if len(path) <= _CACHED_PATH_CHARS else resolve(path)

    return policy_for


class Disclosure:
    def __init__(self, config: TransparencyConfig, facts: ModelFacts | None = None) -> None:
        self.config = config
        self.facts = facts if facts is not None else model_facts(config)
        system = config.system
        self.discovery_path = config.disclosure.discovery_path
        self.link_value = f'<{self.discovery_path}>; rel="describedby"'.encode("latin-1")
        self.link_field = (b"link", self.link_value)  # the header field line, as ASGI sends it
        self.link_fields = [self.link_field]  # what a response that sets its own AI-Disclosure gets (shared)
        self._stamped_from = -2.0  # the start of the second the cached values are for
        self._stamped_until = -1.0  # and its end
        self._stamped: dict[bytes, list[tuple[bytes, bytes]]] = {}
        self._prefixes = {
            mode: self._header_prefix(mode) for mode in ("none", "ai-modified", "ai-originated", "machine-generated")
        }
        self.languages = tuple(sorted(set(i18n.OFFICIAL_EU_LANGUAGES) | set(config.banner.text)))
        self.default_language = config.banner.default_language
        if self.default_language not in self.languages:
            raise config_problem(
                config.source,
                "banner.default_language",
                f"{self.default_language!r} has no text. Fix: use one of "
                f"{', '.join(self.languages)} or add banner.text.{self.default_language}",
            )
        # Encoded once: the bytes every page of a language gets (the nonce variant is built per response).
        self._banner_bytes = {
            lang: {style: html.encode("ascii") for style, html in self._render_banner(lang).items()}
            for lang in self.languages
        }
        self._negotiated: dict[str, str] = {}
        self._styled: dict[str | None, bytes] = {}  # Accept-Language value -> styled_banner()
        meta = sf_dictionary(self._members(config.disclosure.mode))
        self.meta_tag = f'<meta name="ai-disclosure" content="{i18n.to_ascii_html(meta)}" />'.encode("ascii")
        sse = i18n.MESSAGES["en"].sse.format(system=system.name, provider=system.provider)
        self.event_stream_notice = f": AI-Disclosure: {sse} See {self.discovery_path}\n\n".encode()
        self.json_key = config.disclosure.json_key
        self._rules = [(_glob(rule.path), self._policy(rule), rule.media) for rule in config.disclosure.routes]
        self.default_policy = self._policy(None)
        images = config.images
        self.marks_images = images.enabled and (images.watermark or bool(images.visible_label) or images.xmp
                                                or images.c2pa)
        audio = config.audio
        self.marks_audio = audio.enabled and (audio.watermark or audio.xmp or audio.c2pa)
        video = config.video
        self.marks_video = video.enabled and (video.watermark or video.audio_watermark or video.visible_label
                                              or video.c2pa)
        # Any medium marked: images.routes (with routes[].media) is the route switch for every medium.
        self.marks_media = self.marks_images or self.marks_audio or self.marks_video
        self._image_routes = [_glob(p) for p in images.routes]
        self._all_images = self.marks_media and "*" in images.routes
        if not self._rules and (self._all_images or not self.marks_media):
            # One policy for every path: skip matching (and caching) on the hot path.
            constant = self._with_images(self.default_policy, self._all_images)
            self.policy_for: Callable[[str], RoutePolicy] = lambda _path: constant
        else:
            constant = None
            self.policy_for = _cached_for_short_paths(self._resolve)
        # The one policy of every path, when there is one: a transport may then skip calling policy_for.
        self.constant_policy: RoutePolicy | None = constant

    # -- AI-Disclosure header ---------------------------------------------------------------------------

    def _members(self, mode: DisclosureMode) -> list[tuple[str, str]]:
        members = [("mode", sf_token(mode))]
        if mode == "none":
            return members
        if self.facts.label:
            members.append(("model", _header_text(self.config, "model", self.facts.label)))
        provider = self.config.system.provider_ascii or self.config.system.provider
        members.append(("provider", _header_text(self.config, "system.provider", provider)))
        if self.config.disclosure.reviewed_by:
            reviewed_by = _header_text(self.config, "disclosure.reviewed_by", self.config.disclosure.reviewed_by)
            members.append(("reviewed-by", reviewed_by))
        return members

    def _header_prefix(self, mode: DisclosureMode) -> bytes:
        return sf_dictionary(self._members(mode)).encode("ascii")

    def header_value(self, policy: RoutePolicy) -> bytes:
        """The full AI-Disclosure value: constant members plus `date` as the response's epoch (RFC 9651 Date)."""
        return self.header_field(policy)[1]

    def header_field(self, policy: RoutePolicy) -> tuple[bytes, bytes]:
        """The AI-Disclosure field line, (name, value), as ASGI sends it."""
        return self.header_fields(policy)[0]

    def header_fields(self, policy: RoutePolicy) -> list[tuple[bytes, bytes]]:
        """[AI-Disclosure, Link]: the field lines a response gets, as one list the middleware concatenates to the
        app's (one new list per response, never this one changed: it is shared).

        Cached for the current second: the date is the only part that changes, and formatting it per request
        was a measurable share of the middleware's cost.
        """
        now = time.time()
        if self._stamped_from <= now < self._stamped_until:  # float comparisons, no int() per response
            fields = self._stamped.get(policy.header_prefix)
            if fields is not None:
                return fields
        else:
            self._stamped_from = float(int(now))
            self._stamped_until = self._stamped_from + 1.0
            self._stamped = {}
        prefix = policy.header_prefix
        field_line = (b"ai-disclosure", b"%s, date=@%d" % (prefix, self._stamped_from))
        fields = self._stamped[prefix] = [field_line, self.link_field]
        return fields

    # -- routes ------------------------------------------------------------------------------------------

    def _policy(self, rule: Any) -> RoutePolicy:
        settings = self.config
        mode: DisclosureMode = (rule.mode if rule and rule.mode else None) or settings.disclosure.mode

        def choose(rule_value: bool | None, default: bool) -> bool:
            return mode != "none" and (default if rule_value is None else rule_value)

        return RoutePolicy(
            mode=mode,
            header_prefix=self._prefixes[mode],
            banner=choose(rule.banner if rule else None, settings.banner.enabled),
            json_body=choose(rule.json_body if rule else None, settings.disclosure.json_body),
            event_stream=choose(rule.event_stream if rule else None, settings.disclosure.event_stream),
            images=False,
            json_member=self._json_member(mode),
            text_c2pa=mode != "none" and rule is not None and rule.text == "c2pa",
        )

    def _resolve(self, path: str) -> RoutePolicy:
        policy, images = next(
            ((policy, images) for pattern, policy, images in self._rules if pattern.match(path)),
            (self.default_policy, None),
        )
        if images is None:  # the rule leaves it to images.routes
            images = self._all_images or any(p.match(path) for p in self._image_routes)
        return self._with_images(policy, self.marks_media and images)

    def _with_images(self, policy: RoutePolicy, images: bool) -> RoutePolicy:
        # Nothing on a mode=none route is AI-generated, so nothing there is marked as such.
        if not images or policy.mode == "none":
            return policy
        return replace(policy, images=True)

    # -- banner ------------------------------------------------------------------------------------------

    def notice_text(self, language: str) -> str:
        system = self.config.system
        template = self.config.banner.text.get(language)
        if template is None:
            base = language if language in i18n.MESSAGES else i18n.DEFAULT_LANGUAGE
            template = i18n.MESSAGES[base].notice
        return template.format(system=system.name, provider=system.provider)

    def _render_banner(self, language: str) -> dict[str, str]:
        base = language.split("-")[0].lower()
        messages = i18n.MESSAGES.get(language) or i18n.MESSAGES.get(base) or i18n.MESSAGES[i18n.DEFAULT_LANGUAGE]
        esc = i18n.to_ascii_html
        parts = {
            "label": esc(messages.label),
            "lang": esc(language),
            "notice": esc(self.notice_text(language)),
            "href": esc(self.discovery_path),
            "link": esc(messages.link),
        }
        styled = (
            '<aside id="{id}" role="region" aria-label="{label}" lang="{lang}" style="{box}">'
            '<p style="{p}">{notice} <a href="{href}" style="{a}">{link}</a></p></aside>'
        ).format(id=BANNER_ID, **parts, **_BANNER_CSS)
        plain = (
            '<aside id="{id}" role="region" aria-label="{label}" lang="{lang}">'
            '<p>{notice} <a href="{href}">{link}</a></p></aside>'
        ).format(id=BANNER_ID, **parts)
        return {"attributes": styled, "plain": plain}

    def negotiate(self, accept_language: str | None) -> str:
        """The banner language for an Accept-Language value. Remembered per value: browsers send a handful of
        distinct ones, and negotiating was the largest per-page cost after the scan. Bounded like the route
        cache: long values are negotiated each time, and a full table starts over."""
        if accept_language is None or len(accept_language) > _CACHED_ACCEPT_LANGUAGE_CHARS:
            return i18n.negotiate(accept_language, self.languages, self.default_language)
        language = self._negotiated.get(accept_language)
        if language is None:
            language = i18n.negotiate(accept_language, self.languages, self.default_language)
            if len(self._negotiated) >= _CACHED_ACCEPT_LANGUAGES:
                self._negotiated.clear()
            self._negotiated[accept_language] = language
        return language

    def styled_banner(self, accept_language: str | None) -> bytes:
        """``banner_html(negotiate(accept_language), ATTRIBUTES)``, the banner most pages get (no CSP to follow):
        one lookup per Accept-Language value, remembered and bounded as `negotiate` does."""
        banner = self._styled.get(accept_language)  # None (no header) is a key like any other
        if banner is None:
            banner = self._banner_bytes[self.negotiate(accept_language)]["attributes"]
            if accept_language is None or len(accept_language) <= _CACHED_ACCEPT_LANGUAGE_CHARS:
                if len(self._styled) >= _CACHED_ACCEPT_LANGUAGES:
                    self._styled.clear()
                self._styled[accept_language] = banner
        return banner

    def banner_html(self, language: str, rendering: BannerRendering) -> bytes:
        variants = self._banner_bytes.get(language) or self._banner_bytes[self.default_language]
        if rendering.style == "nonce" and rendering.nonce:
            css = "#{id}{{{box}}}#{id} p{{{p}}}#{id} a{{{a}}}".format(id=BANNER_ID, **_BANNER_CSS)
            return f'<style nonce="{rendering.nonce}">{css}</style>'.encode("ascii") + variants["plain"]
        return variants[rendering.style if rendering.style == "attributes" else "plain"]

    # -- JSON --------------------------------------------------------------------------------------------

    def json_object(self, mode: DisclosureMode | None = None) -> dict[str, Any]:
        system = self.config.system
        mode = mode or self.config.disclosure.mode
        return {
            "mode": mode,
            "ai_generated": mode != "none",
            "system": system.name,
            "provider": system.provider,
            "model": self.facts.label,
            "reviewed_by": self.config.disclosure.reviewed_by,
            "info": self.discovery_path,
        }

    def _json_member(self, mode: DisclosureMode) -> bytes:
        member = json.dumps(self.json_object(mode), separators=(",", ":"))
        return (json.dumps(self.json_key) + ":" + member).encode()
