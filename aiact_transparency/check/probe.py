"""HTTP probes with bounded reads: every response is read up to a limit, every request has a timeout.

Nothing a deployment answers raises out of here: a refused connection, a timeout, a reset or a 500 become a
Probe with `error` set (or its status), which the checks turn into findings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._version import __version__

USER_AGENT = f"aiact-transparency-check/{__version__} (+https://github.com/aiact-transparency/aiact-transparency)"


@dataclass
class Probe:
    url: str
    method: str = "GET"
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    truncated: bool = False  # the body was longer than the limit: only its start was read
    error: str | None = None  # no HTTP answer at all (refused, timeout, DNS, reset)
    unreachable: bool = False  # the host could not be connected to (vs. a timeout or a broken answer)
    retryable: bool = False  # the connection broke before any answer: worth one more try on a new connection
    elapsed_s: float = 0.0
    first_chunk_s: float | None = None  # when the first body bytes arrived (event streams)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds since start, bytes), streams only

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def header_lines(self, name: str) -> list[str]:
        return self.headers.get_list(name)

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.method} {self.url}: {self.error}"
        return f"{self.method} {self.url}: HTTP {self.status}"


class Prober:
    """One httpx client for the whole check (connection reuse), with per-request timeouts."""

    def __init__(self, timeout_s: float, accept_language: str | None = None) -> None:
        headers = {"user-agent": USER_AGENT}
        if accept_language:
            headers["accept-language"] = accept_language
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers, follow_redirects=True,
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        limit: int,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
        keep_chunks: bool = False,
    ) -> Probe:
        probe = self._fetch_once(url, method, limit, headers, content, json_body, keep_chunks)
        # A server may close a kept-alive connection (uvicorn does after an app error) just as the next request
        # goes out on it: an idempotent request that got no answer at all is sent once more, on a new
        # connection, as browsers do. Anything else is reported as it came.
        if probe.status is None and probe.retryable and method in ("GET", "HEAD"):
            probe = self._fetch_once(url, method, limit, headers, content, json_body, keep_chunks)
        return probe

    def _fetch_once(self, url: str, method: str, limit: int, headers: dict[str, str] | None, content: bytes | None,
                    json_body: Any, keep_chunks: bool) -> Probe:
        probe = Probe(url=url, method=method)
        start = time.monotonic()
        try:
            with self._client.stream(method, url, headers=headers, content=content, json=json_body) as response:
                probe.status = response.status_code
                probe.headers = response.headers
                body = bytearray()
                for chunk in response.iter_bytes():
                    now = time.monotonic() - start
                    if probe.first_chunk_s is None and chunk:
                        probe.first_chunk_s = now
                    if keep_chunks:
                        probe.chunks.append((now, chunk))
                    body += chunk
                    if len(body) > limit:
                        probe.truncated = True
                        del body[limit:]
                        break
                probe.body = bytes(body)
        except httpx.ConnectError as exc:
            probe.error, probe.unreachable = f"cannot connect ({exc})", True
        except httpx.TimeoutException as exc:
            probe.error = f"timed out ({type(exc).__name__}) after {time.monotonic() - start:.1f} s"
        except httpx.HTTPError as exc:  # a reset, a protocol error, garbage instead of HTTP, a redirect loop
            probe.error = f"no valid HTTP answer ({type(exc).__name__}: {exc})"
            probe.retryable = isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError))
        probe.elapsed_s = time.monotonic() - start
        return probe
