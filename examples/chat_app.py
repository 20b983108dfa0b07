"""A FastAPI chat service in front of a (fake) LLM, made transparent with one middleware line.

Run: ``python examples/chat_app.py`` (or ``make demo`` for everything). The fake model streams tokens
with the OpenAI chat-completions wire format, so the OpenAI SDK and curl work against it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel

from aiact_transparency import TransparencyMiddleware, load_config

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme chat demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main style="max-width:40rem;margin:2rem auto;font-family:system-ui,sans-serif">
<h1>Chat with a (fake) model</h1>
<p>The banner above was added by the middleware, in your browser's language.</p>
<form id="f"><input id="q" value="Tell me about the AI Act" size="40"> <button>Send</button></form>
<pre id="out" style="white-space:pre-wrap"></pre>
</main>
<script>
document.getElementById("f").onsubmit = async (e) => {
  e.preventDefault();
  const out = document.getElementById("out"); out.textContent = "";
  const r = await fetch("/v1/chat/completions", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({model: "fake", stream: true, messages: [{role: "user", content: q.value}]})});
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) { const {value, done} = await reader.read(); if (done) break;
    for (const line of value.split("\\n")) if (line.startsWith("data: {"))
      out.textContent += JSON.parse(line.slice(6)).choices[0].delta.content || ""; }
};
</script>
</body></html>
"""


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str = "fake"
    messages: list[Message]
    stream: bool = False


def fake_tokens(prompt: str) -> list[str]:
    reply = f"You asked: {prompt!r}. I am a stand-in model that streams words, one at a time, for the demo."
    return [word + " " for word in reply.split()]


def chunk(completion_id: str, content: str | None, finish: str | None = None) -> str:
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake",
        "choices": [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n"


router = APIRouter()
TOKEN_DELAY = 0.03  # seconds between streamed tokens: slow enough to watch the stream arrive


@router.get("/", response_class=HTMLResponse)
async def index() -> str:
    return PAGE


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/v1/chat/completions", response_model=None)
async def completions(request: ChatRequest) -> StreamingResponse | dict[str, Any]:
    prompt = request.messages[-1].content if request.messages else ""
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    tokens = fake_tokens(prompt)
    if not request.stream:
        message = {"role": "assistant", "content": "".join(tokens).strip()}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {"id": completion_id, "object": "chat.completion", "model": "fake", "choices": [choice]}

    async def events() -> AsyncIterator[str]:
        for token in tokens:
            yield chunk(completion_id, token)
            await asyncio.sleep(TOKEN_DELAY)
        yield chunk(completion_id, None, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def create_app() -> FastAPI:
    app = FastAPI(title="Acme chat demo")
    app.include_router(router)
    # The one line that makes the service transparent (config: $AIACT_CONFIG, else built-in defaults).
    app.add_middleware(TransparencyMiddleware, config=load_config())
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8001)
