from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiact_transparency.asgi import html_first_chunk, html_scanner
from aiact_transparency.asgi.html_scanner import HtmlInjector
from tests.tools import require_module

require_module("html5lib")

from tests import whatwg  # noqa: E402

HS = b"\x01[head-snippet]\x01"
BS = b"\x01[body-snippet]\x01"

PAGE = (
    b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    b'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    b"<title>Chat &amp; <body> demo</title>\n"
    b'<link rel="stylesheet" href="/static/app.css?v=3">\n'
    b"<!-- analytics: <body> goes below -->\n"
    b"<style>body > .x { content: '<body>'; }</style>\n"
    b'<script type="module">if (a < b && "</scrip" !== x) { document.write("<body>"); }</script>\n'
    b"</head>\n"
    b"<body class=\"app\" data-theme='dark'>\n<main><h1>Hello</h1><p>text</p></main>\n</body>\n</html>\n"
)
PAGE_BODY_END = PAGE.index(b"<body class") + len(b"<body class=\"app\" data-theme='dark'>")
PAGE_HEAD_END = PAGE.index(b"<head>") + len(b"<head>")


def run(chunks: list[bytes], limit: int = 16384) -> tuple[bytes, HtmlInjector]:
    """Feed chunks, checking at every step that no more than `limit` input bytes are held back."""
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS, limit=limit)
    fed, out = 0, b""
    for chunk in chunks:
        out += inj.feed(chunk)
        fed += len(chunk)
        released = len(out.replace(HS, b"").replace(BS, b""))
        assert fed - released <= limit
    out += inj.finish()
    assert inj.done
    return out, inj


def inject(doc: bytes, limit: int = 16384) -> bytes:
    return run([doc], limit)[0]


def expected(doc: bytes, head: int | None, body: int) -> bytes:
    if head is None:
        return doc[:body] + BS + doc[body:]
    return doc[:head] + HS + doc[head:body] + BS + doc[body:]


# --- explicit shapes ----------------------------------------------------------------------------------------


def test_realistic_page() -> None:
    out, inj = run([PAGE])
    assert out == expected(PAGE, PAGE_HEAD_END, PAGE_BODY_END)
    assert inj.injected and inj.gave_up_reason is None


@pytest.mark.parametrize(
    ("doc", "marker"),
    [
        (b"<BODY>x", b"<BODY>"),
        (b"<Body class=\"x\" data-x='<body>'>x", b"<Body class=\"x\" data-x='<body>'>"),
        (b"<body\n\tclass=a>x", b"<body\n\tclass=a>"),
        (b"<body/>x", b"<body/>"),
        (b"<body data-a=\"x>y\" data-b='>'>x", b"<body data-a=\"x>y\" data-b='>'>"),
        (b"<!-- <body> --><body>x", b"--><body>"),
        (b"<!--<body>--!><body>x", b"--!><body>"),
        (b"<!--><body>x", b"<!--><body>"),
        (b"<!---><body>x", b"<!---><body>"),
        (b"<!--!><body>--><body>x", b"--><body>"),
        (b"<script><body></SCRIPT ><body>x", b"</SCRIPT ><body>"),
        (b"<script>'</scriptx><body>'</script><body>x", b"</script><body>"),
        (b"<style>a::before{content:'<body>'}</style><body>x", b"</style><body>"),
        (b"<title><body></title><body>x", b"</title><body>"),
        (b"<textarea><body></TEXTAREA><body>x", b"</TEXTAREA><body>"),
        (b"<noscript><body></noscript><body>x", b"</noscript><body>"),
        (b'<div data-x="<body>"><body>x', b'"><body>'),
        (b"<div data-x='<body>'><body>x", b"'><body>"),
        (b"<![CDATA[<body>]]><body>x", b"]]><body>"),  # HTML content: a bogus comment ending at the first ">"
        (b"<![CDATA[x><body>]]><body>x", b"<![CDATA[x><body>"),
        (b"<script><!--<script></script><body>--></script><body>x", b"--></script><body>"),
        (b"<script><!--</script><body>x", b"</script><body>"),
        (b"<script><!--><script></script><body>x", b"</script><body>"),
        (b"<bodyfoo><body-x><body_><body>x", b"<body_><body>"),
        (b"<!DOCTYPE html><body>x", b"<!DOCTYPE html><body>"),
        (b"<?php echo '<body>' ?><body>x", b"?><body>"),
        (b"</body><body>x", b"</body><body>"),
        (b"</ body><body>x", b"</ body><body>"),
        (b"a < b <3 <><body>x", b"<><body>"),
    ],
)
def test_body_tag_found_past_decoys(doc: bytes, marker: bytes) -> None:
    want = expected(doc, None, doc.index(marker) + len(marker))
    assert inject(doc) == want
    for i in range(len(doc) + 1):  # a terminator or tag cut in two anywhere must still be found
        assert run([doc[:i], doc[i:]])[0] == want
        assert run([doc[:i], doc[i : i + 1], doc[i + 1 :]])[0] == want


def test_bom_and_meta_before_head() -> None:
    doc = b'\xef\xbb\xbf<meta charset="utf-8"><HEAD profile="x"><title>t</title></HEAD><body>x'
    head = doc.index(b'profile="x">') + len(b'profile="x">')
    assert inject(doc) == expected(doc, head, doc.index(b"<body>") + 6)


def test_xhtml_prologue() -> None:
    doc = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>t</title></head><body>x</body></html>"
    )
    assert inject(doc) == expected(doc, doc.index(b"<head>") + 6, doc.index(b"<body>") + 6)


def test_head_only_counts_before_body() -> None:
    doc = b"<body><head>x"
    assert inject(doc) == expected(doc, None, 6)
    doc = b"<!-- <head> --><title><head></title><body>x"
    assert inject(doc) == expected(doc, None, len(doc) - 1)


@pytest.mark.parametrize(
    "doc",
    [
        b"",
        b"<html><head><title>t</title></head><p>no body tag</p></html>",
        b"<!-- <body> -->",
        b"<script><body>",
        b"<div data-x='<body>",
        b"<body",
        b"<body class='a>'",
        b"<bodyfoo>",
        b"<head><plaintext><body>",
    ],
)
def test_no_body_tag_passes_through(doc: bytes) -> None:
    out, inj = run([doc])
    assert out == doc
    assert not inj.injected
    assert inj.gave_up_reason is not None


def test_limit_reached_gives_up() -> None:
    doc = b"<html><head>" + b"<meta name=x>" * 100 + b"<body>x" + b"y" * 1000
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS, limit=256)
    first = inj.feed(doc[:200])
    assert first == b"<html><head>"  # everything up to the head insertion point goes out early
    assert inj.feed(doc[200:300]) == doc[12:300]
    assert inj.done and not inj.injected
    assert inj.gave_up_reason == "no <body> tag within the first 256 bytes"
    rest = doc[300:]
    assert inj.feed(rest) is rest  # pass-through without copying
    assert inj.finish() == b""


def test_body_tag_must_end_within_limit() -> None:
    doc = b"<body>x"
    assert inject(doc, limit=6) == expected(doc, None, 6)
    assert inject(doc, limit=5) == doc


def test_empty_chunks_and_finish_without_feed() -> None:
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS)
    assert inj.finish() == b""
    assert inj.done and inj.gave_up_reason is not None
    out, _ = run([b"", b"<bo", b"", b"dy>", b"", b"x"])
    assert out == b"<body>" + BS + b"x"


def test_pass_through_after_injection_returns_same_object() -> None:
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS)
    assert inj.feed(b"<body>") == b"<body>" + BS
    chunk = b"rest of page"
    assert inj.feed(chunk) is chunk


def test_bytes_before_head_are_released_early() -> None:
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS)
    assert inj.feed(b"<!DOCTYPE html><html><he") == b"<!DOCTYPE html><html><he"
    assert inj.feed(b"ad><title>") == b"ad>"
    assert inj.feed(b"</title><body>x") == HS + b"<title></title><body>" + BS + b"x"


def test_invalid_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        HtmlInjector(head_snippet=b"", body_snippet=b"", limit=0)


@pytest.mark.parametrize("split", range(201))
def test_split_anywhere_in_first_200_bytes(split: int) -> None:
    want = expected(PAGE, PAGE_HEAD_END, PAGE_BODY_END)
    assert run([PAGE[:split], PAGE[split:]])[0] == want


def test_every_byte_its_own_chunk() -> None:
    assert run([PAGE[i : i + 1] for i in range(len(PAGE))])[0] == expected(PAGE, PAGE_HEAD_END, PAGE_BODY_END)


# --- reference: html5lib, a real WHATWG tokenizer driven by its tree builder (tests/whatwg.py) ------------------


def reference(doc: bytes) -> tuple[int | None, int | None]:
    """(head insertion point, body insertion point) of a whole document."""
    body = whatwg.start_tag_end(doc, "body")
    head = whatwg.start_tag_end(doc, "head") if body is not None else None
    return (head if head is not None and head < body else None), body  # type: ignore[operator]


# --- properties -----------------------------------------------------------------------------------------------

PIECES = [
    b"<!DOCTYPE html>", b"\xef\xbb\xbf", b'<html lang="en">', b"<head>", b"<HEAD data-x='1'>", b"<head",
    b"<body>", b"<BODY class=\"x\" data-x='<body>'>", b"<Body\n>", b"<body/>", b"<body", b"<bodyfoo>",
    b"<body-x>", b"<!-- <body> -->", b"<!--", b"-->", b"--!>", b"<!-->", b"<!--->", b"<!--!>", b"<!",
    b"<script>", b"</script>", b"</SCRIPT >", b"<style>", b"</style>", b"<title>", b"</title>", b"<textarea>",
    b"</textarea>", b"<noscript>", b"</noscript>", b'<div data-x="<body>">', b"<a b=c\"d>", b"<a =\"x>",
    b"<![CDATA[", b"]]>", b'<?xml version="1.0"?>', b"</", b"</>", b"</ x>", b"<p>", b"</p>", b"text ",
    b'<meta charset="utf-8">', b"<plaintext>", b"<", b">", b'"', b"'", b"=", b" ", b"/", b"-", b"!",
    # well-formed and almost well-formed tags, for the fast path and where it must hand over to the slow one
    b"<a b=c/d>", b'<a b = "x>y" c>', b"<div  class='a' / >", b"<x-y a=b=c>", b'<p a="x"b="<body>">',
    b"<link rel=x href=/a/b/>", b"<i a='>' b=\"'\">", b"<a b=>", b"<a b=c<body>", b"<Header>", b"<bodY\t/>",
    # comments, raw text and tag shapes the one-call fast path consumes whole, and near misses it must refuse
    b"<!---->", b"<!----!>", b"<!-- --!-->", b"<Style a=b>", b"</STYLE\t>", b"<xmp>", b"</xmp/>", b"<iframe>",
    b"</iframe >", b"<Title>", b"</TITLE>", b"<meta a='<body>'>", b"<meta a = \"x>\">", b"<!DOCTYPE x>", b"<?x>",
    b"<html=\"x>\">", b"<a b=\"x\"c=\"<body>\">", b"</scripts>",
]  # fmt: skip
ALPHABET = b"<>!-/?\"'= \nbodyBODYheadsript[CDATA]x"

noise = st.binary(max_size=3).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b))
documents = st.lists(st.one_of(st.sampled_from(PIECES), noise), max_size=40).map(b"".join)


def split(doc: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(doc) + 1) for c in cuts})
    return [doc[a:b] for a, b in zip([0, *points], [*points, len(doc)], strict=True)]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents, cuts=st.lists(st.integers(min_value=0), max_size=12), limit=st.sampled_from([1, 8, 40, 16384]))
def test_any_split_matches_reference(doc: bytes, cuts: list[int], limit: int) -> None:
    whole, inj = run([doc], limit)
    chunked, _ = run(split(doc, cuts), limit)
    assert chunked == whole
    assert whole.replace(HS, b"").replace(BS, b"") == doc
    head, body = reference(doc)
    if body is not None and body <= limit:
        assert whole == expected(doc, head, body)
        assert inj.injected
    else:
        assert whole == doc
        assert not inj.injected and inj.gave_up_reason


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=30), limit=st.sampled_from([64, 300, 16384]))
def test_realistic_page_any_split(cuts: list[int], limit: int) -> None:
    out, _ = run(split(PAGE, cuts), limit)
    assert out == (expected(PAGE, PAGE_HEAD_END, PAGE_BODY_END) if limit >= PAGE_BODY_END else PAGE)


# --- the first-chunk fast path (_FIRST_BODY): exact, or it hands over to the scanner where it stopped -------------

WELL_FORMED = [
    b"<!DOCTYPE html>", b"<html lang=en>", b"<head>", b"<HEAD a='1'>", b'<meta charset="utf-8">', b"<title>x<y</title>",
    b"<title>", b"</title>", b"<script>a<b</script>", b"<script>", b"</script>", b"<!--", b"-->", b"<!-- c -->",
    b"<!---->", b"<!-- a -- b -->", b"<style>p>q{}</style>", b"<link rel=x href=/a/b/>", b"<a b=c/d>",
    b'<a b="x>y" c>', b'<p a="x"b="<body>">', b"<a b=c<body>", b'<a ="x>">', b'<a b=c"d>', b"<a b=c=d>",
    b'<a b=c="d>">', b'<x/="y>">', b"<a b ='x>'>", b"text", b" ", b"<", b"< ", b"<?x>", b"<![CDATA[<body>]]>", b"</>",
    b"</ x>", b"<noscript><body></noscript>", b"<textarea>", b"</textarea >", b"<body>", b"<BODY x=y>", b"<body",
    b"'", b'"', b"=", b"<div data-x='<body>'>", b"<plaintext>", b"<script><!--</script>", b"<xmp></xmp/>", b"-", b"!",
    b"/", b"<i a='>' b=\"'\">",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.lists(st.sampled_from(WELL_FORMED), max_size=25).map(b"".join))
def test_first_chunk_fast_path_matches_reference(doc: bytes) -> None:
    # Whole: the fast path reads as far as it can; one byte first: the scanner reads (almost) everything.
    whole = inject(doc)
    assert run([doc[:1], doc[1:]])[0] == whole
    head, body = reference(doc)
    assert whole == (expected(doc, head, body) if body is not None else doc)


def test_fast_path_reads_a_realistic_head_whole() -> None:
    # Not a speed test: the exactness tests above would pass vacuously if the fast path never took a real page.
    first = html_first_chunk._FIRST_BODY.match(PAGE)
    assert first is not None
    assert (first.end(1), first.end(2)) == (PAGE_HEAD_END, PAGE_BODY_END)


# --- HeadCache: a page served again is recognised by its prefix, with the same result -------------------------


def cached(doc: bytes, heads: html_scanner.HeadCache, chunks: int = 1) -> bytes:
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS, limit=heads.limit, heads=heads)
    step = -(-len(doc) // chunks) or 1
    out = b"".join(inj.feed(doc[i : i + step]) for i in range(0, len(doc), step)) + inj.finish()
    assert inj.done
    return out


def test_head_cache_recognises_a_page_served_again() -> None:
    heads = html_scanner.HeadCache(16384, size=3)
    first = cached(PAGE, heads)
    assert first == expected(PAGE, PAGE_HEAD_END, PAGE_BODY_END)
    assert not heads._entries  # seen once: remembered, not cached yet
    assert cached(PAGE, heads) == first and len(heads._entries) == 1  # seen again: cached
    assert heads.find(PAGE) == (PAGE_HEAD_END, PAGE_BODY_END)
    assert cached(PAGE, heads) == first and len(heads._entries) == 1  # found, not added again
    # Same prefix up to the <body> tag, another body: the cached points hold.
    other_body = PAGE[:PAGE_BODY_END] + b"<p>another answer</p></body></html>"
    assert cached(other_body, heads) == expected(other_body, PAGE_HEAD_END, PAGE_BODY_END)
    # A head that differs before the <body> tag (here: the <body> tag hidden in a comment) is read afresh.
    hidden = PAGE[: PAGE_BODY_END - 1] + b"<!-- <body> -->>" + b"<body>x"
    assert cached(hidden, heads) == inject(hidden)
    for i in range(5):  # bounded
        page = PAGE.replace(b"<title>", b"<title>%d " % i)
        assert cached(page, heads) == inject(page)
        assert cached(page, heads) == inject(page)
    assert len(heads._entries) == 3


def test_heads_that_never_repeat_do_not_push_the_repeating_ones_out() -> None:
    # Pages with a per-response token in the head (CSRF, a CSP nonce) are each seen once: they are not cached,
    # so the page served again stays cached however many of them come between, and lookups stay short.
    heads = html_scanner.HeadCache(16384, size=3)
    cached(PAGE, heads)
    cached(PAGE, heads)
    for i in range(50):
        page = PAGE.replace(b"<title>", b"<title>token %08d " % i)
        assert cached(page, heads) == inject(page)
    assert [prefix for prefix, _, _ in heads._entries] == [PAGE[:PAGE_BODY_END]]
    assert heads.find(PAGE) == (PAGE_HEAD_END, PAGE_BODY_END)
    assert len(heads._seen_once) <= 4 * 3  # bounded too


def test_head_cache_of_another_limit_is_not_used() -> None:
    heads = html_scanner.HeadCache(16384)
    cached(PAGE, heads)
    # A limit the cached prefix exceeds: the injector must give up as without the cache.
    inj = HtmlInjector(head_snippet=HS, body_snippet=BS, limit=64, heads=heads)
    assert inj.feed(PAGE) + inj.finish() == PAGE and not inj.injected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(st.lists(st.sampled_from(WELL_FORMED), max_size=20).map(b"".join), min_size=1, max_size=6),
    tails=st.lists(st.sampled_from(WELL_FORMED), max_size=6).map(b"".join),
    chunks=st.integers(min_value=1, max_value=3),
)
def test_head_cache_never_changes_the_result(docs: list[bytes], tails: bytes, chunks: int) -> None:
    # Each document, then the same with more bytes after it (the prefix a cache entry holds, then anything),
    # through one shared cache: every result equals the uncached scanner's.
    heads = html_scanner.HeadCache(16384, size=4)
    for doc in docs + [doc + tails for doc in docs] + docs:
        assert cached(doc, heads, chunks) == inject(doc)


def test_heads_that_share_their_start_are_matched_from_it() -> None:
    # Pages whose head differs per response (a token in the title, a meta tag, a script nonce, a comment) share
    # what comes before the token: the cache keeps that start, and later pages are read from its end. Every
    # result equals the uncached scanner's, wherever the token is.
    places = [b"<title>", b'content="width=', b'<script type="', b"<!-- analytics", b"<head>", b"<link rel"]
    for place in places:
        heads = html_scanner.HeadCache(16384, size=3)
        at = PAGE.index(place) + len(place)
        pages = [PAGE[:at] + b"token%06d" % i + PAGE[at:] for i in range(6)]
        for page in pages:
            assert cached(page, heads) == inject(page), place
        assert heads._starts, place  # the pages did share a start (else this test proves nothing)
        start, head = heads._starts[0]
        assert pages[0].startswith(start) and len(start) >= html_first_chunk._MIN_START
        assert head == (PAGE_HEAD_END if len(start) >= PAGE_HEAD_END else -1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shared=st.lists(st.sampled_from(WELL_FORMED), min_size=4, max_size=16).map(b"".join),
    rests=st.lists(st.lists(st.sampled_from(WELL_FORMED), max_size=12).map(b"".join), min_size=2, max_size=6),
    chunks=st.integers(min_value=1, max_value=3),
)
def test_shared_starts_never_change_the_result(shared: bytes, rests: list[bytes], chunks: int) -> None:
    # Documents that share a start (cut anywhere: in a tag, a comment, raw text), then differ, through one shared
    # cache and twice each: every result equals the uncached scanner's.
    heads = html_scanner.HeadCache(16384, size=4)
    docs = [shared + rest for rest in rests]
    for doc in docs + docs:
        assert cached(doc, heads, chunks) == inject(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(WELL_FORMED), min_size=4, max_size=16).map(b"".join),
    cut=st.integers(min_value=0),
    tails=st.lists(st.binary(max_size=12) | st.sampled_from([b">", b" >", b"x>", b"\n>", b"-->", b'">']),
                   min_size=3, max_size=5),
    rest=st.lists(st.sampled_from(WELL_FORMED), max_size=8).map(b"".join),
)
def test_shared_starts_cut_at_any_byte_never_change_the_result(parts: bytes, cut: int, tails: list[bytes],
                                                               rest: bytes) -> None:
    # One document cut at any byte (between an end tag's name and its ">", inside a quoted value...), with
    # different bytes spliced in there: joined from whole tokens, the starts above could never end mid-construct.
    shared = parts[: cut % (len(parts) + 1)]
    heads = html_scanner.HeadCache(16384, size=4)
    docs = [shared + tail + rest for tail in tails]
    for doc in docs + docs:
        assert cached(doc, heads) == inject(doc)


@pytest.mark.parametrize(("head", "endings"), [
    (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<title>Hi</title',
     (b"\n></head><body>a", b"\n ></head><body>b", b"x> <body> </title></head><body>c")),
    (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<script>var a = 1;</script',
     (b" ></head><body>a", b" data-x></head><body>b", b'x>document.write("<body>")</script></head><body>c')),
])
def test_a_start_never_ends_where_a_raw_text_end_was_only_peeked_at(head: bytes, endings: tuple[bytes, ...]) -> None:
    # Two heads share "...<title>Hi</title" and differ before its ">": the raw text's end was seen only by a
    # lookahead past the shared bytes, so the start kept ended inside the title. A third page whose "</titlex>"
    # is still title text then got the banner inside it (found by review; html5lib agrees with `inject`).
    heads = html_scanner.HeadCache(16384)
    for ending in endings:
        assert cached(head + ending, heads) == inject(head + ending)


def test_heads_that_share_no_start_are_searched_only_now_and_then() -> None:
    # Heads sharing only their first bytes (the DOCTYPE, then a token) give no start; the search and the match it
    # costs are then skipped for a growing number of pages (at most 63), and a start is found again after that.
    heads = html_scanner.HeadCache(16384)
    at = PAGE.index(b'lang="en"')
    for i in range(40):
        page = PAGE[:at] + b'data-n="%06d" ' % i + PAGE[at:]
        assert cached(page, heads) == inject(page)
    assert not heads._starts and heads._skip > 0
    at = PAGE.index(b"<title>") + len(b"<title>")
    for i in range(70):
        page = PAGE[:at] + b"token%06d" % i + PAGE[at:]
        assert cached(page, heads) == inject(page)
        if heads._starts:
            break
    assert heads._starts and heads._misses == 0


def test_a_less_than_before_another_is_text_for_the_fast_path() -> None:
    # The first-chunk pattern reads "a << b" as text, as before its rewrite (which left such heads to the exact
    # scanner and out of the head cache: same result, slower).
    from aiact_transparency.asgi.html_first_chunk import _FIRST_BODY

    page = b"<!DOCTYPE html><html><head><title>x</title>a << b<meta x=y></head><body class=a>hi"
    match = _FIRST_BODY.match(page)
    assert match is not None and match.end(2) == page.index(b">hi") + 1
    assert inject(page) == cached(page, html_scanner.HeadCache(16384))
