"""A small CSS cascade for the few properties the notice checks read (colours, hiding), over an html5lib tree.

Resolved: inline `style` attributes and `<style>` rules whose selectors are compounds of type, `*`, `#id`,
`.class` and `[attr]` / `[attr=value]`, joined by descendant or child combinators; specificity, source order
and `!important`; inheritance of `color` and `visibility`. Anything else that could change the answer
(external stylesheets, pseudo-classes, sibling combinators, @media blocks) is collected in `unresolved`, so a
check can say "warn: not resolved" instead of claiming a pass.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

PROPERTIES = frozenset({
    "color", "background-color", "background", "display", "visibility", "opacity", "font-size", "height", "width",
    "position", "left", "top", "clip", "clip-path", "transform", "overflow",
})
_PSEUDO = re.compile(r"::?[\w-]+(?:\([^)]*\))?")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_ATTR = r"\[[\w-]+(?:=(?:\"[^\"]*\"|'[^']*'|[\w-]+))?\]"
_COMPOUND = re.compile(r"([a-zA-Z][a-zA-Z0-9-]*|\*)?((?:#[\w-]+|\.[\w-]+|" + _ATTR + r")*)")
_PART = re.compile(r"#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=(?:\"([^\"]*)\"|'([^']*)'|([\w-]+)))?\]")


@dataclass(frozen=True)
class _Simple:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str | None], ...]

    def matches(self, el: ET.Element) -> bool:
        if self.tag and self.tag != "*" and el.tag != self.tag:
            return False
        if any(el.get("id") != i for i in self.ids):
            return False
        classes = (el.get("class") or "").split()
        if any(c not in classes for c in self.classes):
            return False
        return all(el.get(name) is not None and (value is None or el.get(name) == value) for name, value in self.attrs)


@dataclass(frozen=True)
class _Selector:
    parts: tuple[tuple[str, _Simple], ...]  # (combinator to the left: " " or ">" or "", simple), left to right
    specificity: tuple[int, int, int]


@dataclass
class _Rule:
    selector: _Selector
    declarations: dict[str, tuple[str, bool]]
    order: int


@dataclass
class Cascade:
    rules: list[_Rule] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # what might apply but was not resolved
    # Rules with pseudo-classes (:hover, ::before, :not()...): their selector without them, to tell whether
    # they can concern the notice at all; only those that can make an answer unresolved.
    conditional: list[tuple[_Selector, str]] = field(default_factory=list)
    parents: dict[ET.Element, ET.Element] = field(default_factory=dict)

    def unresolved_for(self, el: ET.Element) -> list[str]:
        """What was not resolved and may concern `el`: sheet-wide gaps, and conditional rules whose selector
        (pseudo-classes removed) matches `el`, one of its descendants or one of its ancestors."""
        near = [*el.iter()]
        up = self.parents.get(el)
        while up is not None:
            near.append(up)
            up = self.parents.get(up)
        return self.unresolved + [text for selector, text in self.conditional
                                  if any(_matches(selector, node, self.parents) for node in near)]

    def parent(self, el: ET.Element) -> ET.Element | None:
        return self.parents.get(el)

    def declared(self, el: ET.Element) -> dict[str, str]:
        """The element's own cascaded values (no inheritance) for PROPERTIES."""
        # Rank as the cascade orders declarations: !important, then inline over sheets, specificity, source order.
        best: dict[str, tuple[tuple[int, ...], str]] = {}
        candidates: list[tuple[tuple[int, ...], str, str]] = []
        for rule in self.rules:
            if _matches(rule.selector, el, self.parents):
                candidates += [((int(imp), 0, *rule.selector.specificity, rule.order), name, value)
                               for name, (value, imp) in rule.declarations.items()]
        for name, (value, imp) in parse_declarations(el.get("style") or "").items():
            candidates.append(((int(imp), 1, 0, 0, 0, 0), name, value))
        for rank, name, value in candidates:
            if name not in best or rank >= best[name][0]:
                best[name] = (rank, value)
        return {name: value for name, (_, value) in best.items()}


def parse_declarations(text: str) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for part in _COMMENT.sub("", text).split(";"):
        name, sep, value = part.partition(":")
        name = name.strip().lower()
        if not sep or name not in PROPERTIES:
            continue
        value = value.strip()
        important = value.lower().endswith("!important")
        if important:
            value = value[: -len("!important")].strip()
        out[name] = (value, important)
    return out


def _parse_selector(text: str) -> _Selector | None:
    tokens = re.split(r"\s*(>)\s*|\s+", text.strip())
    parts: list[tuple[str, _Simple]] = []
    combinator, spec = "", [0, 0, 0]
    for token in tokens:
        if token is None or token == "":
            continue
        if token == ">":
            combinator = ">"
            continue
        match = _COMPOUND.fullmatch(token)
        if match is None or not token:
            return None
        tag = match.group(1)
        ids, classes, attrs = [], [], []
        for m in _PART.finditer(match.group(2) or ""):
            if m.group(1):
                ids.append(m.group(1))
            elif m.group(2):
                classes.append(m.group(2))
            else:
                attrs.append((m.group(3), next((v for v in m.group(4, 5, 6) if v is not None), None)))
        spec[0] += len(ids)
        spec[1] += len(classes) + len(attrs)
        spec[2] += int(bool(tag) and tag != "*")
        parts.append((combinator or (" " if parts else ""), _Simple(tag.lower() if tag else None, tuple(ids),
                                                                     tuple(classes), tuple(attrs))))
        combinator = ""
    if not parts or combinator:
        return None
    return _Selector(tuple(parts), (spec[0], spec[1], spec[2]))


def _matches(selector: _Selector, el: ET.Element, parents: dict[ET.Element, ET.Element]) -> bool:
    def match_from(index: int, node: ET.Element | None) -> bool:
        if node is None:
            return False
        combinator, simple = selector.parts[index]
        if not simple.matches(node):
            return False
        if index == 0:
            return True
        up = parents.get(node)
        if combinator == ">":
            return match_from(index - 1, up)
        while up is not None:  # descendant: any ancestor
            if match_from(index - 1, up):
                return True
            up = parents.get(up)
        return False

    return match_from(len(selector.parts) - 1, el)


def _add_sheet(cascade: Cascade, css: str, order: int) -> int:
    css = _COMMENT.sub("", css)
    if "@" in css:
        for at in sorted(set(re.findall(r"@[\w-]+", css))):
            if at not in ("@charset", "@font-face", "@keyframes"):
                cascade.unresolved.append(f"{at} block in a <style> sheet")
        css = re.sub(r"@[^{;]*;", "", css)
    for block in re.finditer(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = parse_declarations(block.group(2))
        if not declarations:
            continue
        for text in block.group(1).split(","):
            selector = _parse_selector(text)
            if selector is None:
                description = f"rule {text.strip()!r} ({', '.join(declarations)})"
                plain = _parse_selector(_PSEUDO.sub("", text)) if ":" in text else None
                if plain is not None:
                    cascade.conditional.append((plain, description))
                else:
                    cascade.unresolved.append(description)
                continue
            cascade.rules.append(_Rule(selector, declarations, order))
            order += 1
    return order


def build_cascade(root: ET.Element) -> Cascade:
    cascade = Cascade(parents={child: parent for parent in root.iter() for child in parent})
    order = 0
    for el in root.iter():
        if el.tag == "style":
            order = _add_sheet(cascade, "".join(el.itertext()), order)
        elif el.tag == "link" and "stylesheet" in (el.get("rel") or "").lower().split():
            cascade.unresolved.append(f"external stylesheet {el.get('href')!r} (not fetched)")
    return cascade
