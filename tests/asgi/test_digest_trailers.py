"""Digests in HTTP trailers (RFC 9530 §2 allows Content-Digest there), sent through the ASGI HTTP Trailers
extension: a responder that changes the body passes the app's trailers on without them (the rest kept), once,
after its one start; a response passed through unchanged keeps them, still matching the bytes sent. Driven
without a server: httpx's ASGITransport drops trailers, so the messages the server would get are read here."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Message, Receive, Scope, Send

from ..samples import image_bytes
from ..tools import http_scope, require_module, run_app
from .openai_app import answer, chat_stream_events
from .test_digests import FRAGMENT, PAGE, config

pytestmark = pytest.mark.anyio
http_sf = require_module("http_sf")

TRAILERS = "http.response.trailers"
OTHER = (b"server-timing", b"app;dur=12")  # a trailer that is not a digest: it stays


def trailer_fields(body: bytes) -> list[tuple[bytes, bytes]]:
    sha256 = hashlib.sha256(body).digest()
    return [(b"content-digest", http_sf.ser({"sha-256": (sha256, {})}).encode()),
            (b"content-md5", base64.b64encode(hashlib.md5(body).digest())), OTHER]


def app_with_trailers(content_type: bytes, chunks: list[bytes], *headers: tuple[bytes, bytes],
                      settings: TransparencyConfig | None = None) -> TransparencyMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert TRAILERS in scope["extensions"]  # an app sends trailers only where the server takes them
        start = [(b"content-type", content_type), (b"trailer", b"content-digest, content-md5, server-timing"), *headers]
        await send({"type": "http.response.start", "status": 200, "headers": start, "trailers": True})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})
        await send({"type": TRAILERS, "headers": trailer_fields(b"".join(chunks)), "more_trailers": False})

    return TransparencyMiddleware(app, config=settings or config())


async def sent_through(middleware: TransparencyMiddleware, path: str) -> tuple[bytes, Message]:
    """The body the server got and the trailers message that ended the response (checked: one start first,
    announcing trailers, and nothing after them)."""
    sent = await run_app(middleware, http_scope(path, extensions={TRAILERS: {}}))
    assert [m["type"] for m in sent].count("http.response.start") == 1 and sent[0].get("trailers") is True
    assert sent[-1]["type"] == TRAILERS and all(m["type"] == "http.response.body" for m in sent[1:-1])
    return b"".join(m.get("body", b"") for m in sent[1:-1]), sent[-1]


CHANGED = {
    "/page": (b"text/html", [PAGE[:40], PAGE[40:]], ()),
    "/events": (b"text/event-stream", [b"data: one\n\n", b"data: two\n\n"], ()),
    "/api/object": (b"application/json", [b'{"total": 3}'], ()),
    "/v1/chat/stream": (b"text/event-stream", chat_stream_events({"model": "m"}), ()),
    "/v1/text": (b"text/plain; charset=utf-8", [answer(0).encode()], ()),
    "/images/picture.png": (b"image/png", [image_bytes("png")], ()),
    "/gzip-page": (b"text/html", [gzip.compress(PAGE)], ((b"content-encoding", b"gzip"),)),  # coded.py
    # Only coded.py changes these bytes (the member responder leaves a list as it is): compressed again
    "/gzip-list": (b"application/json", [gzip.compress(b"[1, 2, 3]", compresslevel=1, mtime=1)],
                   ((b"content-encoding", b"gzip"),)),
}
# A response of the same kind of route that goes out as the app sent it.
UNCHANGED = {
    "/fragment": (b"text/html", FRAGMENT),  # the banner responder, nothing inserted
    "/api/list": (b"application/json", json.dumps([1, 2, 3]).encode()),  # the member responder: not an object
    "/v1/latin1": (b"text/plain; charset=latin-1", "café".encode("latin-1")),  # a text route, no responder
    "/images/style.css": (b"text/css", b"img { width: 100% }"),  # a media route, no responder
    "/style.css": (b"text/css", b"p { color: red }"),
}
PAIRS = [("/page", "/fragment"), ("/events", "/style.css"), ("/api/object", "/api/list"),
         ("/v1/chat/stream", "/v1/latin1"), ("/v1/text", "/v1/latin1"), ("/images/picture.png", "/images/style.css"),
         ("/gzip-page", "/fragment"), ("/gzip-list", "/api/list")]


@pytest.mark.parametrize(("changed", "kept"), PAIRS)
async def test_trailers_lose_the_apps_digests_exactly_when_the_body_changed(changed: str, kept: str) -> None:
    content_type, chunks, headers = CHANGED[changed]
    body, trailers = await sent_through(app_with_trailers(content_type, chunks, *headers), changed)
    assert body != b"".join(chunks)
    assert trailers["headers"] == [OTHER] and trailers["more_trailers"] is False

    content_type, original = UNCHANGED[kept]
    body, trailers = await sent_through(app_with_trailers(content_type, [original[:10], original[10:]]), kept)
    assert body == original and trailers["headers"] == trailer_fields(original)
    digest = http_sf.parse(dict(trailers["headers"])[b"content-digest"], tltype="dictionary")
    assert digest["sha-256"][0] == hashlib.sha256(body).digest()


async def test_a_chat_stream_without_the_event_stream_notice_loses_them_for_its_text_wrappers() -> None:
    # The notice alone would change the body; without it, only the C2PA text wrappers do (chat.py).
    settings = TransparencyConfig(system={"name": "Acme", "provider": "Acme GmbH"},
                                  disclosure={"routes": [{"path": "/v1/*", "text": "c2pa", "event_stream": False}]})
    chunks = chat_stream_events({"model": "m"})
    body, trailers = await sent_through(app_with_trailers(b"text/event-stream", chunks, settings=settings),
                                        "/v1/chat/stream")
    assert body != b"".join(chunks) and not body.startswith(b":")  # wrapped, and no notice comment first
    assert trailers["headers"] == [OTHER]
