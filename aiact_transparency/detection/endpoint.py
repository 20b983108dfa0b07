"""The detection endpoint: a pure ASGI app, mounted by the middleware at detection.path or served alone.

POST: the content as the body (with its Content-Type) or as multipart field `file` (or `text`) -> JSON, a
signed JWS (Accept: application/jose or ?format=jws), or, for a browser form, the page with the result.
GET/HEAD: the page (Accept: text/html) or a JSON description of how to use it. OPTIONS: CORS preflight.

Fair use: a token bucket per client address for POSTs (429 + Retry-After; GETs serve a page rendered from
constants and are not counted), at most workers + max_queue submissions
admitted at once (503 + Retry-After beyond), the CPU work in worker threads under a limiter of `workers`,
so the app's own routes keep answering. Zero retention: bodies live in memory for one request; nothing about
a submission (bytes, hash, verdict, client) is logged or stored.
"""

from __future__ import annotations

import codecs
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import anyio
import anyio.to_thread

from ..config.detection import DetectionSettings
from ..disclosure import i18n
from ..http_messages import ASGIApp, Receive, Scope, Send, accept_weights, request_header
from .describe import usage
from .jws import JWS_MEDIA_TYPE
from .local import MEDIA_TYPES, TEXT_TYPE, Detector, TextScorer, UnsupportedContent, rfc3339_now
from .page import render_fragment, render_page
from .ratelimit import RateLimiter
from .responses import CORS, respond, respond_json, respond_problem
from .submission import ClientGone, Submission, SubmissionError, read_submission

if TYPE_CHECKING:
    from ..config import TransparencyConfig
    from ..provenance.keys import ManifestSigner
    from .fingerprint import FingerprintIndex

__all__ = ["DetectionEndpoint"]

log = logging.getLogger("aiact_transparency.detection")
_PORT = r"(?::[0-9]{1,5})?"
_HOST = re.compile(rf"(?:[A-Za-z0-9-]{{1,63}}\.)*[A-Za-z0-9-]{{1,63}}{_PORT}|\[[0-9A-Fa-f:.]{{2,45}}\]{_PORT}")
_KINDS = ("application/json", JWS_MEDIA_TYPE, "text/html")
_T = TypeVar("_T")
FRAGMENT = "text/html; fragment"  # ?format=fragment: the result region only, for the page's own script


def _preferred(accept: str | None, query: str) -> str:
    """application/json, application/jose or text/html: ?format= wins, then the Accept weights (JSON on ties)."""
    for name, kind in (("jws", JWS_MEDIA_TYPE), ("json", "application/json"), ("html", "text/html"),
                       ("fragment", FRAGMENT)):
        if f"format={name}" in query.split("&"):
            return kind
    weights = accept_weights(accept)
    best = max(_KINDS, key=lambda k: (weights.get(k, 0.0), k == "application/json"))
    return best if weights.get(best, 0.0) > 0 else "application/json"


class DetectionEndpoint:
    def __init__(self, config: TransparencyConfig, *, settings: DetectionSettings | None = None,
                 detector: Detector | None = None, signer: ManifestSigner | None = None,
                 fingerprints: FingerprintIndex | None = None, text_scorer: TextScorer | None = None) -> None:
        self.settings = settings if settings is not None else config.detection
        self.detector = detector if detector is not None else Detector(
            config, settings=self.settings, signer=signer, fingerprints=fingerprints, text_scorer=text_scorer)
        self.system = config.system.name
        self.discovery_path = config.disclosure.discovery_path
        default = config.banner.default_language.split("-")[0].lower()
        self.default_language = default if default in i18n.OFFICIAL_EU_LANGUAGES else i18n.DEFAULT_LANGUAGE
        rate = self.settings.rate_limit
        self.rate_limiter = RateLimiter(rate.per_client_per_minute, rate.max_clients)
        self.max_admitted = self.settings.workers + self.settings.max_queue
        self._admitted = 0
        self._capacity: anyio.CapacityLimiter | None = None  # made on first use, inside the event loop
        # The C2PA Soft Binding Resolution API sharing these limits, when the output log is there (wiring.py).
        self.soft_binding: ASGIApp | None = None

    # -- helpers ---------------------------------------------------------------------------------------

    def detector_url(self, scope: Scope) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        scheme = scope.get("scheme") if scope.get("scheme") in ("http", "https") else "http"
        host = request_header(scope, b"host") or ""
        if not _HOST.fullmatch(host):  # never reflect a Host header that could inject anything
            server = scope.get("server") or ("localhost", None)
            host = str(server[0]) + (f":{server[1]}" if server[1] else "")
            host = host if _HOST.fullmatch(host) else "localhost"
        return f"{scheme}://{host}{self._own_path(scope)}"

    @staticmethod
    def _own_path(scope: Scope) -> str:
        return quote(str(scope.get("root_path", "")) + str(scope.get("path", "")), safe="/:@!$&'()*+,;=-._~")

    def _language(self, scope: Scope) -> str:
        return i18n.negotiate(request_header(scope, b"accept-language"), i18n.OFFICIAL_EU_LANGUAGES,
                              self.default_language)

    def _fragment(self, scope: Scope, **result: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        fragment, lang = render_fragment(self._language(scope), system=self.system, **result)
        return fragment, [(b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
                          (b"content-language", lang.encode()), (b"vary", b"Accept, Accept-Language")]

    def _page(self, scope: Scope, **result: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        nonce = secrets.token_urlsafe(18)
        language = self._language(scope)
        page, lang = render_page(language, system=self.system, action=self._own_path(scope),
                                 discovery_path=self.discovery_path, nonce=nonce, **result)
        csp = (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        return page, [(b"content-security-policy", csp.encode()), (b"content-language", lang.encode()),
                      (b"vary", b"Accept, Accept-Language")]

    async def _error(self, scope: Scope, send: Send, kind: str, status: int, title: str, detail: str, code: str,
                     retry_after: int | None = None, **members: Any) -> None:
        extra = [(b"retry-after", str(retry_after).encode())] if retry_after is not None else []
        if kind in ("text/html", FRAGMENT):
            render = self._page if kind == "text/html" else self._fragment
            page, headers = render(scope, error=detail)
            await respond(send, status, b"text/html; charset=utf-8", page, [*headers, *extra])
        else:
            await respond_problem(send, status, title, detail, code, extra, **members)

    # -- ASGI ------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        kind = _preferred(request_header(scope, b"accept"), bytes(scope.get("query_string", b"")).decode("latin-1"))
        if method in ("GET", "HEAD"):
            if kind in ("text/html", FRAGMENT):
                page, headers = self._page(scope)
                await respond(send, 200, b"text/html; charset=utf-8", page, headers, head=method == "HEAD")
            else:
                await respond_json(send, 200, usage(self.settings, self.detector_url(scope)), head=method == "HEAD")
        elif method == "OPTIONS":
            await respond(send, 204, b"text/plain", b"", [*CORS, (b"access-control-allow-methods", b"GET, POST"),
                                                          (b"access-control-allow-headers", b"content-type, accept"),
                                                          (b"access-control-max-age", b"600")])
        elif method == "POST":
            await self._post(scope, receive, send, kind)
        else:
            await respond_problem(send, 405, "Method Not Allowed", f"{method} is not supported here: POST the "
                                  "content, or GET the page", "method", [(b"allow", b"GET, HEAD, POST, OPTIONS")])

    async def _post(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        await self.admitted(scope, send, kind, lambda: self._detect(scope, receive, send, kind))

    async def admitted(self, scope: Scope, send: Send, kind: str, work: Callable[[], Awaitable[None]]) -> None:
        """Fair use, shared by every request that costs work here (the detector's POSTs and the Soft Binding
        Resolution API's queries, soft_binding/endpoint.py): one token bucket per client address (429), at
        most workers + max_queue admitted at once (503), then `work()`. A client gone mid-body ends quietly."""
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.rate_limiter.take(str(client))
        if wait:
            await self._error(scope, send, kind, 429, "Too Many Requests", f"more than "
                              f"{self.settings.rate_limit.per_client_per_minute} requests a minute from this address; "
                              f"try again in {wait} s", "rate_limited", retry_after=wait)
            return
        if self._admitted >= self.max_admitted:
            await self._error(scope, send, kind, 503, "Service Unavailable", "the detector is busy; try again "
                              "shortly", "busy", retry_after=2)
            return
        self._admitted += 1
        try:
            await work()
        except ClientGone:
            return
        finally:
            self._admitted -= 1

    async def in_worker(self, function: Callable[..., _T], *args: Any) -> _T:
        """`function(*args)` in a worker thread, at most `workers` at once (CPU and database work)."""
        if self._capacity is None:
            self._capacity = anyio.CapacityLimiter(self.settings.workers)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._capacity)

    async def _detect(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        settings = self.settings
        try:
            submission = await read_submission(scope, receive, max_bytes=settings.max_bytes,
                                               read_timeout=settings.read_timeout, idle_timeout=settings.idle_timeout)
        except SubmissionError as exc:
            await self._error(scope, send, kind, exc.status, exc.title, exc.detail, exc.code)
            return
        if submission.form and kind == "application/json" and not request_header(scope, b"accept"):
            kind = "text/html"
        url, signed = self.detector_url(scope), kind == JWS_MEDIA_TYPE
        try:
            answer = await self.in_worker(self._work, submission, url, signed)
        except UnsupportedContent as exc:
            await self._error(scope, send, kind, 415, "Unsupported Media Type", str(exc), "unsupported_type",
                              supported=[*MEDIA_TYPES, TEXT_TYPE])
            return
        except UnicodeDecodeError:
            await self._error(scope, send, kind, 400, "Bad Request", "the text is not valid in its charset "
                              "(send UTF-8)", "bad_text")
            return
        except Exception as exc:  # a bug or a signer outage: say so, log the kind of failure, never the content
            log.error("detection failed with %s", type(exc).__name__)
            await self._error(scope, send, kind, 500, "Internal Server Error", "the detection failed; nothing "
                              "was kept", "failed")
            return
        if isinstance(answer, str):
            await respond(send, 200, JWS_MEDIA_TYPE.encode(), answer.encode("ascii"), CORS)
        elif kind in ("text/html", FRAGMENT):
            render = self._page if kind == "text/html" else self._fragment
            page, headers = render(scope, result=answer)
            await respond(send, 200, b"text/html; charset=utf-8", page, headers)
        else:
            await respond_json(send, 200, answer)

    def _work(self, submission: Submission, url: str, signed: bool) -> dict[str, Any] | str:
        """In a worker thread: detect, and sign when asked. Returns the result dict, or the compact JWS."""
        data, declared = submission.data, submission.declared_type
        if submission.is_text and (submission.form or submission.charset not in ("", "utf-8", "us-ascii")):
            try:
                codec = codecs.lookup(submission.charset or "utf-8").name
            except LookupError:
                raise UnsupportedContent(f"unknown charset {submission.charset!r}; send {TEXT_TYPE} in UTF-8") from None
            result = self.detector.detect_text(data.decode(codec), raw=data)
        else:
            result = self.detector.detect_bytes(data, declared)
        payload = result.to_dict(detector=url, checked_at=rfc3339_now())
        if not signed:
            return payload
        return self.detector.sign(payload)
