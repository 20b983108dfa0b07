"""Conformance: schemathesis drives every operation of the OpenAPI document the service ships (written from the
C2PA Soft Binding Resolution API's own) against the middleware's API, with generated valid and invalid
queries, and checks each answer against the document: status codes, content types, response schemas, no
server error. The store holds one real marked output, so generated lookups run real queries. The examples are
derandomized (the same in every CI run); AIACT_CONFORMANCE_EXAMPLES=500 explores more, at random."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema as BaseOpenAPISchema
from starlette.testclient import TestClient

from aiact_transparency import TransparencyConfig
from aiact_transparency.fingerprints import open_store
from aiact_transparency.provenance.formats import FORMATS

from ...wired.flows import SYSTEM, image_app

API = "/.well-known/ai-disclosure/c2pa/v1"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseOpenAPISchema]:
    store = f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'fingerprints.db'}"
    config = TransparencyConfig(system=SYSTEM, fingerprints={"enabled": True, "store": store},
                                detection={"rate_limit": {"per_client_per_minute": 1_000_000}})
    app = image_app(config)
    with TestClient(app) as client:  # one real marked output in the log (its lifespan ends by writing it out)
        assert client.get("/generate/astronaut").status_code == 200
    with open_store(store) as opened:
        assert opened.stats().manifests == 1
    app = image_app(config)  # a fresh middleware on the same log: the first closed its own at shutdown

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        # schemathesis' ASGI client runs a lifespan around every call; the middleware closes its log at the
        # end of one (as it should at a real shutdown), so the app sees HTTP only and is closed here once.
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    yield schemathesis.openapi.from_asgi(f"{API}/openapi.json", without_lifespan)
    app.close()


OPERATIONS = [("GET", "/services/supportedAlgorithms"), ("GET", "/matches/byBinding"),
              ("POST", "/matches/byBinding"), ("POST", "/matches/byContent"), ("GET", "/manifests/{manifestId}")]


# Invalid cases for every operation with an input (supportedAlgorithms takes none, so it has no invalid ones).
CASES = [pytest.param(method, path, mode, id=f"{method} {path} {mode.value}") for method, path in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if "supported" not in path or mode.value
         == "positive"]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_every_operation_conforms(api_schema: BaseOpenAPISchema, method: str, path: str,
                                  mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=int(os.environ.get("AIACT_CONFORMANCE_EXAMPLES", "25")), deadline=None,
                         database=None, derandomize=not os.environ.get("AIACT_CONFORMANCE_EXAMPLES"),
                         suppress_health_check=list(hypothesis.HealthCheck))
    def conforms(case: schemathesis.Case) -> None:
        # Not "positive_data_acceptance": a schema-valid string can still be no value of the named algorithm
        # (the spec's own 400 "Invalid query value"), which no JSON schema of a base64 string can express.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    conforms()


def test_the_document_is_the_specifications(api_schema: BaseOpenAPISchema) -> None:
    raw = api_schema.raw_schema
    assert raw["info"]["title"] == "C2PA Soft Binding Resolution API" and raw["openapi"] == "3.0.3"
    assert set(raw["paths"]) == {"/matches/byBinding", "/matches/byContent", "/manifests/{manifestId}",
                                 "/services/supportedAlgorithms"}
    operations = {op["operationId"] for path in raw["paths"].values() for op in path.values()}
    assert operations == {"queryByBinding", "queryByLargeBinding", "uploadFile", "getManifestById",
                          "getSupportedBindings"}
    assert raw["servers"][0]["url"].endswith(API)




def test_by_content_describes_the_types_it_reads(api_schema: BaseOpenAPISchema) -> None:
    """The description names each image and audio format (by subtype or file suffix), and no video or document."""
    description = api_schema.raw_schema["paths"]["/matches/byContent"]["post"]["description"]
    words = set(re.findall(r"\w+", description.upper()))
    for fmt in FORMATS:
        names = {fmt.media_type.split("/")[1].upper(), *(suffix[1:].upper() for suffix in fmt.suffixes)}
        assert bool(names & words) == (fmt.medium in ("image", "audio")), fmt.media_type
