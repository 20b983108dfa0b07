"""The chat responder's documented outcomes for odd streams and bodies, driven without a server.

Every outcome is checked against the bytes the app sent: either the same bytes plus whole wrapper events
(which verify), or the same bytes exactly, with a log line saying why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from itertools import pairwise
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Message, Receive, Scope, Send
from aiact_transparency.provenance.text.c2pa_text import strip_c2pa_text
from aiact_transparency.provenance.text.marking import TextMarker, mark_text, verify_text

from ..tools import headers_of, http_scope, run_app
from .openai_app import answer, chat_stream_events, completion_stream_events

SYSTEM = {"name": "Acme Chat", "provider": "Acme GmbH"}
NOTICE_END = b"/.well-known/ai-disclosure\n\n"


def text_config() -> TransparencyConfig:
    return TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/v1/*", "text": "c2pa"}]})


def app_sending(bodies: list[bytes], content_type: bytes = b"text/event-stream"
                ) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        for i, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body, "more_body": i < len(bodies) - 1})
        if not bodies:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def run(bodies: list[bytes], content_type: bytes = b"text/event-stream",
              middleware: TransparencyMiddleware | None = None) -> bytes:
    app = app_sending(bodies, content_type)
    if middleware is None:
        middleware = TransparencyMiddleware(app, config=text_config())
    else:
        middleware.app = app
    sent = await run_app(middleware, http_scope("/v1/chat/completions"))
    return b"".join(m.get("body", b"") for m in sent[1:])


def events_of(raw: bytes) -> list[bytes]:
    """An independent, minimal SSE reader: LF-separated events, their joined data lines."""
    out = []
    for block in raw.split(b"\n\n"):
        data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
        if data:
            out.append(b"\n".join(data))
    return out


def texts_of(raw: bytes) -> dict[int, str]:
    texts: dict[int, str] = {}
    for data in events_of(raw):
        if data == b"[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            piece = choice["text"] if "text" in choice else choice["delta"].get("content")
            texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    return texts


def without_wrapper_events(raw: bytes) -> bytes:
    return b"".join(block + b"\n\n" for block in raw.split(b"\n\n")[:-1] if "\ufeff".encode() not in block)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


def foreign_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The answer marked by another system, with its own development chain."""
    with monkeypatch.context() as env:
        env.setenv("AIACT_KEYS_DIR", str(tmp_path / "other-keys"))
        other = TransparencyConfig(system={"name": "Other", "provider": "Other Ltd"})
        return TextMarker(other).mark(answer(0)).text


CHAT = b"".join(chat_stream_events({"model": "m", "n": 2}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=st.lists(st.integers(min_value=1, max_value=len(CHAT) - 1), max_size=40))
def test_any_chunking_yields_the_same_wrapper_covered_texts(points: list[int]) -> None:
    # Cuts land anywhere: inside a UTF-8 sequence, a JSON string, the blank line between events.
    raw = anyio.run(run, cut(CHAT, points))
    assert raw.startswith(b": AI-Disclosure: ")  # the notice first, then the chunks
    body = raw[raw.index(NOTICE_END) + len(NOTICE_END):]
    assert without_wrapper_events(body) == CHAT  # the app's bytes, all of them, in order
    texts = texts_of(body)
    assert sorted(texts) == [0, 1]
    for index, text in texts.items():
        assert strip_c2pa_text(text) == answer(index)
        assert verify_text(text).valid


@pytest.mark.anyio
async def test_a_stream_without_final_chunk_or_done_gets_its_wrapper_at_the_end(
        caplog: pytest.LogCaptureFixture) -> None:
    events = [e for e in chat_stream_events({"model": "m"}) if b'"finish_reason": "stop"' not in e][:-1]
    with caplog.at_level(logging.INFO, "aiact_transparency"):
        raw = await run(events)
    text = texts_of(raw)[0]
    assert strip_c2pa_text(text) == answer(0) and verify_text(text).valid
    assert events_of(raw)[-1].startswith(b'{"id"') and "\ufeff" in events_of(raw)[-1].decode()
    assert "ended without a final chunk" in caplog.text


@pytest.mark.anyio
async def test_without_finish_reason_the_wrapper_goes_right_before_done() -> None:
    events = [e for e in chat_stream_events({"model": "m"}) if b'"finish_reason": "stop"' not in e]
    data = events_of(await run(events))
    assert data[-1] == b"[DONE]" and "\ufeff" in data[-2].decode()
    assert verify_text(texts_of(b"".join(b"data: " + d + b"\n\n" for d in data[:-1]))[0]).valid


@pytest.mark.anyio
async def test_text_in_the_final_chunk_is_covered_by_a_wrapper_sent_after_it() -> None:
    final = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "end."}, "finish_reason": "stop"}]}
    first = dict(final, choices=[{"index": 0, "delta": {"content": "The "}, "finish_reason": None}])
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in (first, final)] + [b"data: [DONE]\n\n"]
    raw = await run(events)
    text = texts_of(raw)[0]
    assert strip_c2pa_text(text) == "The end." and verify_text(text).valid
    assert events_of(raw)[1] == json.dumps(final).encode()  # the final chunk itself unchanged


@pytest.mark.anyio
@pytest.mark.parametrize("ensure_ascii", [True, False])
async def test_escapes_quotes_and_backslashes_in_pieces_assemble_exactly(ensure_ascii: bool) -> None:
    # Whole one-line events, as servers send them: after the first, pieces are taken without a JSON parse.
    pieces = ["Say ", '"hi"', " back\\", "slash\\", "\n", "é🙂", '"', "\\", "", " end", "\u2028", "x"]
    chunks = [{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": p}, "logprobs": None, "finish_reason": None}]}
              for p in pieces]
    chunks.append({**chunks[0], "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    events = [b"data: " + json.dumps(c, ensure_ascii=ensure_ascii).encode() + b"\n\n" for c in chunks]
    text = texts_of(await run([*events, b"data: [DONE]\n\n"]))[0]
    assert strip_c2pa_text(text) == "".join(pieces) and verify_text(text).valid


@pytest.mark.anyio
async def test_a_chunk_whose_string_would_change_the_structure_is_parsed_in_full() -> None:
    # Same prefix and suffix as the learnt shape, but the middle closes the string and adds a finish_reason.
    first = b'data: {"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]}\n\n'
    sneaky = (b'data: {"choices": [{"index": 0, "delta": {"content": " world", "x": "'
              b'"}, "finish_reason": null}]}\n\n')
    raw = await run([first, first, sneaky, b"data: [DONE]\n\n"])
    text = texts_of(raw)[0]
    assert strip_c2pa_text(text) == "HelloHello world" and verify_text(text).valid


@pytest.mark.anyio
async def test_completions_stream_is_marked_per_choice() -> None:
    raw = await run(completion_stream_events({"model": "m", "n": 2}))
    for index, text in texts_of(raw).items():
        assert strip_c2pa_text(text) == answer(index) and verify_text(text).valid


@pytest.mark.anyio
async def test_a_malformed_json_chunk_makes_the_rest_pass_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    events = chat_stream_events({"model": "m"})
    events.insert(3, b'data: {"choices": [\n\n')
    with caplog.at_level(logging.WARNING, "aiact_transparency"):
        raw = await run(events)
    assert raw[raw.index(NOTICE_END) + len(NOTICE_END):] == b"".join(events)
    assert "is not JSON" in caplog.text


@pytest.mark.anyio
async def test_text_beyond_the_bound_passes_unmarked_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    events = chat_stream_events({"model": "m"})
    middleware = TransparencyMiddleware(app_sending([]), config=text_config())
    assert middleware.text is not None
    middleware.text.max_chars = 20  # the answer is longer
    with caplog.at_level(logging.WARNING, "aiact_transparency"):
        raw = await run(events, middleware=middleware)
    assert raw[raw.index(NOTICE_END) + len(NOTICE_END):] == b"".join(events)
    assert "longer than the bound of 20 characters" in caplog.text


@pytest.mark.anyio
async def test_an_already_marked_stream_gets_no_second_wrapper() -> None:
    config = text_config()
    middleware = TransparencyMiddleware(app_sending([]), config=config)
    marked = mark_text(answer(0), config=config).text  # same config: the same development signer
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": marked}, "finish_reason": None}]}
    events = [b"data: " + json.dumps(chunk).encode() + b"\n\n", b"data: [DONE]\n\n"]
    raw = await run(events, middleware=middleware)
    assert raw[raw.index(NOTICE_END) + len(NOTICE_END):] == b"".join(events)
    assert verify_text(texts_of(raw)[0]).valid


@pytest.mark.anyio
async def test_a_foreign_wrapper_in_a_stream_is_not_followed_by_a_second(
        caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = foreign_text(tmp_path, monkeypatch)
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": foreign}, "finish_reason": None}]}
    events = [b"data: " + json.dumps(chunk).encode() + b"\n\n", b"data: [DONE]\n\n"]
    with caplog.at_level(logging.WARNING, "aiact_transparency"):
        raw = await run(events)
    assert raw[raw.index(NOTICE_END) + len(NOTICE_END):] == b"".join(events)
    assert "a second one would leave neither valid" in caplog.text


@pytest.mark.anyio
async def test_invalid_utf8_text_plain_passes_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    body = "café".encode() + b"\xff\xfe tail"
    with caplog.at_level(logging.WARNING, "aiact_transparency"):
        raw = await run([body[:3], body[3:]], b"text/plain; charset=utf-8")
    assert raw == body
    assert "not valid UTF-8" in caplog.text and "tail" not in caplog.text  # the content is never logged


@pytest.mark.anyio
async def test_text_plain_in_pieces_is_marked_as_one_text() -> None:
    text = answer(0).encode()
    raw = await run([text[:7], text[7:8], text[8:]], b"text/plain")
    assert strip_c2pa_text(raw.decode()) == answer(0) and verify_text(raw.decode()).valid


@pytest.mark.anyio
async def test_a_chat_json_with_a_foreign_wrapper_gets_ours_the_old_one_kept_as_ingredient(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = foreign_text(tmp_path, monkeypatch)
    document = {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                   "content": foreign}}]}
    raw = await run([json.dumps(document).encode()], b"application/json")
    content = json.loads(raw)["choices"][0]["message"]["content"]
    result = verify_text(content)
    assert strip_c2pa_text(content) == answer(0) and result.valid and result.wrappers == 1
    assert result.manifest is not None and "Acme Chat" in (result.manifest.software_agent or "")


@pytest.mark.anyio
async def test_a_client_that_disconnects_mid_stream_stops_it_cleanly() -> None:
    events = chat_stream_events({"model": "m"})
    middleware = TransparencyMiddleware(app_sending(events), config=text_config())
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if len(sent) == 4:
            raise OSError("client went away")  # what a server's send raises once the socket is closed
        sent.append(message)

    with pytest.raises(OSError, match="client went away"):
        await middleware(http_scope("/v1/chat/completions"), receive, send)
    # The next response on the same middleware is marked as usual: nothing was left half-held.
    raw = await run(events, middleware=middleware)
    assert verify_text(texts_of(raw)[0]).valid


@pytest.mark.anyio
async def test_head_on_a_text_route_does_not_announce_the_unmarked_length() -> None:
    # RFC 9110 §8.6 / §9.3.2: GET appends the wrapper, so HEAD may not send the app's length or strong ETag.
    body = answer(0).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   (b"etag", b'"v1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    middleware = TransparencyMiddleware(app, config=text_config())
    get = headers_of((await run_app(middleware, http_scope("/v1/a")))[0])
    head = headers_of((await run_app(middleware, http_scope("/v1/a", "HEAD")))[0])
    assert int(get[b"content-length"][0]) > len(body) and b"content-length" not in head
    assert head[b"etag"] == get[b"etag"] == [b'W/"v1"']


def test_the_text_service_signs_with_the_media_service_s_signer() -> None:
    # One signer load per start: a second would repeat the key checks and their warnings (expiry, dev chain).
    middleware = TransparencyMiddleware(app_sending([]), config=text_config())
    assert middleware.text is not None and middleware.images is not None
    assert middleware.text.marker.signer is middleware.images.marker.signer


def test_the_discovery_document_names_the_text_routes_and_how_to_strip() -> None:
    config = TransparencyConfig(system=SYSTEM, disclosure={"routes": [
        {"path": "/v1/*", "text": "c2pa"}, {"path": "/quiet/*", "text": "c2pa", "mode": "none"}, {"path": "/x"}]})
    text = TransparencyMiddleware(app_sending([]), config=config).discovery.document["marking"]["text"]
    assert text["c2pa_text"] == ["/v1/*"]  # a mode=none route marks nothing as AI-generated
    assert "strip_c2pa_text" in text["how_to_strip"] and "U+FEFF" in text["how_to_strip"]
    assert text["documents"]["watermark"] is False


@pytest.mark.anyio
async def test_a_lone_surrogate_in_one_choice_leaves_it_unmarked_and_the_json_intact(
        caplog: pytest.LogCaptureFixture) -> None:
    # A `\ud800` escape is valid JSON, but the text has no UTF-8 form: that choice cannot be bound.
    body = (b'{"object": "chat.completion", "choices": [{"index": 0, "message": {"content": "bad \\ud800"}}, '
            b'{"index": 1, "message": {"content": ' + json.dumps(answer(1)).encode() + b'}}]}')
    with caplog.at_level(logging.WARNING, "aiact_transparency"):
        raw = await run([body], b"application/json")
    choices = json.loads(raw)["choices"]
    assert choices[0]["message"]["content"] == "bad \ud800" and "unpaired surrogate" in caplog.text
    assert strip_c2pa_text(choices[1]["message"]["content"]) == answer(1)
    assert verify_text(choices[1]["message"]["content"]).valid
