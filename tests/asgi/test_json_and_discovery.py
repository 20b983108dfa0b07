from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware

pytestmark = pytest.mark.anyio


def json_app(config: TransparencyConfig, body: bytes, media_type: str = "application/json") -> TransparencyMiddleware:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type)

    return TransparencyMiddleware(Starlette(routes=[Route("/{p:path}", endpoint)]), config=config)


async def fetch(app: Any, path: str = "/api", **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path, **kwargs)


@pytest.fixture
def json_config() -> TransparencyConfig:
    return TransparencyConfig(
        system={"name": "Acme Studio", "provider": "Acme GmbH"},
        model={"id": "acme/studio-xl"},
        disclosure={"routes": [{"path": "/api*", "json": True}]},
    )


@pytest.mark.parametrize("body", [b'{"answer": 42}', b'  {"a": [1, {"b": "}"}]}\n', b"{}"])
async def test_json_objects_get_the_disclosure_member(json_config: TransparencyConfig, body: bytes) -> None:
    response = await fetch(json_app(json_config, body))
    document = response.json()
    assert document["ai_disclosure"]["mode"] == "ai-originated"
    assert document["ai_disclosure"]["model"] == "acme/studio-xl"
    assert {k: v for k, v in document.items() if k != "ai_disclosure"} == json.loads(body)
    assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"text"', b"{not json", b'{"ai_disclosure": "mine"}', b"", b"\xef\xbb\xbf[1]"]
)
async def test_everything_else_is_byte_identical(json_config: TransparencyConfig, body: bytes) -> None:
    response = await fetch(json_app(json_config, body))
    assert response.content == body


async def test_json_is_opt_in(json_config: TransparencyConfig) -> None:
    response = await fetch(json_app(json_config, b'{"a": 1}'), "/other")
    assert response.content == b'{"a": 1}'


async def test_problem_json_counts_as_json(json_config: TransparencyConfig) -> None:
    response = await fetch(json_app(json_config, b'{"title": "x"}', "application/problem+json"))
    assert "ai_disclosure" in response.json()


async def test_streamed_json_object_is_reassembled(json_config: TransparencyConfig) -> None:
    async def parts() -> Any:
        yield b'{"a":'
        yield b" 1}"

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(parts(), media_type="application/json")

    app = TransparencyMiddleware(Starlette(routes=[Route("/api", endpoint)]), config=json_config)
    response = await fetch(app)
    assert response.json()["a"] == 1 and "ai_disclosure" in response.json()


@pytest.mark.parametrize("streamed", [False, True], ids=["single-message", "streamed"])
async def test_json_over_the_size_limit_is_sent_unparsed(
    streamed: bool, json_config: TransparencyConfig, caplog: pytest.LogCaptureFixture
) -> None:
    # The 4 MiB limit applied only to streamed bodies: a single-message 5 MB body was parsed on the event loop.
    body = json.dumps({"blob": "x" * (5 << 20)}).encode()

    async def parts() -> Any:
        yield body[:1000]
        yield body[1000:]

    async def endpoint(request: Request) -> Response:
        if streamed:
            return StreamingResponse(parts(), media_type="application/json")
        return Response(body, media_type="application/json")

    app = TransparencyMiddleware(Starlette(routes=[Route("/api", endpoint)]), config=json_config)
    with caplog.at_level(logging.INFO, logger="aiact_transparency"):
        response = await fetch(app)
    assert response.content == body
    assert any("larger than" in record.getMessage() for record in caplog.records)


async def test_discovery_json(config: TransparencyConfig) -> None:
    app = json_app(config, b"{}")
    response = await fetch(app, "/.well-known/ai-disclosure")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["system"]["name"] == "Acme Studio"
    assert document["system"]["contact"] == "mailto:ai@acme.example"
    assert document["model"]["id"] == "acme/studio-xl"
    assert document["disclosure"]["mode"] == "ai-originated"
    assert "verify" in document and "marking" in document
    assert response.headers["ai-disclosure"] == "mode=none"


async def test_discovery_includes_model_card_facts(tmp_path: Any, model_card: Any) -> None:
    config = TransparencyConfig(model={"card": str(model_card)})
    document = (await fetch(json_app(config, b"{}"), "/.well-known/ai-disclosure")).json()
    assert document["model"]["license"] == "apache-2.0"
    assert document["model"]["base_model"] == ["stabilityai/stable-diffusion-xl-base-1.0"]
    assert document["model"]["datasets"] == ["laion/laion2B-en"]
    assert str(model_card) not in json.dumps(document), "server paths are not disclosed"


async def test_discovery_html_for_browsers(config: TransparencyConfig) -> None:
    response = await fetch(
        json_app(config, b"{}"),
        "/.well-known/ai-disclosure",
        headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "accept-language": "fr"},
    )
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in response.text
    assert "Acme Studio" in response.text and "acme/studio-xl" in response.text
    assert "content-security-policy" in response.headers


async def test_discovery_path_is_configurable_and_other_methods_rejected() -> None:
    config = TransparencyConfig(disclosure={"discovery_path": "/ai.json"})
    app = json_app(config, b"{}")
    assert (await fetch(app, "/ai.json")).status_code == 200
    assert (await fetch(app, "/api")).headers["link"] == '</ai.json>; rel="describedby"'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/ai.json")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


async def test_a_discovery_endpoint_replaced_after_construction_is_the_one_served(
    config: TransparencyConfig,
) -> None:
    # Gradio's middleware subclass sets its own `discovery` after TransparencyMiddleware.__init__ (it describes
    # the output hook's marking): requests must reach that one, not the endpoint built first.
    app = json_app(config, b"{}")

    async def replaced(scope: Any, receive: Any, send: Any) -> None:
        await Response(b'{"replaced": true}', media_type="application/json")(scope, receive, send)

    app.discovery = replaced  # type: ignore[assignment]
    assert (await fetch(app, "/.well-known/ai-disclosure")).json() == {"replaced": True}
