"""Regression tests for defects found in a review of the middleware, responders, config and serialisers."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import numpy as np
import pytest
from PIL import Image

from aiact_transparency import ConfigError, TransparencyConfig, TransparencyMiddleware, load_config, verify
from aiact_transparency.asgi.messages import Message, Receive, Scope, Send
from aiact_transparency.disclosure import Disclosure
from aiact_transparency.disclosure.structured_fields import StructuredFieldError, sf_dictionary, sf_string, sf_token

from .tools import http_scope

pytestmark = pytest.mark.anyio

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


def scope_for(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return http_scope(path, method, headers)


async def run(app: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def headers_of(start: Message) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for key, value in start["headers"]:
        out.setdefault(bytes(key).lower(), []).append(bytes(value))
    return out


# -- RFC 9651 serialisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Acme\n", "Acme\r\n"])
def test_sf_string_rejects_a_trailing_line_break(value: str) -> None:
    # Python's `$` also matches before a trailing "\n": the check let a header-splitting value through.
    with pytest.raises(StructuredFieldError):
        sf_string(value)


def test_sf_token_and_key_reject_a_trailing_line_break() -> None:
    with pytest.raises(StructuredFieldError):
        sf_token("ai-originated\n")
    with pytest.raises(StructuredFieldError):
        sf_dictionary([("mode\n", "x")])


# -- route patterns ----------------------------------------------------------------------------------------


def test_route_glob_matches_paths_with_a_decoded_line_break() -> None:
    # ASGI paths are percent-decoded: "/private/a%0Ab" arrives as "/private/a\nb". '*' must still match it,
    # or a request escapes its route rule (here: the mode=none rule) by adding %0A to the path.
    config = TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/private/*", "mode": "none"}]})
    disclosure = Disclosure(config)
    assert disclosure.policy_for("/private/a").mode == "none"
    assert disclosure.policy_for("/private/a\nb").mode == "none"
    # And an exact pattern must not match the same path with a trailing line break.
    exact = Disclosure(TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/x", "mode": "none"}]}))
    assert exact.policy_for("/x\n").mode != "none"


# -- config error messages ---------------------------------------------------------------------------------


def test_route_policy_cache_does_not_keep_long_paths() -> None:
    # The cache was keyed by the full path: 4096 distinct 16 KB paths pinned 66 MB. Measured: what stays
    # allocated once the caller has dropped its paths is what the cache keeps.
    config = TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/api/*", "json": True}]})
    disclosure = Disclosure(config)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(300):
            assert disclosure.policy_for(f"/api/{n:05d}" + "a" * (16 << 10)).json_body
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 300 * 1024, f"{kept} bytes kept after 300 paths of 16 KB"


def test_config_error_names_a_settable_environment_variable_for_list_items(tmp_path: Path) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text("disclosure:\n  routes:\n    - path: nope\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "disclosure.routes[0].path" in message
    # A list item cannot be set on its own from the environment: the variable is the whole list.
    assert "AIACT_DISCLOSURE__ROUTES__PATH" not in message
    assert "AIACT_DISCLOSURE__ROUTES]" in message


# -- HEAD on body-changing routes --------------------------------------------------------------------------


def html_app(body: bytes) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"etag", b'"v1"'),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


async def test_head_on_a_banner_route_does_not_announce_the_unbannered_length() -> None:
    # RFC 9110 §8.6: a HEAD response's Content-Length, if sent, must equal what GET would send. GET adds the
    # banner, so the app's length (of the page without it) must not go out on HEAD; nor its strong ETag.
    page = b"<html><head><title>t</title></head><body><p>hi</p></body></html>"
    app = TransparencyMiddleware(html_app(page), config=TransparencyConfig(system=SYSTEM))
    get = headers_of((await run(app, scope_for("/")))[0])
    head = headers_of((await run(app, scope_for("/", "HEAD")))[0])
    assert int(get[b"content-length"][0]) > len(page)
    assert head.get(b"content-length", get[b"content-length"]) == get[b"content-length"]
    assert head[b"etag"] == get[b"etag"] == [b'W/"v1"']
    assert b"Accept-Language" in b",".join(head.get(b"vary", []))


# -- event streams -----------------------------------------------------------------------------------------


async def test_event_stream_with_a_strong_etag_is_weakened() -> None:
    # The notice line changes the body, so a strong validator of the app's bytes cannot stay (RFC 9110 §8.8.3).
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"etag", b'"s1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: x\n\n"})

    middleware = TransparencyMiddleware(app, config=TransparencyConfig(system=SYSTEM))
    sent = await run(middleware, scope_for("/chat"))
    assert headers_of(sent[0])[b"etag"] == [b'W/"s1"']


# -- JSON member -------------------------------------------------------------------------------------------


async def test_json_member_is_not_spliced_into_a_utf16_body() -> None:
    # json.loads(bytes) auto-detects UTF-16; splicing ASCII bytes into it would corrupt the document.
    body = '{"a": 1}'.encode("utf-16-le")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json; charset=utf-16le")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = TransparencyConfig(system=SYSTEM, disclosure={"json": True})
    sent = await run(TransparencyMiddleware(app, config=config), scope_for("/api"))
    assert b"".join(m.get("body", b"") for m in sent[1:]) == body


# -- image queue bound -------------------------------------------------------------------------------------


async def test_image_bodies_held_are_bounded_by_workers_and_queue() -> None:
    # Responses were counted only once their whole body was in: 40 streamed images with workers=1, max_queue=0
    # were all buffered (31.5 MB) before 39 got 503. Now a response holds its slot from its first message, so
    # at most (workers + max_queue) bodies are ever held. Real streaming, real marking, memory measured.
    config = TransparencyConfig(system=SYSTEM, images={"workers": 1, "max_queue": 0})
    image = _noise_png(512)  # ~0.8 MB that PNG cannot compress
    count, chunk = 6, 64 * 1024
    parked = 0
    gate = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal parked
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        last = len(image) - chunk
        for offset in range(0, last, chunk):  # slices are fresh bytes objects: tracemalloc sees what is kept
            body = image[offset : min(offset + chunk, last)]
            await send({"type": "http.response.body", "body": body, "more_body": True})
        parked += 1
        await gate.wait()
        await send({"type": "http.response.body", "body": image[last:]})

    middleware = TransparencyMiddleware(app, config=config)
    results: list[list[Message]] = []

    async def one() -> None:
        results.append(await run(middleware, scope_for("/gen.png")))

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
            while parked < count:  # every app has sent all but its last chunk
                await anyio.sleep(0.01)
            held = tracemalloc.get_traced_memory()[0] - baseline
            tracemalloc.stop()
            gate.set()
    finally:
        tracemalloc.stop()
    assert held < 2 * len(image), f"{held} bytes held for {count} images of {len(image)} bytes"
    statuses = sorted(sent[0]["status"] for sent in results)
    assert statuses == [200] + [503] * (count - 1)
    marked = next(sent for sent in results if sent[0]["status"] == 200)
    assert verify(b"".join(m.get("body", b"") for m in marked[1:]), config=config).marked
    assert middleware.images is not None and middleware.images.waiting == 0


async def test_an_app_that_fails_mid_image_gives_its_place_back() -> None:
    config = TransparencyConfig(system=SYSTEM, images={"workers": 1, "max_queue": 0})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        await send({"type": "http.response.body", "body": b"\x89PNG", "more_body": True})
        raise RuntimeError("the generator crashed")

    middleware = TransparencyMiddleware(app, config=config)
    assert middleware.images is not None
    for _ in range(2):  # the second would get 503 if the first had kept the only place
        with pytest.raises(RuntimeError, match="crashed"):
            await run(middleware, scope_for("/gen.png"))
        assert middleware.images.waiting == 0


def _noise_png(side: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()
