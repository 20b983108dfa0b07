"""The first chunk of an HTML stream read up to the end of its ``<body ...>`` tag in one C-level match, and the
cache of heads already read (:class:`HeadCache`): the fast path of :mod:`.html_scanner`, whose exact scanner
takes over wherever the match stops. Pure and transport-free, like the scanner.
"""

from __future__ import annotations

import re

__all__ = ["HeadCache"]

# The raw text and RCDATA elements (their text ends only at their own end tag); those common in a <head> first:
# the fast path below tries them in this order.
_RAW_ELEMENTS = (b"title", b"script", b"style", b"noscript", b"textarea", b"iframe", b"xmp", b"noembed", b"noframes")

# Fast path for the first chunk: the prefix up to the end of the first <body ...> tag in one C-level match, group 1
# ending right after the first <head ...> tag when there is one, group 2 right after the <body ...> tag. Each
# construct is a strict subset of what the exact scanner (html_scanner.py) reads, ending at the same byte: tags,
# comments without "--" inside, declarations, processing instructions, raw text elements up to their end tag (script
# data without "<!--"). Every construct starts with "<" and the bytes after it choose the one alternative that
# can match; text is one [^<]* between constructs. So a match has exactly one parse, and a construct that does
# not match as a whole is given back whole (no possessive quantifiers or atomic groups: Python 3.10 lacks them).
# The match stops at the first "<" it cannot read (something unusual, a <plaintext>, a construct cut off by
# the end of the chunk); the exact scanner continues from there, in the same state it would have reached.
#
# Written for the regex engine's costs (issue 17: this match was most of a fresh page's cost), which are per step
# it enters, not per byte: an alternative that starts with a literal or a character class is skipped without
# being entered when the next byte cannot start it, so the alternatives after "<" each start with one (case is
# spelled out as classes, [hH]: an ignore-case literal is entered), and the special names are told apart by
# their first letter rather than by a lookahead on every tag; an attribute's value is checked after its "="
# (same reason); the first two attributes of a tag are unrolled, each repetition being a step of its own.


def _nocase(name: bytes) -> bytes:
    return b"".join(b"[%c%c]" % (c, c ^ 0x20) for c in name)


# Attributes and the tag's end, as strict as the exact scanner's _SKIP: a quote or "=" may appear only as
# `=value` right after an attribute name's last byte (the tag name must end first: the lookahead keeps the match
# from backing into it), and an unquoted value must end at whitespace or ">". Then every quote opens a quoted
# value, as in the tokenizer, and the tag ends at the same ">". Runs of other bytes (names, whitespace, "/") need
# no structure: none of them can change where the tag ends.
_RUN = rb"[^>\"'=]*"
_ATTR = rb"=(?<=[^\t\n\f\r /\"'=]=)(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r >\"'=<`]+(?=[\t\n\f\r >]))" + _RUN
_ATTRS = rb"(?=[\t\n\f\r />])" + _RUN + rb"(?:" + _ATTR + rb"(?:" + _ATTR + rb"(?:" + _ATTR + rb")*|)|)>"
_NAME = rb"[^\t\n\f\r />]*"
_SPECIAL_ELEMENTS = (b"head", b"body", b"plaintext", *_RAW_ELEMENTS)


def _raw_text_element(name: bytes) -> bytes:
    # After the first letter: the rest of the start tag, then text up to (not into) the first "</name" + [ws / >],
    # which the next construct reads as an end tag; most raw text holds no "<" (tried first: no repetition).
    # Script data must not hold "<!--": its escapes are left to the exact scanner.
    end = rb"(?=</" + _nocase(name) + rb"[\t\n\f\r />])"
    not_end = rb"<(?!/" + _nocase(name) + rb"[\t\n\f\r />]" + (rb"|!--" if name == b"script" else b"") + rb")"
    return _nocase(name[1:]) + _ATTRS + rb"(?:[^<]*" + end + rb"|[^<]*(?:" + not_end + rb"[^<]*)*" + end + rb")"


def _construct(*, head_is_special: bool) -> bytes:
    """A construct and the text after it. A <head> tag is special (the loop stops there) until the first one."""
    specials = [name for name in _SPECIAL_ELEMENTS if head_is_special or name != b"head"]
    letters = sorted({name[0] for name in _SPECIAL_ELEMENTS})  # both loops dispatch <h the same way
    plain = bytes(c for c in range(0x61, 0x7B) if c not in letters)
    alternatives = [
        rb"/[A-Za-z]" + _NAME + _ATTRS,  # end tag
        b"[" + plain + plain.upper() + b"]" + _NAME + _ATTRS,  # a start tag no special name starts like
    ]
    for letter in letters:
        names = [name for name in _SPECIAL_ELEMENTS if name[0] == letter]
        avoided = [name for name in names if name in specials]
        choices = [_raw_text_element(name) for name in names if name in _RAW_ELEMENTS]
        if avoided:  # any other tag starting with this letter
            not_special = b"|".join(_nocase(name[1:]) for name in avoided)
            choices.append(rb"(?!(?:" + not_special + rb")[\t\n\f\r />])" + _NAME + _ATTRS)
        else:
            choices.append(_NAME + _ATTRS)
        alternatives.append(_nocase(bytes([letter])) + rb"(?:" + b"|".join(choices) + rb")")
    alternatives += [
        rb"!--(?!-?>)[^-]*(?:-[^-]+)*-->",  # no "--" inside: it ends at the first "-->", never at "--!>"
        rb"!(?!--)[^>]*>",  # DOCTYPE, CDATA and other declarations: a bogus comment up to the first ">"
        rb"\?[^>]*>",  # a processing instruction is a bogus comment too
        rb"[^!?/A-Za-z<]",  # a "<" that starts nothing is text, and so is the byte after it (unless a "<")
        rb"(?=<)",  # a "<" before another "<" is text too ("a << b"); the next one is read on its own
    ]
    return rb"<(?:" + b"|".join(alternatives) + rb")[^<]*"


# Never fails: group 2 took part only when the <body> tag was reached; group 1 only when a <head> tag was first.
_FIRST_BODY = re.compile(
    rb"[^<]*(?:" + _construct(head_is_special=True) + rb")*"
    rb"(?:(<" + _nocase(b"head") + _ATTRS + rb")[^<]*(?:" + _construct(head_is_special=False) + rb")*)?"
    rb"(<" + _nocase(b"body") + _ATTRS + rb")?"
)

# The same, from a point after the first <head> tag (HeadCache's shared starts): group 1 is the <body> tag's end.
_AFTER_HEAD = re.compile(
    rb"[^<]*(?:" + _construct(head_is_special=False) + rb")*(<" + _nocase(b"body") + _ATTRS + rb")?"
)
# A shared start shorter than this saves too little of the match to be worth a comparison per page.
_MIN_START = 32


class HeadCache:
    """The prefixes (up to the end of the <body> tag) of recent first chunks the fast path took whole, with
    their insertion points. A page served again (an app's HTML shell, a landing page) is then recognised by
    one bytes comparison per entry instead of a scan. Exact: how the scanner reads a prefix depends on no byte
    after it. A prefix is cached when it is seen the second time: pages whose head differs per response (a
    CSRF token, a CSP nonce) never repeat, and would otherwise push the repeating ones out and make every
    lookup compare against entries that cannot match. Bounded: at most `size` entries and `4 * size` prefixes
    seen once, each of at most `limit` bytes; shared by the responses of one middleware (one lookahead limit),
    safe to read while another thread replaces the list.

    Such heads still share their start (everything before the token), and so do the pages of one site: when a
    prefix seen once shares at least _MIN_START bytes with the one seen before it, the fast path's reading of
    the shared bytes is kept as a start, up to the last point where the match can resume (a construct boundary
    or text, in the data state, whose match reads no byte past it: see `_add_start`), with the <head> insertion
    point if it lies before. A page beginning with a start is matched from there on. Exact for the same reason
    as the entries; at most `size` starts.
    """

    def __init__(self, limit: int, size: int = 8) -> None:
        self.limit = limit
        self._size = size
        self._entries: list[tuple[bytes, int, int]] = []  # (prefix, head insertion point or -1, body one)
        self._seen_once: dict[bytes, None] = {}  # prefixes seen once, oldest first
        self._starts: list[tuple[bytes, int]] = []  # (shared start, head insertion point in it or -1)
        self._newest = b""  # the prefix seen once most recently
        self._misses = self._skip = 0  # starts not found in a row: so many attempts are skipped

    def find(self, chunk: bytes) -> tuple[int, int] | None:
        for prefix, head, body in self._entries:
            if chunk.startswith(prefix):
                return head, body
        return None

    def add(self, chunk: bytes, head: int, body: int, *, started: bool = False) -> None:
        """The fast path read `chunk` up to `body`; `started`: from one of the starts (none is added then)."""
        prefix = chunk[:body]
        seen = self._seen_once
        if seen.pop(prefix, False) is False:  # the first time: remembered, not cached yet
            if len(seen) >= 4 * self._size:
                seen.clear()
            seen[prefix] = None
            if not started:
                self._add_start(prefix, self._newest)
            self._newest = prefix
            return
        # The newest first; one assignment, so a concurrent find() sees the old list or the new one.
        self._entries = [(prefix, head, body), *self._entries[: self._size - 1]]

    def _add_start(self, prefix: bytes, other: bytes) -> None:
        if self._skip:  # heads that shared no start lately: try again only now and then (a search and a match)
            self._skip -= 1
            return
        if prefix[:_MIN_START] != other[:_MIN_START]:  # most unrelated heads differ this early: no search
            return
        end = _shared_length(prefix, other)
        # Cut back until the match reads nothing past its own end: a raw-text element (<title>, <script>...) is
        # matched up to its end tag, which only a lookahead checks, so a match can stop just before "</title"
        # having peeked at bytes the start would not keep; resumed there, "</titlex>" (still RCDATA text) would
        # read as that end tag. Matched with endpos = its own end, no later byte can count.
        while True:
            first = _FIRST_BODY.match(prefix, 0, end)
            assert first is not None  # every part is optional
            if first.end() == end:
                break
            end = first.end()
        if end < _MIN_START or first.end(2) >= 0:  # (the <body> tag cannot end in bytes two prefixes share)
            self._misses = min(2 * self._misses + 1, 63)
            self._skip = self._misses
            return
        self._misses = 0
        start = prefix[:end]
        if all(start != known for known, _ in self._starts):
            self._starts = [(start, first.end(1)), *self._starts[: self._size - 1]]


def _shared_length(a: bytes, b: bytes) -> int:
    """How many bytes `a` and `b` share at their start: the highest bit of their big-endian XOR is in the first
    byte that differs (C-level work, no loop over the bytes)."""
    size = min(len(a), len(b))
    difference = int.from_bytes(a[:size], "big") ^ int.from_bytes(b[:size], "big")
    return size - (difference.bit_length() + 7) // 8
