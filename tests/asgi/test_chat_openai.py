"""The official `openai` client against a real uvicorn server: an OpenAI-compatible app behind the middleware.

The client must parse every response unchanged apart from the appended wrapper, and the assembled message
must verify. The app (tests/asgi/openai_app.py) sends real-shaped objects; nothing here is faked.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.provenance.text.c2pa_text import scan_wrappers, strip_c2pa_text
from aiact_transparency.provenance.text.marking import verify_text

from ..servers import serve
from .openai_app import answer, app

SYSTEM = {"name": "Acme Chat", "provider": "Acme GmbH"}
MESSAGES = [{"role": "user", "content": "Hello"}]


def text_config(**disclosure: object) -> TransparencyConfig:
    return TransparencyConfig(system=SYSTEM, model={"id": "acme/chat-1"},
                              disclosure={"routes": [{"path": "/v1/*", "text": "c2pa"}], **disclosure})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Module-scoped server: the per-test key directory of conftest would be gone, so the signer gets its own.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIACT_KEYS_DIR", str(tmp_path_factory.mktemp("chat-keys")))
        with serve(TransparencyMiddleware(app, config=text_config())) as url:
            yield url


@pytest.fixture
def client(base: str) -> OpenAI:
    return OpenAI(base_url=base + "/v1", api_key="test", max_retries=0)


def assert_marked(received: str, visible: str) -> None:
    assert strip_c2pa_text(received) == visible  # the visible text, unchanged
    assert received.startswith(visible) and len(scan_wrappers(received).wrappers) == 1
    result = verify_text(received)
    assert result.valid, result.based_on
    assert result.manifest is not None and result.manifest.software_agent == "Acme Chat (acme/chat-1)"


@pytest.mark.parametrize("n", [1, 2])
def test_chat_json_each_choice_ends_with_its_own_wrapper(client: OpenAI, n: int) -> None:
    completion = client.chat.completions.create(model="m", messages=MESSAGES, n=n)
    assert completion.object == "chat.completion" and len(completion.choices) == n
    for choice in completion.choices:
        assert choice.message.content is not None
        assert_marked(choice.message.content, answer(choice.index))
        assert choice.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 25


@pytest.mark.parametrize("n", [1, 2])
def test_chat_stream_sends_the_wrapper_as_one_delta_before_the_final_chunk(client: OpenAI, n: int) -> None:
    stream = client.chat.completions.create(model="m", messages=MESSAGES, n=n, stream=True,
                                            stream_options={"include_usage": True})
    texts: dict[int, list[str]] = {}
    finished: set[int] = set()
    usage = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.id == "chatcmpl-test" and chunk.model == "m"
        usage = chunk.usage or usage
        for choice in chunk.choices:
            assert choice.index not in finished  # nothing of a choice after its final chunk
            if choice.delta.content:
                texts.setdefault(choice.index, []).append(choice.delta.content)
            if choice.finish_reason is not None:
                finished.add(choice.index)
                # The delta just before the final chunk is the whole wrapper, in one piece.
                assert strip_c2pa_text(texts[choice.index][-1]) == ""
    assert finished == set(range(n)) and usage is not None
    for index, parts in texts.items():
        assert_marked("".join(parts), answer(index))


def test_tool_calls_are_left_alone_json_and_stream(client: OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = client.chat.completions.create(model="m", messages=MESSAGES, tools=tools)
    message = completion.choices[0].message
    assert message.content is None and message.tool_calls is not None
    assert message.tool_calls[0].function.arguments == '{"city": "Paris"}'
    stream = client.chat.completions.create(model="m", messages=MESSAGES, tools=tools, stream=True)
    chunks = list(stream)
    assert not any(c.delta.content for chunk in chunks for c in chunk.choices)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("n", [1, 2])
def test_completions_json_and_stream(client: OpenAI, n: int) -> None:
    completion = client.completions.create(model="m", prompt="Hi", n=n)
    for choice in completion.choices:
        assert_marked(choice.text, answer(choice.index))
    texts: dict[int, str] = {}
    for chunk in client.completions.create(model="m", prompt="Hi", n=n, stream=True):
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert sorted(texts) == list(range(n))
    for index, text in texts.items():
        assert_marked(text, answer(index))


def test_text_plain_is_marked_with_a_matching_content_length(base: str) -> None:
    response = httpx.get(base + "/v1/plain")
    assert int(response.headers["content-length"]) == len(response.content)
    assert_marked(response.text, answer(0))


def test_routes_without_text_c2pa_are_not_marked(base: str) -> None:
    client = OpenAI(base_url=base + "/other", api_key="test", max_retries=0)
    completion = client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == answer(0)
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer(0)


def test_the_event_stream_notice_comes_first_then_the_chunks(base: str) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", base + "/v1/chat/completions", json=body) as response:
        raw = b"".join(response.iter_bytes())
    assert raw.startswith(b": AI-Disclosure: ")
    assert raw.index("\ufeff".encode()) > raw.index(b"data: ")
    assert raw.endswith(b"data: [DONE]\n\n")
