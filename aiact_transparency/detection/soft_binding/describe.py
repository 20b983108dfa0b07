"""The discovery document's "c2pa_soft_binding" member (asgi/discovery.py): where the API is, what it resolves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .algorithms import ENTRIES, supported_algorithms

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["soft_binding_entry"]


def soft_binding_entry(config: TransparencyConfig) -> dict[str, Any]:
    """The discovery document's "c2pa_soft_binding" member: where the C2PA Soft Binding Resolution API is and
    which algorithm ids it resolves (issue 18). Served when the detector is on and the fingerprint log keeps
    the manifest stores it resolves to."""
    detection = config.detection
    if not (detection.enabled and config.fingerprints.enabled):
        why = "the detector is off" if not detection.enabled else "the fingerprint log is off (fingerprints.enabled)"
        return {"enabled": False, "reason": f"{why}: no manifest stores are kept to resolve"}
    base = detection.soft_binding_path
    return {
        "enabled": True,
        "api": "C2PA Soft Binding Resolution API (C2PA 2.2, Soft Binding API: OpenAPI 3.0.3, version 1.0.0)",
        "url": base,
        "openapi": f"{base}/openapi.json",
        "algorithms": supported_algorithms(),
        "registered_in_c2pa_list": {entry["alg"]: entry["registered"] for entry in ENTRIES},
        "retention": "byContent uploads are held in memory only while resolved, never written to disk or logs",
        "rate_limit": "shared with the detector",
    }
