"""Cost of HtmlInjector on a realistic 100 KB page streamed in 16 chunks, against a plain pass-through.

Run: .venv/bin/python bench/bench_html_inject.py

No goal of its own (issue 17's are for the whole middleware, bench_middleware.py): its rows go to the table
as context, and show whether the cost follows the head (the <body> tag's position) rather than the page.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from results import record

from aiact_transparency.asgi.html_scanner import HtmlInjector

HEAD_SNIPPET = b'<meta name="ai-disclosure" content="ai-generated"><link rel="stylesheet" href="/_aiact/banner.css">'
BODY_SNIPPET = b'<div class="aiact-banner" role="note">This service uses AI-generated content.</div>'
CHUNKS = 16
ITERATIONS = 3000


def realistic_page(size: int = 100_000, pad_head: int = 0) -> bytes:
    """A modern page: meta tags, preloads, inline style and JSON config in <head>, then a long body."""
    head = [
        b'<!DOCTYPE html>\n<html lang="en" class="no-js">\n<head>\n<meta charset="utf-8">\n',
        b'<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        b"<title>Assistant &middot; Demo</title>\n",
        *(b'<link rel="preload" href="/assets/chunk-%d.js" as="script" crossorigin>\n' % i for i in range(12)),
        *(b'<meta property="og:field%d" content="Some value with &lt;markup&gt; %d">\n' % (i, i) for i in range(8)),
        b"<!-- build 2024-06-01, <body> injected by the server -->\n",
        b"<style>:root{--bg:#fff}body>.app{display:grid;grid-template-columns:1fr 3fr}"
        + b".msg::before{content:'>'}" * 40
        + b"</style>\n",
        b'<script type="application/json" id="config">{"api":"/api","html":"<body class=\\"x\\">"}</script>\n',
        b'<script type="module" src="/assets/index.js"></script>\n',
        b"<script>if (a < b && c > d) { window.__boot = 1; }</script>\n",
        b"x" * pad_head,
        b"</head>\n",
        b'<body class="app theme-dark" data-page="chat">\n',
    ]
    page = b"".join(head)
    para = b'<div class="msg"><p>Answer with <a href="/x?a=1&amp;b=2">a link</a> and <code>code</code>.</p></div>\n'
    page += para * ((size - len(page)) // len(para) + 1)
    return page[:size]


def split(page: bytes, n: int) -> list[bytes]:
    step = -(-len(page) // n)
    return [page[i : i + step] for i in range(0, len(page), step)]


def baseline(chunks: list[bytes]) -> int:
    out = [chunk for chunk in chunks]  # what a pass-through send loop does with the chunks
    return len(out)


def injected(chunks: list[bytes]) -> int:
    inj = HtmlInjector(head_snippet=HEAD_SNIPPET, body_snippet=BODY_SNIPPET)
    out = [inj.feed(chunk) for chunk in chunks]
    out.append(inj.finish())
    return len(out)


def median_ns(fn: Callable[[list[bytes]], int], chunks: list[bytes]) -> float:
    samples = []
    for _ in range(ITERATIONS):
        t0 = time.perf_counter_ns()
        fn(chunks)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def report(label: str, page: bytes) -> None:
    chunks = split(page, CHUNKS)
    inj = HtmlInjector(head_snippet=HEAD_SNIPPET, body_snippet=BODY_SNIPPET)
    out = b"".join(inj.feed(c) for c in chunks) + inj.finish()
    assert out.replace(HEAD_SNIPPET, b"").replace(BODY_SNIPPET, b"") == page
    body_at = out.find(BODY_SNIPPET) - len(HEAD_SNIPPET) if inj.injected else -1
    median_ns(injected, chunks)  # warm-up
    base = median_ns(baseline, chunks)
    with_inj = median_ns(injected, chunks)
    record(f"HtmlInjector alone, {label}", (with_inj - base) / 1000, "us/page", goal="(context)",
           baseline=f"pass-through {base / 1000:.2f} us", passed=None, issue="17")
    print(
        f"{label:<34} {len(page) / 1000:.0f} KB, inserted at {body_at:>6}: "
        f"baseline {base / 1000:7.2f} us  injector {with_inj / 1000:7.2f} us  "
        f"added {(with_inj - base) / 1000:7.2f} us  ratio {with_inj / base:6.1f}x"
    )


def main() -> None:
    print(f"{CHUNKS} chunks per page, median of {ITERATIONS} runs (time.perf_counter_ns)")
    # A yardstick for comparing numbers across machines: pure interpreter speed.
    yardstick = median_ns(lambda _: sum(range(1000)), [])
    print(f"machine yardstick: sum(range(1000)) takes {yardstick / 1000:.1f} us here")
    report("common: <body> in the first chunk", realistic_page())
    report("<body> in the third chunk", realistic_page(pad_head=10_000))
    report("gives up: no <body> in 16 KB", realistic_page(pad_head=20_000))


if __name__ == "__main__":
    main()
