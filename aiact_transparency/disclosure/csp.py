"""Which kind of banner markup a response's Content-Security-Policy lets the browser render.

CSP Level 3: inline `style` attributes are governed by `style-src-attr`, `<style>` elements by
`style-src-elem`, both falling back to `style-src` then `default-src`. A nonce or hash in a directive
disables its 'unsafe-inline', and nonces never apply to style attributes. Every enforced policy must allow
what we emit (several CSP headers, or comma-joined policies, all apply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_NONCE = re.compile(r"^'nonce-([A-Za-z0-9+/_=-]+)'$")

BannerStyle = Literal["attributes", "nonce", "plain"]


@dataclass(frozen=True)
class BannerRendering:
    style: BannerStyle
    nonce: str | None = None


ATTRIBUTES = BannerRendering("attributes")
PLAIN = BannerRendering("plain")


def _parse_policy(policy: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            # The first occurrence of a directive wins; later duplicates are ignored by browsers.
            directives.setdefault(tokens[0].lower(), tokens[1:])
    return directives


def _effective(directives: dict[str, list[str]], *names: str) -> list[str] | None:
    for name in names:
        if name in directives:
            return directives[name]
    return None


def _inline_allowed(sources: list[str] | None) -> bool:
    if sources is None:
        return True
    lowered = [s.lower() for s in sources]
    if any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in lowered):
        return False
    return "'unsafe-inline'" in lowered


def _nonces(sources: list[str] | None) -> list[str]:
    return [m.group(1) for s in sources or () if (m := _NONCE.match(s))]


def banner_rendering(policies: list[str]) -> BannerRendering:
    """The richest banner every enforced policy allows: styled attributes, a nonce'd <style>, or plain."""
    parsed = [_parse_policy(p) for header in policies for p in header.split(",") if p.strip()]
    if all(_inline_allowed(_effective(d, "style-src-attr", "style-src", "default-src")) for d in parsed):
        return ATTRIBUTES
    element_sources = [_effective(d, "style-src-elem", "style-src", "default-src") for d in parsed]
    candidates = [n for sources in element_sources for n in _nonces(sources)]
    for nonce in candidates:
        if all(_inline_allowed(s) or nonce in _nonces(s) for s in element_sources):
            return BannerRendering("nonce", nonce)
    return PLAIN
