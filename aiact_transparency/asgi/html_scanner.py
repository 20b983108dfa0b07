"""Streaming insertion of snippets after the ``<head>`` and ``<body>`` open tags of an HTML byte stream.

Pure and transport-free: the ASGI responder feeds body chunks in and sends out what comes back. The scanner
is a small resumable tokenizer over bytes that follows the WHATWG tokenizer just far enough to tell a real
``<body ...>`` open tag from one inside a comment, a raw-text element, an attribute value or a declaration.
The first chunk is usually read in one match instead (html_first_chunk.py); the scanner goes on where it stops.
"""

from __future__ import annotations

import re

from .html_first_chunk import _AFTER_HEAD, _FIRST_BODY, _RAW_ELEMENTS, HeadCache

__all__ = ["HeadCache", "HtmlInjector"]

# A start or end tag up to (not including) its closing ">", exactly as the WHATWG tokenizer reads it: tag name,
# then attribute names (which may hold quotes or start with "=") and values (a quote opens a value only right
# after "="). Every branch may stop anywhere, so the match never backtracks into a different parse: it stops at
# the first ">" outside a quoted value, or at the end of the data (an unterminated quote eats the rest), which
# the caller reads as "need more bytes".
_TAG = re.compile(
    rb"</?([A-Za-z][^\t\n\f\r />]*)"
    rb"(?:[\t\n\f\r /]+"
    rb"|[^\t\n\f\r />][^\t\n\f\r /=>]*"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"?|'[^']*'?|[^\t\n\f\r >\"'][^\t\n\f\r >]*)?)?"
    rb")*"
)

# Fast path: text plus well-formed tags that need no action (any end tag; start tags other than the special
# ones below), matched in one C-level call instead of a Python step per tag. Its attribute grammar is a strict
# subset of the tokenizer's: attributes are whitespace-separated, names and unquoted values exclude quotes, "="
# and "<", so a match has exactly one parse and ends at the same ">" as the tokenizer (an unquoted value may
# give trailing "/"s back to the final [ws /]*>, which changes nothing). Whatever it declines (unusual syntax,
# a special tag, a tag cut off by the end of the data) goes to the exact slow path at the "<" where it stopped.
_SKIP = re.compile(
    rb"(?:[^<]+"
    rb"|(?:</|<(?!(?i:head|body|plaintext|script|style|xmp|iframe|noembed|noframes|noscript|title|textarea)"
    rb"[\t\n\f\r />]))[A-Za-z][^\t\n\f\r />]*"
    rb"(?:[\t\n\f\r ]+[^\t\n\f\r />\"'=<]+"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r >\"'=<`]+))?)*"
    rb"[\t\n\f\r /]*>)*"
)

# Scanner modes: where the next "<" can matter, or which terminator ends the current construct. There is no
# CDATA mode: a CDATA section exists only in foreign content (inside <svg> or <math>); in HTML content
# "<![CDATA[" opens a bogus comment that ends at the first ">" (WHATWG "markup declaration open state",
# cdata-in-html-content). The scanner reads everything as HTML content: an <svg> before <body> would
# already have opened the body implicitly.
_DATA, _COMMENT, _BOGUS, _RAW, _SCRIPT = range(5)

# Special element kinds, by lower-cased tag name.
_BODY, _HEAD, _PLAINTEXT = range(3)
# Raw text (script, style, ...) and RCDATA (title, textarea) both end only at "</name" + [ws / >]; character
# references in RCDATA do not matter to us, so both get the same end pattern.
_RAW_END: dict[bytes, tuple[re.Pattern[bytes], int]] = {
    name: (re.compile(rb"</" + name + rb"[\t\n\f\r />]", re.IGNORECASE), len(name) + 2) for name in _RAW_ELEMENTS
}
# Script data is raw text with escapes (WHATWG "script data escaped" and "double escaped" states): "<!--"
# escapes it; inside the escape "<script" + [ws / >] double-escapes it, and there "</script" + [ws / >] only
# ends the double escape; "-->" always returns to plain script data (dashes never straddle a transition). So
# "<script><!--<script></script><body>--></script>" is all script. Each pattern names what ends the state.
_SCRIPT_DATA, _SCRIPT_ESCAPED, _SCRIPT_DOUBLE = range(3)
_SCRIPT_STATES = (
    re.compile(rb"<!--|</script[\t\n\f\r />]", re.IGNORECASE),
    re.compile(rb"-->|</?script[\t\n\f\r />]", re.IGNORECASE),
    re.compile(rb"-->|</script[\t\n\f\r />]", re.IGNORECASE),
)
_SCRIPT_KEEP = len(b"</script")  # a match cut off by the end of the data starts at most this far back
_SPECIAL: dict[bytes, int] = {b"body": _BODY, b"head": _HEAD, b"plaintext": _PLAINTEXT}

# _scan results that are not an insertion point.
_NEED_MORE = -1
_PLAINTEXT_SEEN = -2


def _is_letter(c: int) -> bool:
    return 0x61 <= (c | 0x20) <= 0x7A


class HtmlInjector:
    """Inserts `head_snippet` right after the <head ...> open tag (only when <head> comes before <body>) and
    `body_snippet` right after the <body ...> open tag, in a byte stream fed chunk by chunk.

    The <body> tag must end within the first `limit` bytes of the stream; otherwise, or when the stream ends
    first, nothing is inserted, the output equals the input and `gave_up_reason` says why. Bytes before <head>
    go out as soon as they are scanned; from <head> on they are held until the decision. Once `done`, feed()
    returns its argument itself. One instance per response; not thread-safe.
    """

    # The scanner's starting state, as class attributes: a page the fast path takes whole never sets them, and
    # each set on the instance only once it changes (every value here is immutable).
    _base = 0  # absolute stream offset of _buf[0]; all other positions are relative to _buf, shifted on trims
    _seen = 0  # total bytes fed
    _emitted = 0  # _buf[:_emitted] was already returned to the caller
    _pos = 0  # where the scanner resumes
    _mode = _DATA
    _comment_start = 0  # first byte of comment text: "--!>" may only start there
    _raw_end: tuple[re.Pattern[bytes], int] | None = None
    _script_state = _SCRIPT_DATA
    _tag_wait = -1  # an incomplete tag cannot finish before a ">" at or after this position
    _head_at: int | None = None
    _body_end = -1  # set by _tag: the insertion point right after the <body ...> tag
    # The outcome, read by the caller after each feed(): plain attributes, not properties (a call each, and the
    # responder reads them for every page). Not to be set from outside.
    done = False
    injected = False
    gave_up_reason: str | None = None

    def __init__(
        self, *, head_snippet: bytes, body_snippet: bytes, limit: int = 16384, heads: HeadCache | None = None
    ) -> None:
        if limit <= 0:
            raise ValueError(f"limit must be a positive number of bytes, got {limit}")
        self._head_snippet = head_snippet
        self._body_snippet = body_snippet
        self._limit = limit
        self._heads = heads if heads is not None and heads.limit == limit else None
        self._buf = bytearray()  # bytes kept for scanning and/or held back

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk  # pass-through: no copy once the decision is made
        if not chunk:
            return b""
        if not self._seen:
            # The first chunk usually holds the whole head: one match finds both points (or a cached prefix
            # does), and the chunk is neither copied into the buffer nor scanned step by step. Otherwise the
            # exact scanner resumes where the match stopped, in the state it would have reached there itself.
            heads = self._heads if type(chunk) is bytes else None
            at = 0  # where the match starts: after a start the cache shares with this chunk, if any
            if heads is not None:
                # HeadCache.find() written out (same module): a call less per page. The lists are replaced, never
                # changed in place, so reading them while another thread adds is safe.
                for prefix, head, body in heads._entries:
                    if chunk.startswith(prefix):
                        self._seen = len(chunk)
                        return self._release_first(chunk, head, body)
                for entry in heads._starts:
                    if chunk.startswith(entry[0]):
                        at, head = len(entry[0]), entry[1]
                        break
            if at and head >= 0:  # the <head> tag lies in the start: the rest of the pattern after it
                first = _AFTER_HEAD.match(chunk, at, self._limit)
                assert first is not None  # every part is optional
                body = first.end(1)
            else:
                first = _FIRST_BODY.match(chunk, at, self._limit)
                assert first is not None
                head, body = first.end(1), first.end(2)  # -1 for a part that took no part
            if body >= 0:
                self._seen = len(chunk)
                if heads is not None:
                    heads.add(chunk, head, body, started=at > 0)
                return self._release_first(chunk, head, body)
            self._pos = first.end()
            if head >= 0:
                self._head_at = head
        self._buf += chunk
        self._seen += len(chunk)
        # Only the first `limit` bytes of the stream are ever scanned, so the outcome does not depend on how
        # the stream was split into chunks.
        at = self._scan(min(len(self._buf), self._limit - self._base))
        if at >= 0:
            return self._release(at)
        if at == _PLAINTEXT_SEEN:
            return self._give_up("<plaintext> before any <body> tag")
        if self._seen >= self._limit:
            return self._give_up(f"no <body> tag within the first {self._limit} bytes")
        return self._emit_ready()

    def finish(self) -> bytes:
        if self.done:
            return b""
        return self._give_up("no <body> tag before the end of the stream")

    # --- output -----------------------------------------------------------------------------------------

    def _release(self, at: int) -> bytes:
        buf, start = self._buf, self._emitted
        if self._head_at is None:
            out = b"".join((buf[start:at], self._body_snippet, buf[at:]))
        else:
            head = self._head_at
            out = b"".join((buf[start:head], self._head_snippet, buf[head:at], self._body_snippet, buf[at:]))
        self.injected = True
        self._finish_up()
        return out

    def _release_first(self, chunk: bytes, head: int, at: int) -> bytes:
        # The rest of the chunk as a view, so that the join is its only copy (the head, a few hundred bytes, is
        # cheaper to slice than to view).
        rest = memoryview(chunk)[at:]
        if head < 0:
            out = b"".join((chunk[:at], self._body_snippet, rest))
        else:
            out = b"".join((chunk[:head], self._head_snippet, chunk[head:at], self._body_snippet, rest))
        self.injected = True
        self.done = True
        return out

    def _give_up(self, reason: str) -> bytes:
        out = bytes(self._buf[self._emitted :])
        self.gave_up_reason = reason
        self._finish_up()
        return out

    def _finish_up(self) -> None:
        self.done = True
        self._buf = bytearray()  # free the lookahead now; a pass-through needs none

    def _emit_ready(self) -> bytes:
        # Bytes before any possible insertion point can go out now. Once <head> is seen everything after it
        # is held, because its snippet goes in only if a <body> tag follows within the limit.
        ready = len(self._buf) if self._head_at is None else self._head_at
        out = bytes(self._buf[self._emitted : ready]) if ready > self._emitted else b""
        self._emitted = max(self._emitted, ready)
        self._trim(min(self._pos, self._emitted))
        return out

    def _trim(self, k: int) -> None:
        # Drop bytes that are both sent and behind the scanner, so the buffer stays small before <head>.
        if k <= 0:
            return
        del self._buf[:k]
        self._base += k
        self._emitted -= k
        self._pos -= k
        self._comment_start -= k
        if self._tag_wait >= 0:
            self._tag_wait -= k
        if self._head_at is not None:
            self._head_at -= k

    # --- scanner ----------------------------------------------------------------------------------------

    def _scan(self, end: int) -> int:
        """Scan _buf[_pos:end]: the insertion point after a <body> open tag, or _NEED_MORE / _PLAINTEXT_SEEN."""
        buf = self._buf
        pos = self._pos
        if self._tag_wait >= 0:
            # A tag was cut off by the end of the data: re-parse it only once a ">" has arrived.
            if buf.find(b">", self._tag_wait, end) < 0:
                self._tag_wait = end
                return _NEED_MORE
            self._tag_wait = -1
        while True:
            if self._mode != _DATA:
                pos = self._skip_construct(pos, end)
                if pos < 0:
                    return _NEED_MORE
            skipped = _SKIP.match(buf, pos, end)
            lt = skipped.end() if skipped else pos  # it always matches (maybe empty); this keeps mypy happy
            if lt >= end:
                self._pos = end
                return _NEED_MORE
            self._pos = lt  # resume here if what starts at this "<" is cut off
            if lt + 2 >= end:
                return _NEED_MORE  # "<", "<!", "</" or "<x" at the end: all need more bytes to classify
            c = buf[lt + 1]
            if c == 0x21:  # "<!"
                pos = self._markup_declaration(lt, end)
            elif c == 0x3F:  # "<?": a processing instruction is a bogus comment in HTML
                self._mode, pos = _BOGUS, lt + 2
            elif _is_letter(c) or (c == 0x2F and _is_letter(buf[lt + 2])):
                pos = self._tag(lt, end)
                if pos == _PLAINTEXT_SEEN or self._body_end >= 0:
                    return pos
            elif c == 0x2F:  # "</" not followed by a letter: "</>" is dropped, anything else is a bogus comment
                if buf[lt + 2] == 0x3E:
                    pos = lt + 3
                else:
                    self._mode, pos = _BOGUS, lt + 2
            else:
                pos = lt + 1  # "<" followed by anything else is text
            if pos < 0:
                return _NEED_MORE

    def _tag(self, lt: int, end: int) -> int:
        """Parse the tag at `lt`; return the position after its ">" (noting <head> and <body>), or a code."""
        m = _TAG.match(self._buf, lt, end)
        assert m is not None  # lt + 1 is a letter, or "/" then a letter
        gt = m.end()
        if gt >= end:
            self._tag_wait = end
            return _NEED_MORE
        if self._buf[lt + 1] == 0x2F:
            return gt + 1  # end tags only need skipping
        name = m.group(1).lower()
        kind = _SPECIAL.get(name)
        if kind == _BODY:
            self._body_end = gt + 1
        elif kind == _HEAD:
            if self._head_at is None:
                self._head_at = gt + 1
        elif kind == _PLAINTEXT:
            return _PLAINTEXT_SEEN
        else:
            raw_end = _RAW_END.get(name)
            if name == b"script":
                self._mode, self._script_state = _SCRIPT, _SCRIPT_DATA
            elif raw_end is not None:
                self._mode, self._raw_end = _RAW, raw_end
        return gt + 1

    def _markup_declaration(self, lt: int, end: int) -> int:
        """Classify "<!" at `lt` (comment, or DOCTYPE / CDATA / other bogus comment); return where to continue."""
        rest = bytes(self._buf[lt + 2 : min(lt + 4, end)])
        if rest == b"--":
            # Searching "-->" from just after "<!" also catches the abrupt "<!-->" and "<!--->".
            self._mode, self._comment_start = _COMMENT, lt + 4
            return lt + 2
        if len(rest) < 2 and b"--".startswith(rest):
            return _NEED_MORE
        # DOCTYPE, "<![CDATA[" (HTML content, see _BOGUS) and other declarations end at the first ">", quoted
        # or not.
        self._mode = _BOGUS
        return lt + 2

    def _skip_construct(self, pos: int, end: int) -> int:
        """Find the end of the current comment / bogus comment / raw text; -1 if not in _buf[:end] yet."""
        buf, mode = self._buf, self._mode
        if mode == _COMMENT:
            close = buf.find(b"-->", pos, end)
            bang = buf.find(b"--!>", max(pos, self._comment_start), end if close < 0 else close)
            found, after = (bang, bang + 4) if bang >= 0 else (close, close + 3)
            keep = 3
        elif mode == _BOGUS:
            found = buf.find(b">", pos, end)
            after, keep = found + 1, 0
        elif mode == _SCRIPT:
            # `pos` moves past the escapes crossed, so a resumed scan never backs up over a state change.
            found, pos = self._script_end(pos, end)
            after, keep = found, _SCRIPT_KEEP
        else:
            assert self._raw_end is not None
            pattern, keep = self._raw_end
            m = pattern.search(buf, pos, end)
            found = m.start() if m else -1
            after = found  # the end tag itself is then parsed as a tag from DATA
        if found < 0:
            # Resume just before the end, where a terminator cut in two could start.
            self._pos = max(pos, end - keep)
            return -1
        self._mode = _DATA
        return after

    def _script_end(self, pos: int, end: int) -> tuple[int, int]:
        """(where "</script" ends script data or -1 if not in _buf[:end] yet, where the last state began)."""
        buf = self._buf
        while True:
            m = _SCRIPT_STATES[self._script_state].search(buf, pos, end)
            if m is None:
                return -1, pos
            token = m.group()
            if self._script_state == _SCRIPT_DATA:
                if token == b"<!--":
                    # "<!-->" and "<!--->" end the escape at once: look for "-->" from the first dash.
                    self._script_state, pos = _SCRIPT_ESCAPED, m.start() + 2
                    continue
                return m.start(), pos
            if token == b"-->":
                self._script_state, pos = _SCRIPT_DATA, m.end()
            elif self._script_state == _SCRIPT_DOUBLE:
                self._script_state, pos = _SCRIPT_ESCAPED, m.end()
            elif token[1:2] == b"/":
                return m.start(), pos
            else:
                self._script_state, pos = _SCRIPT_DOUBLE, m.end()
