"""A chat answer marked by the middleware is attributed to this system by the detector (the C2PA text layer)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, strip_c2pa_text
from aiact_transparency.detection.local import Detector
from aiact_transparency.http_messages import Receive, Scope, Send

from ..asgi.openai_app import answer, chat_stream_events
from ..tools import http_scope, run_app

pytestmark = pytest.mark.anyio

CONFIG = {"system": {"name": "Acme Chat", "provider": "Acme GmbH"},
          "disclosure": {"routes": [{"path": "/v1/*", "text": "c2pa"}]}}


def app_sending(content_type: bytes, bodies: list[bytes]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        for i, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body, "more_body": i < len(bodies) - 1})

    return app


async def test_a_marked_chat_answer_is_generated_by_this_system() -> None:
    config = TransparencyConfig(**CONFIG)
    document = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer(0)},
                             "finish_reason": "stop"}]}
    middleware = TransparencyMiddleware(app_sending(b"application/json", [json.dumps(document).encode()]),
                                        config=config)
    sent = await run_app(middleware, http_scope("/v1/chat/completions"))
    content = json.loads(sent[1]["body"])["choices"][0]["message"]["content"]
    result = Detector(config).detect_text(content)
    assert result.verdict == "generated-by-this-system", result.explanation
    assert result.layers["c2pa"]["valid"] is True
    # Stripped, the same text carries nothing: the verdict rested on the wrapper alone.
    assert Detector(config).detect_text(strip_c2pa_text(content)).verdict == "not-detected"


async def test_a_streamed_answer_assembled_from_its_deltas_is_generated_by_this_system() -> None:
    config = TransparencyConfig(**CONFIG)
    middleware = TransparencyMiddleware(app_sending(b"text/event-stream", chat_stream_events({"model": "m"})),
                                        config=config)
    raw = b"".join(m.get("body", b"") for m in (await run_app(middleware, http_scope("/v1/chat/completions")))[1:])
    text = ""
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: {"):
            for choice in json.loads(block[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    assert strip_c2pa_text(text) == answer(0)
    assert Detector(config).detect_text(text).verdict == "generated-by-this-system"
