"""The scanner against html5lib, a real WHATWG tokenizer driven by a real tree builder (tests/whatwg.py): for
generated documents cut at random chunk boundaries, the banner goes in exactly where html5lib's first <body>
start tag token ends, or nowhere when html5lib sees none.

The hand-written reference in test_html_inject.py shares the scanner's reading of the standard; this one
cannot: whatever the scanner assumes about comments, CDATA, declarations or raw text, html5lib decides.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiact_transparency.asgi.html_scanner import HtmlInjector
from tests.tools import require_module

require_module("html5lib")

from tests.whatwg import body_tag_end  # noqa: E402

BS = b"\x01[body-snippet]\x01"
RAW = ["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"]

PIECES = [
    # comments, bogus comments, CDATA (a bogus comment in HTML content), doctype, processing instructions
    "<!-- <body> -->", "<!--", "-->", "--!>", "<!-->", "<!--->", "<!---->", "<!-- x --!-->", "<!", "<!-",
    "<![CDATA[", "<![CDATA[ a > b ]]>", "]]>", "<![CDATA[<body>]]>", "<!DOCTYPE html>", '<!DOCTYPE x "<body>">',
    "<!ELEMENT x>", '<?xml version="1.0"?>', "<?php '<body>' ?>", "</ x>", "</>", "</", "<", ">",
    # the tag itself, and near misses
    "<body>", "<BODY class=\"x\" data-x='<body>'>", "<body\n>", "<body/>", "<body", "<bodyfoo>", "<body-x>",
    "<head>", "<html lang=en>", "<p>", "</p>", "<div>", "text ", "&lt;body&gt;",
    # attributes holding '>' and quotes
    '<div data-x="<body>">', "<i a='>' b=\"'\">", '<a b = "x>y" c>', "<a b=c\"d>", '<a ="x>', "<a b=>",
    '<p a="x"b="<body>">', "<a b=c<body>", '<meta a = "x>">', "<a\n'b'=c>",
    # raw text and RCDATA, their end tags and false ends; script data's escaped and double-escaped states
    *(f"<{n}>" for n in RAW), *(f"</{n}>" for n in RAW), *(f"</{n.upper()} >" for n in RAW),
    "</scripts>", "</script", "<script><!--", "<script>", "-->", "<!--<script>", "</script>", "<plaintext>",
    "<script type=module>", "<style media='x>'>",
    # single characters that change states
    '"', "'", "=", " ", "/", "-", "!", "\n", "\t", "[", "]",
]  # fmt: skip

documents = st.lists(st.sampled_from(PIECES), max_size=30).map(lambda parts: "".join(parts).encode("ascii"))


def run(doc: bytes, cuts: list[int], limit: int) -> bytes:
    points = sorted({c % (len(doc) + 1) for c in cuts})
    chunks = [doc[a:b] for a, b in zip([0, *points], [*points, len(doc)], strict=True)]
    inj = HtmlInjector(head_snippet=b"", body_snippet=BS, limit=limit)
    out = b"".join(inj.feed(chunk) for chunk in chunks) + inj.finish()
    assert inj.done
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents, cuts=st.lists(st.integers(min_value=0), max_size=10), limit=st.sampled_from([16, 16384]))
@example(doc=b"<![CDATA[ a > <body> ]]>", cuts=[], limit=16384)
@example(doc=b"<script><!--<script></script><body>--></script><body>x", cuts=[20], limit=16384)
def test_banner_goes_where_html5lib_ends_the_body_tag(doc: bytes, cuts: list[int], limit: int) -> None:
    end = body_tag_end(doc)
    out = run(doc, cuts, limit)
    if end is not None and end <= limit:
        assert out == doc[:end] + BS + doc[end:]
    else:
        assert out == doc


@pytest.mark.parametrize(
    ("doc", "end_marker"),
    [
        (b"<![CDATA[x><body>]]><body>", b"<![CDATA[x><body>"),  # a bogus comment in HTML: ends at the first ">"
        (b"<script><!--<script></script><body>--></script><body>x", b"--></script><body>"),
    ],
)
def test_html5lib_reference_itself(doc: bytes, end_marker: bytes) -> None:
    # The reference must tell these apart, or the property above proves nothing about them.
    assert body_tag_end(doc) == doc.index(end_marker) + len(end_marker)
