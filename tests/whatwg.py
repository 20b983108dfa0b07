"""html5lib as the independent WHATWG reference: where a document's first <body> start tag ends, and whether
a page parses without errors. html5lib's parser drives its tokenizer's states (raw text, RCDATA, script data
and its escapes, PLAINTEXT) exactly as a browser's tree builder does, so it shares none of the scanner's
shortcuts.
"""

from __future__ import annotations

from typing import Any

import html5lib
from html5lib import _tokenizer
from html5lib.constants import tokenTypes
from html5lib.html5parser import HTMLParser

_START_TAG = tokenTypes["StartTag"]


class _TagSpotter(_tokenizer.HTMLTokenizer):  # type: ignore[misc]
    """The tokenizer html5lib's parser uses, noting the names of the start tag tokens that came out."""

    def __iter__(self) -> Any:
        for token in super().__iter__():
            if token["type"] == _START_TAG:
                self.parser.start_tags.add(token["name"])
            yield token


class _Parser(HTMLParser):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.start_tags: set[str] = set()

    def _parse(
        self, stream: Any, innerHTML: bool = False, container: str = "div", scripting: bool = False, **kwargs: Any
    ) -> None:
        # HTMLParser._parse with the spotting tokenizer; scripting on, as in a browser (noscript is raw text).
        self.innerHTMLMode, self.container, self.scripting = innerHTML, container, True
        self.tokenizer = _TagSpotter(stream, parser=self, **kwargs)
        self.reset()
        self.mainLoop()


def _has_start_tag(text: str, name: str) -> bool:
    parser = _Parser()
    parser.parse(text)
    return name in parser.start_tags


def start_tag_end(doc: bytes, name: str) -> int | None:
    """Offset right after the ">" of the first `name` start tag token a browser would see, or None.

    html5lib's tokens carry no offsets, so this finds the shortest prefix whose parse emits that token: a
    token, once emitted, stays emitted when more input follows. Latin-1 keeps one character per byte.
    """
    text = doc.decode("latin-1")
    if not _has_start_tag(text, name):
        return None
    lo, hi = 0, len(text)  # invariant: text[:lo] has no such token, text[:hi] has one
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _has_start_tag(text[:mid], name):
            hi = mid
        else:
            lo = mid
    assert text[hi - 1] == ">", (text, hi)
    return hi


def body_tag_end(doc: bytes) -> int | None:
    return start_tag_end(doc, "body")


def parse_errors(page: str) -> list[tuple[tuple[int, int], str, dict[str, Any]]]:
    """html5lib's parse errors for `page` (empty for a conforming document's syntax)."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"))
    parser.parse(page)
    return list(parser.errors)
