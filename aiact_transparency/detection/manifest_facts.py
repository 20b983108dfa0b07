"""What a C2PA manifest carries beyond verify()'s report: its id, its signing time, the model it names.

Read only when verify() found a manifest (a second, offline read of a few ms); never raises.
"""

from __future__ import annotations

import io
import json
from typing import Any

import c2pa

from ..provenance._c2pa_read import AI_DISCLOSURE_LABEL, _reader_context

__all__ = ["manifest_facts"]


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).split("__")[0] == label and isinstance(assertion.get("data"), dict):
            return dict(assertion["data"])
    return {}


def manifest_facts(data: bytes, media_type: str) -> dict[str, Any]:
    try:
        with _reader_context(None) as ctx, c2pa.Reader(media_type, io.BytesIO(data), context=ctx) as reader:
            store = json.loads(reader.json())
        label = store["active_manifest"]
        manifest = store["manifests"][label]
    except (c2pa.C2paError, ValueError, KeyError, TypeError):
        return {}
    info = manifest.get("signature_info") or {}
    disclosure = _assertion(manifest, AI_DISCLOSURE_LABEL)
    model = disclosure.get("model")
    signed_at = info.get("time")
    return {
        "manifest_id": label if isinstance(label, str) else None,
        "marked_at": signed_at if isinstance(signed_at, str) else None,
        "marked_at_based_on": "the signature's RFC 3161 time-stamp" if signed_at else
        "no time-stamp in the signature: the signing time is not attested",
        "provider": disclosure.get("provider") if isinstance(disclosure.get("provider"), str) else None,
        "model": model if isinstance(model, dict) and model else None,
    }
