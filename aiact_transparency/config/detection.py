"""The `detection` config section: the detection service every deployment serves (Code of Practice, 2.1).

TransparencyConfig.detection (re-exported by aiact_transparency.detection)::

    detection:
      enabled: true                          # default true: the Code asks every provider for one
      path: /.well-known/ai-disclosure/detect
      max_bytes: 33554432                    # held in memory up to this, then 413; never written to disk
      rate_limit: {per_client_per_minute: 60}
      # The C2PA Soft Binding Resolution API (issue 18), served with the fingerprint log on:
      soft_binding_path: /.well-known/ai-disclosure/c2pa/v1

Memory: at most (workers + max_queue) submissions are admitted at once, each held up to max_bytes, so the
service never holds more than (workers + max_queue) x max_bytes of submitted content; beyond that it answers
503 with Retry-After and the app's own routes are not affected.

Rate limits count per client address (the ASGI scope's client). Behind a reverse proxy every client shares
the proxy's address unless uvicorn runs with --proxy-headers (and --forwarded-allow-ips naming the proxy).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_PATH", "DEFAULT_SOFT_BINDING_PATH", "DetectionSettings", "RateLimitSettings"]

DEFAULT_PATH = "/.well-known/ai-disclosure/detect"
# The base of the C2PA Soft Binding Resolution API: its paths (/matches/byBinding, /manifests/{id}, ...) are
# relative to it, as to the OpenAPI document's server URL (C2PA Soft Binding API, "servers": ".../v1").
DEFAULT_SOFT_BINDING_PATH = "/.well-known/ai-disclosure/c2pa/v1"
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()+,;=:@/%-]*")
_PUBLIC_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()+,;=:@/%-]*)?")


class RateLimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A token bucket per client: this many detections in a burst, refilled at this rate per minute.
    per_client_per_minute: int = Field(default=60, ge=1, le=1_000_000)
    # Clients tracked at once (least recently seen dropped first): bounds the table's memory (~200 B each).
    max_clients: int = Field(default=10_000, ge=16, le=10_000_000)


class DetectionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    path: str = DEFAULT_PATH
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, le=1 << 31)
    rate_limit: RateLimitSettings = RateLimitSettings()
    # The whole body must arrive within this many seconds (slow senders get 408), and no gap between two
    # of its chunks may exceed idle_timeout.
    read_timeout: float = Field(default=30.0, gt=0, le=3600)
    idle_timeout: float = Field(default=10.0, gt=0, le=3600)
    # Detections running at once (CPU work, off the event loop) and submissions waiting for one.
    workers: int = Field(default=2, ge=1, le=64)
    max_queue: int = Field(default=6, ge=0, le=1000)
    # The detector's public URL, when the Host header the app sees is not it (behind a proxy); results
    # name it as "detector". Default: the request's scheme, validated Host header, root_path and path.
    public_url: str | None = None
    # PEM file of trust anchors: manifests whose signer chains to one are reported "trusted".
    trust_anchors: Path | None = None
    # Base path of the C2PA Soft Binding Resolution API (served when fingerprints.enabled: the log keeps the
    # manifest stores it resolves to). Shares the detector's limits, rate limit and zero retention.
    soft_binding_path: str = DEFAULT_SOFT_BINDING_PATH

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not _PATH.fullmatch(value) or value.startswith("//") or value == "/":
            raise ValueError("must be an absolute URL path other than '/', without wildcards, "
                             f"e.g. '{DEFAULT_PATH}'")
        return value

    @field_validator("soft_binding_path")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not _PATH.fullmatch(value) or value.startswith("//") or value == "/" or value.endswith("/"):
            raise ValueError("must be an absolute URL path other than '/', without a trailing '/', e.g. "
                             f"'{DEFAULT_SOFT_BINDING_PATH}' (the API's paths such as /matches/byBinding follow it)")
        return value

    @model_validator(mode="after")
    def _apart(self) -> DetectionSettings:
        base = self.soft_binding_path
        if self.path == base or self.path.startswith(base + "/"):
            raise ValueError(f"detection.path {self.path!r} lies inside detection.soft_binding_path {base!r}: "
                             "give them different paths (defaults: "
                             f"{DEFAULT_PATH} and {DEFAULT_SOFT_BINDING_PATH})")
        return self

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _PUBLIC_URL.fullmatch(value):
            raise ValueError("must be an absolute http(s) URL of the detector, e.g. "
                             f"'https://example.com{DEFAULT_PATH}'")
        return value
