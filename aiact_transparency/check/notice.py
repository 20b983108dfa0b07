"""Finding a disclosure notice in an HTML page, parsed as browsers parse it (html5lib, WHATWG).

A notice is an element whose text or accessible name says AI in an EU language. Landmarks (a role, an
aria-label, aside/header/section/dialog) are preferred over plain text, so an article that merely mentions AI
is not taken for the notice when a banner exists; our own banner (id aiact-disclosure) is one such landmark,
and any other library's counts the same.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from .ai_words import mentions_ai

OUR_ID = "aiact-disclosure"
NOTICE_ROLES = frozenset({"region", "banner", "alert", "status", "note", "complementary", "dialog", "alertdialog"})
LANDMARK_TAGS = frozenset({"aside", "header", "section", "dialog", "nav"})
_SKIP = frozenset({"script", "style", "template", "noscript", "head", "title", "meta", "link"})
_MAX_NOTICE_CHARS = 1_500  # a notice is a sentence or two: a bigger element is the page, not its notice
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def parse_html(body: bytes, charset: str | None = None) -> ET.Element:
    try:
        import html5lib
    except ImportError as exc:
        raise ImportError("checking pages needs html5lib: pip install 'aiact-transparency[check]'") from exc
    options: dict[str, Any] = {"treebuilder": "etree", "namespaceHTMLElements": False}
    if charset:
        options["transport_encoding"] = charset
    root: ET.Element = html5lib.parse(body, **options)
    return root


def text_of(el: ET.Element) -> str:
    parts: list[str] = []

    def walk(node: ET.Element) -> None:
        if node.tag in _SKIP or not isinstance(node.tag, str):
            return
        parts.append(node.text or "")
        for child in node:
            walk(child)
            parts.append(child.tail or "")

    walk(el)
    return " ".join("".join(parts).split())


@dataclass
class Notice:
    element: ET.Element
    text: str
    ours: bool
    landmark: bool
    path: list[int]  # element-child indices from <html>: the same node in a browser's DOM before scripts run
    order: int  # position in document order

    @property
    def snippet(self) -> str:
        attrs = " ".join(f'{k}="{v}"' for k, v in self.element.attrib.items() if k != "style")
        return f"<{self.element.tag} {attrs}>{self.text[:200]}</{self.element.tag}>".replace(" >", ">")


def _landmark(el: ET.Element) -> bool:
    role = (el.get("role") or "").strip().lower()
    return role in NOTICE_ROLES or el.tag in LANDMARK_TAGS or el.get("aria-label") is not None


def _accessible_name(el: ET.Element, root: ET.Element) -> str:
    label = el.get("aria-label") or ""
    for ref in (el.get("aria-labelledby") or "").split():
        target = next((n for n in root.iter() if n.get("id") == ref), None)
        if target is not None:
            label += " " + text_of(target)
    return label.strip()


def find_notice(root: ET.Element) -> Notice | None:
    order = {el: i for i, el in enumerate(root.iter())}
    paths: dict[ET.Element, list[int]] = {root: []}
    for parent in root.iter():
        # Element children only, as the DOM's `children` counts them (html5lib keeps comments as nodes).
        for index, child in enumerate(c for c in parent if isinstance(c.tag, str)):
            paths[child] = [*paths[parent], index]
    body = root.find("body")
    if body is None:
        return None
    candidates: list[tuple[int, int, ET.Element, str]] = []  # (rank, order, element, text)
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP:
            continue
        text = text_of(el)
        name = _accessible_name(el, root)
        if len(text) > _MAX_NOTICE_CHARS or not mentions_ai(f"{name} {text}"):
            continue
        rank = 0 if el.get("id") == OUR_ID else (1 if _landmark(el) else 2)
        if el in paths:
            candidates.append((rank, order[el], el, text))
    if not candidates:
        return None
    rank = min(c[0] for c in candidates)
    same = [c for c in candidates if c[0] == rank]
    # The innermost element that says it (a header holding nav and the notice is not the notice), then the first.
    chosen = {c[2] for c in same}
    innermost = [c for c in same if not any(d in chosen for d in c[2].iter() if d is not c[2])]
    best = min(innermost, key=lambda c: c[1])
    _, position, el, text = best
    return Notice(el, text, el.get("id") == OUR_ID, rank < 2, paths[el], position)


def accessible_name(notice: Notice, root: ET.Element) -> str:
    return _accessible_name(notice.element, root)


def language_of(el: ET.Element, parents: dict[ET.Element, ET.Element]) -> str | None:
    node: ET.Element | None = el
    while node is not None:
        lang = node.get("lang")
        if lang:
            return lang.strip().lower()
        node = parents.get(node)
    return None


def content_before(root: ET.Element, notice: Notice) -> tuple[str | None, int]:
    """The first main-content marker (<main>, a heading) that comes before the notice, and the characters of
    visible text before it."""
    order = {el: i for i, el in enumerate(root.iter())}
    inside = set(notice.element.iter())
    marker = next((el for el in root.iter() if el not in inside and order[el] < notice.order
                   and (el.tag == "main" or el.tag in HEADINGS or (el.get("role") or "") == "main")), None)
    body = root.find("body")
    chars = 0
    if body is not None:
        def walk(node: ET.Element) -> bool:
            nonlocal chars
            if node is notice.element:
                return True
            if isinstance(node.tag, str) and node.tag not in _SKIP:
                chars += len((node.text or "").strip())
                for child in node:
                    if walk(child):
                        return True
                    chars += len((child.tail or "").strip())
            return False

        walk(body)
    label = None
    if marker is not None:
        label = f"<{marker.tag}>" + (f" {text_of(marker)[:60]!r}" if marker.tag in HEADINGS else "")
    return label, chars
