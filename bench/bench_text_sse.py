"""The SSE path of the chat responder: what it adds per pass-through chunk, beside the unmarked stream.

    .venv/bin/python bench/bench_text_sse.py [--chunks 2000] [--runs 20]

Goal (issue 14): <= 1 us per chunk. Both rows feed the same real-shaped chat.completion.chunk events (one per
ASGI message, as OpenAI-compatible servers send them) to a responder whose `send` does nothing:
EventStreamResponder is the unmarked stream (the notice only); ChatStreamResponder also assembles each
choice's text. The final chunk's signature is timed apart: it is one cost per message, not per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time

from results import record

from aiact_transparency import TransparencyConfig
from aiact_transparency.asgi.responders.chat import ChatStreamResponder
from aiact_transparency.asgi.responders.notices import EventStreamResponder
from aiact_transparency.asgi.responders.text_service import TextMarkingService
from aiact_transparency.http_messages import Message
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.text.marking import TextMarker

GOAL_US = 1.0


def events(chunks: int) -> list[Message]:
    out = []
    for i in range(chunks):
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_764_576_000,
                 "model": "bench", "system_fingerprint": "fp", "choices": [
                     {"index": 0, "delta": {"content": f" word{i % 97}"}, "logprobs": None, "finish_reason": None}]}
        out.append({"type": "http.response.body", "body": b"data: " + json.dumps(chunk).encode() + b"\n\n",
                    "more_body": True})
    return out


async def _noop(message: Message) -> None:
    return None


def start() -> Message:
    return {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}


async def per_chunk_us(make: object, messages: list[Message], runs: int) -> float:
    samples = []
    for _ in range(runs + 1):
        responder = make()  # type: ignore[operator]
        await responder.begin()
        begin = time.perf_counter()
        for message in messages:
            await responder(message)
        samples.append((time.perf_counter() - begin) * 1e6 / len(messages))
    return statistics.median(samples[1:])


async def main_async(chunks: int, runs: int) -> None:
    messages = events(chunks)
    with tempfile.TemporaryDirectory() as keys_dir:
        config = TransparencyConfig(system={"name": "Bench", "provider": "Bench GmbH"})
        service = TextMarkingService(TextMarker(config, signer=keys.development_signer(keys_dir)))
        notice = b": AI-Disclosure: bench\n\n"
        plain = await per_chunk_us(lambda: EventStreamResponder(_noop, start(), notice), messages, runs)
        chat = await per_chunk_us(lambda: ChatStreamResponder(_noop, start(), service, notice, "/v1"),
                                  messages, runs)
        final = {"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False}
        signing = []
        for _ in range(runs + 1):
            responder = ChatStreamResponder(_noop, start(), service, notice, "/v1")
            await responder.begin()
            for message in messages:
                await responder(message)
            begin = time.perf_counter()
            await responder(final)
            signing.append((time.perf_counter() - begin) * 1000)
    added = chat - plain
    print(f"{chunks} chunks of ~{len(messages[0]['body'])} bytes, median of {runs} runs")
    print(f"  {'unmarked stream (EventStreamResponder)':<48} {plain:7.2f} us/chunk")
    print(f"  {'text: c2pa stream (ChatStreamResponder)':<48} {chat:7.2f} us/chunk")
    print(f"  {'added per pass-through chunk':<48} {added:7.2f} us/chunk  goal <= {GOAL_US:.1f} us: "
          f"{'PASS' if added <= GOAL_US else 'MISS'}")
    print(f"  {'final chunk: sign + send the wrapper (once)':<48} {statistics.median(signing[1:]):7.2f} ms")
    record("text: c2pa stream, added per chunk", added, "us", goal=f"<= {GOAL_US:g} us",
           baseline=f"unmarked stream {plain:.2f} us/chunk", passed=added <= GOAL_US, issue="14")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main_async(args.chunks, args.runs))


if __name__ == "__main__":
    main()
