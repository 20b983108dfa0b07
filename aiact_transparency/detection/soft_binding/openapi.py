"""This service's OpenAPI document of the C2PA Soft Binding Resolution API (openapi.json beside this file).

Written from the specification's OpenAPI document (C2PA Soft Binding API, "openapi": "3.0.3", info.version
"1.0.0"; spec.c2pa.org/specifications/specifications/2.2/softbinding/Decoupled.html): the same paths,
parameters, request bodies, schemas (c2pa.softBindingAlgList, c2pa.softBindingQuery,
c2pa.softBindingQueryResult) and status codes; where this service adds something, the description says so
(problem+json error bodies, 408/413/415/429/503 from the detector's limits, maxResults capped at 100, no
OAuth: the service is public). One deliberate difference: the specification's c2pa.softBindingAlgList puts
`oneOf: [{required: [watermarks]}, {required: [fingerprints]}]` inside each *item* of `watermarks`, which no
item ({"alg": ...}) can satisfy; it is left out here, so the answer validates.
Served at <base>/openapi.json with `servers` naming the base it is served at; tests/detection/soft_binding runs
schemathesis against it.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

__all__ = ["openapi_document"]


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(files(__package__).joinpath("openapi.json").read_text("utf-8"))
    return loaded


def openapi_document(base_url: str) -> dict[str, Any]:
    document = copy.deepcopy(_template())
    document["servers"] = [{"url": base_url, "description": "this deployment's Soft Binding Resolution API"}]
    return document
