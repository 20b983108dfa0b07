"""The C2PA Soft Binding Resolution API as a pure ASGI app under detection.soft_binding_path.

Paths and shapes follow the specification's OpenAPI document (C2PA "Soft Binding Resolution API for C2PA
Manifest Recovery", spec.c2pa.org/specifications/specifications/2.2/softbinding/Decoupled.html; the same
document as AdobeDocs/cai-soft-binding-api static/c2pa-original-soft-binding.json), relative to the base:

    GET  /services/supportedAlgorithms      c2pa.softBindingAlgList
    GET  /matches/byBinding?alg=&value=&maxResults=     c2pa.softBindingQueryResult
    POST /matches/byBinding?maxResults=     body c2pa.softBindingQuery {alg, value}
    POST /matches/byContent?alg=&maxResults=&hintAlg=&hintValue=   body: the asset (image/*, audio/*)
    GET  /manifests/{manifestId}?returnActiveManifest=   application/c2pa
    GET  /openapi.json                      this service's OpenAPI document (openapi.json beside this file)

Errors are problem+json (RFC 9457) with the spec's status codes (400 invalid query, 404 unknown manifest,
414 query too long on GET /matches/byBinding, 415 asset type, 500), plus the detector's own limits: 413, 408,
429 and 503 with Retry-After. Every query shares the detector's rate limiter, admission bound and worker threads
(DetectionEndpoint.admitted / in_worker). Zero retention as for the detector: an uploaded asset lives in
memory for its request; nothing about a query (value, asset, answer, client) is logged or stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ...fingerprints.store import StoreError
from ...http_messages import Receive, Scope, Send, request_header
from ..local import UnsupportedContent
from ..responses import CORS, respond, respond_json, respond_problem
from ..submission import SubmissionError, read_submission
from .algorithms import BindingError, supported_algorithms
from .openapi import openapi_document
from .resolver import CONTENT_TYPES, MAX_RESULTS, Resolver, hint_of

if TYPE_CHECKING:
    from ..endpoint import DetectionEndpoint

__all__ = ["C2PA_MEDIA_TYPE", "MAX_QUERY_BYTES", "SoftBindingEndpoint"]

log = logging.getLogger("aiact_transparency.detection")
C2PA_MEDIA_TYPE = "application/c2pa"  # the manifest store's media type (C2PA specification, IANA registration)
MAX_QUERY_BYTES = 4096  # a longer query string gets 414, as the spec's GET /matches/byBinding says: use POST
_MAX_QUERY_BODY = 64 * 1024  # a c2pa.softBindingQuery document is an alg and a base64 value
_MAX_ID = 512
_JSON = "application/json"
_ALLOW = {"/services/supportedAlgorithms": "GET, HEAD, OPTIONS", "/openapi.json": "GET, HEAD, OPTIONS",
          "/matches/byBinding": "GET, POST, OPTIONS", "/matches/byContent": "POST, OPTIONS"}


class _BadQuery(ValueError):
    pass


def _query(scope: Scope) -> dict[str, list[str]]:
    # The server bounds the request line (uvicorn/h11: 16 KiB by default), so parsing it all is bounded too.
    return parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)


def _short_enough(scope: Scope) -> None:
    """GET /matches/byBinding's 414 (the spec's "Query too long, consider using POST instead"), checked after
    the parameters themselves, so a malformed long query is a 400 naming the parameter."""
    if len(bytes(scope.get("query_string", b""))) > MAX_QUERY_BYTES:
        raise SubmissionError(414, "URI Too Long", f"the query is longer than {MAX_QUERY_BYTES} bytes; send the "
                              "soft binding with POST /matches/byBinding instead", code="query_too_long")


def _one(query: dict[str, list[str]], name: str, *, required: bool = False) -> str | None:
    values = query.get(name)
    if not values:
        if required:
            raise _BadQuery(f"the query parameter {name!r} is required")
        return None
    if len(values) > 1:
        raise _BadQuery(f"the query parameter {name!r} is given {len(values)} times; give it once")
    return values[0]


def _max_results(query: dict[str, list[str]]) -> int:
    raw = _one(query, "maxResults")
    if raw is None:
        return 10  # the spec's default
    if not raw.isdigit() or int(raw) < 1:
        raise _BadQuery(f"maxResults must be an integer >= 1, got {raw[:40]!r}")
    return min(int(raw), MAX_RESULTS)


def _manifest_id(path: str) -> str:
    manifest_id = path[len("/manifests/"):]
    if not 0 < len(manifest_id) <= _MAX_ID or not manifest_id.isprintable() or "/" in manifest_id:
        raise _BadQuery(f"a manifest id is 1-{_MAX_ID} printable characters without '/' (e.g. urn:c2pa:<uuid>)")
    return manifest_id


class SoftBindingEndpoint:
    def __init__(self, detection: DetectionEndpoint, resolver: Resolver) -> None:
        self.detection = detection
        self.resolver = resolver
        self.base = detection.settings.soft_binding_path

    def base_url(self, scope: Scope, rest: str) -> str:
        """The API's absolute base URL, as the detector names its own (public_url or a validated Host)."""
        settings = self.detection.settings
        if settings.public_url:
            public = settings.public_url  # the detector's URL: keep its origin and any prefix before its path
            if public.endswith(settings.path):
                return public[: -len(settings.path)] + self.base
            return "/".join(public.split("/")[:3]) + self.base
        url = self.detection.detector_url(scope)
        return url[: -len(rest)] if rest and url.endswith(rest) else url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = str(scope["path"])[len(self.base):]
        method = scope.get("method", "GET")
        allow = _ALLOW.get(rest, "GET, OPTIONS" if rest.startswith("/manifests/") else "")
        if not allow:
            await respond_problem(send, 404, "Not Found", f"no such path in the C2PA Soft Binding Resolution API; "
                                  f"its description: {self.base}/openapi.json", "not_found")
        elif method == "OPTIONS":
            await respond(send, 204, b"text/plain", b"", [*CORS, (b"access-control-allow-methods", allow.encode()),
                                                          (b"access-control-allow-headers", b"content-type, accept"),
                                                          (b"access-control-max-age", b"600")])
        elif method not in allow.split(", "):
            await respond_problem(send, 405, "Method Not Allowed", f"{method} is not supported on this path",
                                  "method", [(b"allow", allow.encode())])
        elif rest == "/services/supportedAlgorithms":
            await respond_json(send, 200, supported_algorithms(), head=method == "HEAD")
        elif rest == "/openapi.json":
            await respond_json(send, 200, openapi_document(self.base_url(scope, rest)), head=method == "HEAD")
        else:
            await self.detection.admitted(scope, send, _JSON, lambda: self._query(scope, receive, send, rest))

    async def _query(self, scope: Scope, receive: Receive, send: Send, rest: str) -> None:
        try:
            query = _query(scope)
            if rest == "/matches/byBinding":
                await self._by_binding(scope, receive, send, query)
            elif rest == "/matches/byContent":
                await self._by_content(scope, receive, send, query)
            else:
                await self._manifest(send, _manifest_id(rest), query)
        except SubmissionError as exc:
            await respond_problem(send, exc.status, exc.title, exc.detail, exc.code)
        except (_BadQuery, BindingError) as exc:
            await respond_problem(send, 400, "Bad Request", str(exc), "bad_query")
        except UnsupportedContent as exc:
            await respond_problem(send, 415, "Unsupported Media Type", str(exc), "unsupported_type",
                                  supported=list(CONTENT_TYPES))
        except StoreError as exc:  # its message names the store and the database's error, never data
            log.error("soft binding resolution failed: %s", exc)
            await respond_problem(send, 500, "Internal Server Error", "the resolution failed; nothing was kept",
                                  "failed")
        except Exception as exc:  # a bug: say so, log the kind of failure, never the query
            log.error("soft binding resolution failed with %s", type(exc).__name__)
            await respond_problem(send, 500, "Internal Server Error", "the resolution failed; nothing was kept",
                                  "failed")

    async def _matches(self, send: Send, work: Callable[..., list[dict[str, Any]]], *args: Any) -> None:
        matches = await self.detection.in_worker(work, *args)
        await respond_json(send, 200, {"matches": matches})

    async def _by_binding(self, scope: Scope, receive: Receive, send: Send, query: dict[str, list[str]]) -> None:
        limit = _max_results(query)
        if scope.get("method") == "GET":
            alg, value = _one(query, "alg", required=True), _one(query, "value", required=True)
            _short_enough(scope)
        else:
            alg, value = await self._query_document(scope, receive)
        assert alg is not None and value is not None
        await self._matches(send, self.resolver.by_binding, alg, value, limit)

    async def _query_document(self, scope: Scope, receive: Receive) -> tuple[str, str]:
        settings = self.detection.settings
        kind = (request_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if kind != _JSON:
            raise SubmissionError(415, "Unsupported Media Type", "POST /matches/byBinding takes a JSON "
                                  "c2pa.softBindingQuery document {\"alg\": ..., \"value\": ...} as application/json",
                                  code="unsupported_type")
        submission = await read_submission(scope, receive, max_bytes=_MAX_QUERY_BODY,
                                           read_timeout=settings.read_timeout, idle_timeout=settings.idle_timeout)
        try:
            document = json.loads(submission.data)
        except ValueError:
            raise _BadQuery("the body is not JSON") from None
        if not isinstance(document, dict) or not all(isinstance(document.get(k), str) for k in ("alg", "value")):
            raise _BadQuery("the body must be a JSON object with string members 'alg' and 'value'")
        return document["alg"], document["value"]

    async def _by_content(self, scope: Scope, receive: Receive, send: Send, query: dict[str, list[str]]) -> None:
        limit, alg = _max_results(query), _one(query, "alg")
        hint = hint_of(_one(query, "hintAlg"), _one(query, "hintValue"))
        settings = self.detection.settings
        submission = await read_submission(scope, receive, max_bytes=settings.max_bytes,
                                           read_timeout=settings.read_timeout, idle_timeout=settings.idle_timeout)
        data = submission.data
        del submission  # the asset is held by `data` alone, for this request only
        await self._matches(send, self._content, data, limit, alg, hint)

    def _content(self, data: bytes, limit: int, alg: str | None, hint: tuple[str, str] | None
                 ) -> list[dict[str, Any]]:
        return self.resolver.by_content(data, limit, alg=alg, hint=hint)

    async def _manifest(self, send: Send, manifest_id: str, query: dict[str, list[str]]) -> None:
        active = _one(query, "returnActiveManifest")
        if active not in (None, "true", "false"):
            raise _BadQuery("returnActiveManifest must be true or false")
        store = await self.detection.in_worker(self._store, manifest_id, active == "true")
        if store is None:
            await respond_problem(send, 404, "Not Found", "no manifest with this id is kept here (never stored, "
                                  "or deleted after the retention period)", "not_found")
            return
        await respond(send, 200, C2PA_MEDIA_TYPE.encode(), store, CORS)

    def _store(self, manifest_id: str, active_only: bool) -> bytes | None:
        return self.resolver.manifest(manifest_id, active_only=active_only)
