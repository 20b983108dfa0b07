"""Property tests through TransparencyMiddleware itself (the injector alone is covered in test_html_inject.py).

A raw ASGI app sends a generated body, split anywhere, as separate `http.response.body` messages; the middleware's
output is recorded message by message. Nothing here awaits a real suspension point, so each request is driven
synchronously (one `coro.send(None)`): hundreds of examples run in a second or two.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aiact_transparency import Disclosure, TransparencyConfig, TransparencyMiddleware
from aiact_transparency.config import DisclosureConfig
from aiact_transparency.disclosure.csp import ATTRIBUTES
from aiact_transparency.http_messages import Message, Receive, Scope, Send

from .test_html_scanner import PAGE, PIECES, documents, reference, split

LOOKAHEAD = 256  # the smallest banner.max_lookahead the config allows: generated pages cross it often
CONFIG = TransparencyConfig(
    system={"name": "Acme Studio", "provider": "Acme GmbH"},
    model={"id": "acme/studio-xl"},
    # A DisclosureConfig object, not {"json": True}: that documented spelling fails to load (see
    # test_adversarial_faults.py::test_disclosure_json_key_from_a_file_loads).
    disclosure=DisclosureConfig(json=True),
    banner={"max_lookahead": LOOKAHEAD},
    images={"enabled": False},  # no signer: nothing here needs keys
)
DISCLOSURE = Disclosure(CONFIG)
META = DISCLOSURE.meta_tag
BANNER = DISCLOSURE.banner_html("en", ATTRIBUTES)
NOTICE = DISCLOSURE.event_stream_notice
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Trace:
    """What crossed the middleware: the app's messages in, the server's messages out, and both byte counts
    recorded each time the app's `send` returned."""

    out: list[Message] = field(default_factory=list)
    steps: list[tuple[int, int, int]] = field(default_factory=list)  # (bytes in, bytes out, messages out)

    @property
    def start(self) -> Message:
        return self.out[0]

    @property
    def bodies(self) -> list[Message]:
        return [m for m in self.out if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.bodies)

    def header(self, name: bytes) -> bytes | None:
        values = [v for k, v in self.start["headers"] if k.lower() == name]
        assert len(values) <= 1, (name, values)
        return values[0] if values else None


def drive(coro: Coroutine[Any, Any, None]) -> None:
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise AssertionError("the middleware suspended on a path that should never wait")


def respond(content_type: bytes, chunks: list[bytes], path: str = "/") -> Trace:
    trace = Trace()
    total = sum(map(len, chunks))
    headers = [(b"content-type", content_type)]
    if len(chunks) == 1:
        headers.append((b"content-length", str(total).encode()))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        sent_in = 0
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})
            sent_in += len(chunk)
            trace.steps.append((sent_in, len(trace.body), len(trace.out)))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        trace.out.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    drive(TransparencyMiddleware(app, config=CONFIG)(scope, receive, send))
    return trace


def without_snippets(data: bytes) -> bytes:
    return data.replace(META, b"").replace(BANNER, b"")


def expected_html(doc: bytes) -> bytes:
    head, body = reference(doc)
    if body is None or body > LOOKAHEAD:
        return doc
    if head is None:
        return doc[:body] + BANNER + doc[body:]
    return doc[:head] + META + doc[head:body] + BANNER + doc[body:]


# Pages from the injector's decoy grammar, sometimes padded past the lookahead, sometimes a real page.
padding = st.integers(min_value=0, max_value=600).map(lambda n: b"<p>" + b"x" * n + b"</p>")
small = st.lists(st.sampled_from(PIECES), max_size=4).map(b"".join)  # decoys that may swallow what follows
page_shaped = st.tuples(
    st.sampled_from([b"", b"<!DOCTYPE html>", b"\xef\xbb\xbf<html>"]),
    st.sampled_from([b"<head>", b"<HEAD lang=en>", b""]),
    small,
    st.one_of(st.just(b""), padding),
    st.sampled_from([b"<body>", b"<body class='a>b'>", b"<BODY\n>", b"<body/>"]),
    documents,
).map(b"".join)
html_docs = st.one_of(
    page_shaped,
    page_shaped,
    documents,
    st.tuples(documents, padding, documents).map(b"".join),
    st.just(PAGE),
)
cut_lists = st.lists(st.integers(min_value=0), max_size=16)


# -- HTML ----------------------------------------------------------------------------------------------------


@FAST
@given(doc=html_docs, cuts=cut_lists)
def test_html_any_split_equals_single_chunk_and_differs_only_at_insertion_points(doc: bytes, cuts: list[int]) -> None:
    whole = respond(b"text/html; charset=utf-8", [doc])
    chunks = split(doc, cuts)
    chunked = respond(b"text/html", chunks)
    want = expected_html(doc)
    assert whole.body == want
    assert chunked.body == want
    assert without_snippets(want) == doc
    assert [m["type"] for m in whole.out] == ["http.response.start", "http.response.body"]
    # One message out per message in: the middleware never merges, splits or drops the app's chunks.
    assert len(chunked.bodies) == len(chunks)
    injected = want != doc
    assert whole.header(b"content-length") == str(len(want)).encode()
    if len(chunks) > 1:
        assert chunked.header(b"content-length") is None  # final length unknown when the headers leave
    assert whole.header(b"ai-disclosure") is not None and whole.header(b"link") is not None
    assert whole.header(b"vary") == b"Accept-Language"
    if injected:
        assert whole.body.count(BANNER) == 1 and chunked.body.count(BANNER) == 1


@FAST
@given(doc=html_docs, cuts=cut_lists)
def test_html_held_back_bytes_never_exceed_the_lookahead(doc: bytes, cuts: list[int]) -> None:
    chunks = split(doc, cuts)
    trace = respond(b"text/html", chunks)
    released_before = 0
    for index, (received, _, _) in enumerate(trace.steps):
        released = len(without_snippets(b"".join(m.get("body", b"") for m in trace.bodies[: index + 1])))
        assert released <= received  # nothing invented
        assert received - released <= LOOKAHEAD, (index, received, released)
        assert released >= released_before
        released_before = released
    assert released_before == len(doc)  # everything out by the end


@FAST
@given(doc=html_docs, cuts=cut_lists, rest=st.lists(st.binary(max_size=80), min_size=1, max_size=8))
def test_html_after_the_decision_every_chunk_passes_through_unchanged(
    doc: bytes, cuts: list[int], rest: list[bytes]
) -> None:
    # Once the banner went in (or the lookahead ran out), later app chunks are forwarded byte for byte.
    chunks = [*split(doc, cuts), *rest]
    whole = b"".join(chunks)
    _, body = reference(whole)
    decided_at = body if body is not None and body <= LOOKAHEAD else LOOKAHEAD
    trace = respond(b"text/html", chunks)
    checked = 0
    for index in range(1, len(chunks)):
        if trace.steps[index - 1][0] >= decided_at:
            assert trace.bodies[index]["body"] == chunks[index]
            checked += 1
    assert trace.body == expected_html(whole)
    if len(whole) - len(rest[-1]) >= decided_at:
        assert checked >= 1


# -- SSE -----------------------------------------------------------------------------------------------------

sse_chunks = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.from_regex(rb"(data: [a-z0-9 {}\":]{0,20}\n\n|: ping\n\n|event: x\n|id: 1\n)", fullmatch=True),
    ),
    min_size=1,
    max_size=20,
)


@FAST
@given(chunks=sse_chunks)
def test_sse_notice_exactly_once_first_and_every_chunk_forwarded_immediately(chunks: list[bytes]) -> None:
    assume(not any(b"AI-Disclosure" in c for c in chunks))
    trace = respond(b"text/event-stream; charset=utf-8", chunks)
    assert trace.header(b"content-length") is None
    bodies = trace.bodies
    assert len(bodies) == len(chunks) + 1
    assert bodies[0]["body"] == NOTICE and bodies[0]["more_body"] is True
    assert trace.body.count(b": AI-Disclosure:") == 1 and trace.body.startswith(NOTICE)
    for index, ((received, _, messages_out), chunk) in enumerate(zip(trace.steps, chunks, strict=True)):
        # By the time the app's send returned, its chunk had already gone out as its own message.
        assert messages_out == index + 3  # start + notice + this and every earlier chunk
        out_msg = trace.out[messages_out - 1]
        assert out_msg["body"] == chunk
        assert out_msg["more_body"] == (index < len(chunks) - 1)
        assert received == sum(map(len, chunks[: index + 1]))


# -- JSON ----------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
layouts = st.sampled_from(
    [{}, {"separators": (",", ":")}, {"indent": 2}, {"ensure_ascii": False}, {"indent": "\t", "sort_keys": True}]
)
padding_ws = st.sampled_from([b"", b" ", b"\n", b"\r\n\t "])


def strict_loads(data: bytes) -> Any:
    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data, parse_constant=reject)


@FAST
@given(value=json_values, layout=layouts, lead=padding_ws, trail=padding_ws, cuts=cut_lists)
def test_json_objects_gain_the_member_and_everything_else_is_byte_identical(
    value: Any, layout: dict[str, Any], lead: bytes, trail: bytes, cuts: list[int]
) -> None:
    body = lead + json.dumps(value, **layout).encode() + trail
    for chunks in ([body], split(body, cuts)):
        trace = respond(b"application/json", chunks, path="/api")
        if isinstance(value, dict) and "ai_disclosure" not in value:
            document = strict_loads(trace.body)  # valid JSON, not merely "parses somewhere"
            assert isinstance(document, dict)
            member = document.pop("ai_disclosure")
            assert member["mode"] == "ai-originated" and member["model"] == "acme/studio-xl"
            assert document == value
            assert trace.header(b"content-length") == str(len(trace.body)).encode()
            # Only the member was added: remove it and the original bytes are back.
            assert len(trace.body) > len(body)
        else:
            assert trace.body == body
            assert strict_loads(trace.body) == value


@FAST
@given(data=st.binary(max_size=200), cuts=cut_lists)
def test_json_random_bytes_are_byte_identical(data: bytes, cuts: list[int]) -> None:
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    assume(not isinstance(parsed, dict))
    for chunks in ([data], split(data, cuts)):
        assert respond(b"application/json", chunks, path="/api").body == data


@FAST
@given(
    value=st.dictionaries(st.text(max_size=6), json_scalars, max_size=4),
    garbage=st.sampled_from([b"}", b",", b"{", b" x", b"\x00", b"]", b'"', b"\xff", b"{}"]),
)
def test_json_almost_objects_are_left_alone(value: dict[str, Any], garbage: bytes) -> None:
    # Trailing junk makes the body invalid: the middleware must not "repair" it into something else.
    body = json.dumps(value).encode() + garbage
    assert respond(b"application/json", [body], path="/api").body == body
