"""A small OpenAI-compatible app (Starlette): real-shaped chat.completion(.chunk) and text_completion objects.

Streams and not, n choices, tool calls; the answers are fixed per choice so tests know the visible text.
Field sets follow the OpenAI API reference for the Chat Completions and (legacy) Completions endpoints.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

CREATED = 1_764_576_000


def answer(index: int) -> str:
    # Non-ASCII on purpose: pieces split inside it must still assemble to the signed text.
    return f"Choice {index}: the café opens at 9 — prices in € 🙂, 東京 too.\nSecond line."


def pieces(text: str, size: int = 5) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _tool_call(index: int) -> dict[str, Any]:
    return {"id": f"call_{index}", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    choices = []
    for i in range(body.get("n", 1)):
        if body.get("tools"):
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [_tool_call(i)]}
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": answer(i), "refusal": None}
            finish = "stop"
        choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": finish})
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": CREATED, "model": body["model"],
            "system_fingerprint": "fp_test", "choices": choices,
            "usage": {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}}


def _chunk(model: str, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    chunk: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": CREATED,
                             "model": model, "system_fingerprint": "fp_test", "choices": choices}
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def chat_stream_events(body: dict[str, Any]) -> list[bytes]:
    """The events of a streamed answer, n choices interleaved, as an OpenAI server sends them."""
    model, n, tools = body["model"], body.get("n", 1), bool(body.get("tools"))
    events = [_chunk(model, [{"index": i, "delta": {"role": "assistant", "content": "" if not tools else None},
                              "logprobs": None, "finish_reason": None}]) for i in range(n)]
    if tools:
        for i in range(n):
            call = {"index": 0, **_tool_call(i)}
            events.append(_chunk(model, [{"index": i, "delta": {"tool_calls": [call]}, "logprobs": None,
                                          "finish_reason": None}]))
    else:
        parts = [pieces(answer(i)) for i in range(n)]
        for step in range(max(map(len, parts))):
            for i in range(n):
                if step < len(parts[i]):
                    events.append(_chunk(model, [{"index": i, "delta": {"content": parts[i][step]},
                                                  "logprobs": None, "finish_reason": None}]))
    for i in range(n):
        events.append(_chunk(model, [{"index": i, "delta": {}, "logprobs": None,
                                      "finish_reason": "tool_calls" if tools else "stop"}]))
    if body.get("stream_options", {}).get("include_usage"):
        events.append(_chunk(model, [], {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}))
    return [*events, b"data: [DONE]\n\n"]


def completion_stream_events(body: dict[str, Any]) -> list[bytes]:
    def chunk(index: int, text: str, finish: str | None) -> bytes:
        obj = {"id": "cmpl-test", "object": "text_completion", "created": CREATED, "model": body["model"],
               "choices": [{"index": index, "text": text, "logprobs": None, "finish_reason": finish}]}
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    n = body.get("n", 1)
    events = [chunk(i, piece, None) for i in range(n) for piece in pieces(answer(i))]
    return [*events, *(chunk(i, "", "stop") for i in range(n)), b"data: [DONE]\n\n"]


async def _stream(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    if body.get("stream"):
        return StreamingResponse(_stream(chat_stream_events(body)), media_type="text/event-stream")
    return JSONResponse(_completion(body))


async def completions(request: Request) -> Response:
    body = await request.json()
    if body.get("stream"):
        return StreamingResponse(_stream(completion_stream_events(body)), media_type="text/event-stream")
    choices = [{"index": i, "text": answer(i), "logprobs": None, "finish_reason": "stop"}
               for i in range(body.get("n", 1))]
    return JSONResponse({"id": "cmpl-test", "object": "text_completion", "created": CREATED,
                         "model": body["model"], "choices": choices,
                         "usage": {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}})


async def plain(request: Request) -> Response:
    return PlainTextResponse(answer(0))


app = Starlette(routes=[
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/plain", plain),
    Route("/other/chat/completions", chat_completions, methods=["POST"]),
])
