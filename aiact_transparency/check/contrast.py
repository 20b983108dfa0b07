"""WCAG 2.1 contrast of a notice's text against its background, from the styles the small cascade resolves.

Text colour inherits; the background is the nearest ancestor-or-self background colour, semi-transparent layers
composited over what lies below, down to the canvas (white, the browsers' default). 4.5:1 is the AA minimum
for normal text (WCAG 2.1 SC 1.4.3).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .css import Cascade

MIN_RATIO = 4.5
RGBA = tuple[float, float, float, float]
_NAMED: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255),
    "yellow": (255, 255, 0), "gray": (128, 128, 128), "grey": (128, 128, 128), "silver": (192, 192, 192),
    "maroon": (128, 0, 0), "navy": (0, 0, 128), "purple": (128, 0, 128), "teal": (0, 128, 128),
    "olive": (128, 128, 0), "lime": (0, 255, 0), "aqua": (0, 255, 255), "fuchsia": (255, 0, 255),
    "orange": (255, 165, 0), "lightgray": (211, 211, 211), "lightgrey": (211, 211, 211),
    "darkgray": (169, 169, 169), "whitesmoke": (245, 245, 245), "gainsboro": (220, 220, 220),
}
_FUNC = re.compile(r"rgba?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


class Unresolved(ValueError):
    """A colour value this resolver does not read (var(), hsl(), currentColor on a background...)."""


def parse_colour(value: str) -> RGBA:
    v = value.strip().lower()
    if v == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    if v in _NAMED:
        return (*map(float, _NAMED[v]), 1.0)  # type: ignore[return-value]
    if v.startswith("#") and len(v) in (4, 5, 7, 9) and all(c in "0123456789abcdef" for c in v[1:]):
        digits = v[1:]
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        channels = [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]
        alpha = channels[3] / 255 if len(channels) == 4 else 1.0
        return (float(channels[0]), float(channels[1]), float(channels[2]), alpha)
    match = _FUNC.fullmatch(v)
    if match:
        def channel(text: str) -> float:
            return float(text[:-1]) * 2.55 if text.endswith("%") else float(text)

        r, g, b = (min(255.0, channel(x)) for x in match.group(1, 2, 3))
        a = match.group(4)
        alpha = 1.0 if a is None else (float(a[:-1]) / 100 if a.endswith("%") else float(a))
        return (r, g, b, max(0.0, min(1.0, alpha)))
    raise Unresolved(f"colour {value!r} not resolved")


def _background_colour(value: str) -> str | None:
    """The colour part of a `background` shorthand, when it is simple; images make it unresolved."""
    if "url(" in value or "gradient(" in value:
        raise Unresolved(f"background {value!r} is an image or gradient")
    for part in re.findall(r"rgba?\([^)]*\)|#[0-9a-fA-F]+|[a-zA-Z]+", value):
        try:
            parse_colour(part)
        except Unresolved:
            continue
        return str(part)
    return None


def over(top: RGBA, below: RGBA) -> RGBA:
    a = top[3]
    return (top[0] * a + below[0] * (1 - a), top[1] * a + below[1] * (1 - a), top[2] * a + below[2] * (1 - a), 1.0)


def luminance(rgb: RGBA) -> float:
    def lin(c: float) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])


def ratio(a: RGBA, b: RGBA) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass
class Contrast:
    ratio: float | None
    text: str  # what was computed from what
    unresolved: list[str]


def _chain(el: ET.Element, cascade: Cascade) -> list[ET.Element]:
    chain = [el]
    while (up := cascade.parent(chain[-1])) is not None:
        chain.append(up)
    return chain  # self first, root last


def notice_contrast(el: ET.Element, cascade: Cascade) -> Contrast:
    """The lowest contrast among the notice's own text and its descendants' (a link can be the weak part)."""
    unresolved = cascade.unresolved_for(el)
    worst: tuple[float, str] | None = None
    for node in el.iter():
        if not any(t.strip() for t in [node.text or "", *(c.tail or "" for c in node)]):
            continue
        try:
            fg_value, bg_layers = _colours(node, cascade)
        except Unresolved as exc:
            unresolved.append(str(exc))
            continue
        fg = parse_colour(fg_value)
        background: RGBA = (255.0, 255.0, 255.0, 1.0)  # the canvas
        for layer in reversed(bg_layers):
            background = over(parse_colour(layer), background)
        if fg[3] < 1:
            fg = over(fg, background)
        value = ratio(fg, background)
        bg_text = " over ".join(bg_layers) if bg_layers else "the default white canvas"
        description = f"<{node.tag}> text {fg_value} on {bg_text}: {value:.2f}:1"
        if worst is None or value < worst[0]:
            worst = (value, description)
    if worst is None:
        return Contrast(None, "no text colour could be resolved", unresolved)
    return Contrast(worst[0], worst[1], unresolved)


def _colours(node: ET.Element, cascade: Cascade) -> tuple[str, list[str]]:
    """(text colour, background layers from the nearest up to the first opaque one)."""
    colour: str | None = None
    layers: list[str] = []
    for el in _chain(node, cascade):
        declared = cascade.declared(el)
        if el is node and el.tag == "a" and el.get("href") is not None and "color" not in declared:
            colour = "#0000ee"  # the user agent's link colour, which does not inherit the parent's
        if colour is None and "color" in declared and declared["color"].lower() not in ("inherit", "currentcolor"):
            colour = declared["color"]
        bg = declared.get("background-color")
        if bg is None and "background" in declared:
            bg = _background_colour(declared["background"])
        if bg is not None and bg.lower() not in ("inherit", "initial", "unset"):
            layers.append(bg)
            if parse_colour(bg)[3] >= 1:
                break
    return colour or "#000000", layers
