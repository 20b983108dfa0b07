"""How to use the detector, in the words the discovery document and the endpoint's GET answer share.

`discovery_entry(settings)` is the discovery document's "detection" member (asgi/discovery.py's
discovery_document); `usage(settings, url)` is what a GET without Accept: text/html returns.
"""

from __future__ import annotations

from typing import Any

from ..config.detection import DetectionSettings
from .jws import JWS_MEDIA_TYPE
from .local import MEDIA_TYPES, TEXT_TYPE

__all__ = ["VERDICTS", "discovery_entry", "usage"]

VERDICTS = ("generated-by-this-system", "marked-by-another-system", "not-detected")


def discovery_entry(settings: DetectionSettings, signer: dict[str, Any] | None = None) -> dict[str, Any]:
    """`signer`: the signing identity's public description (as the document's marking.images.signer)."""
    return {
        "url": settings.path,
        "page": f"{settings.path} (Accept: text/html): a page to upload a file or paste text",
        "method": "POST the content as the body with its Content-Type, or as multipart/form-data field 'file' "
                  "(or 'text')",
        "accepts": [*MEDIA_TYPES, f"{TEXT_TYPE}; charset=utf-8"],
        "max_bytes": settings.max_bytes,
        "verdicts": list(VERDICTS),
        "layers": ["c2pa", "xmp", "watermark", "fingerprint"],
        "result": "JSON: verdict, based_on (metadata, watermark, fingerprint), layers, content_sha256, detector, "
                  "checked_at",
        "signed_result": {
            "request": f"Accept: {JWS_MEDIA_TYPE}, or the query ?format=jws",
            "format": "JWS compact serialization (RFC 7515), payload the JSON result",
            "key": "the leaf certificate of the x5c header (RFC 7515 section 4.1.6), leaf first; x5t#S256 is its "
                   "SHA-256 thumbprint; the chain makes the header about 1.5 KB (raise a JOSE library's header limit "
                   "if it has a small one)",
            "verify": "any JOSE library: take the public key of the first x5c certificate and verify the JWS with "
                      "the alg of its header; then check the certificate chain against the trust you place in the "
                      "signer",
            "signer": signer,
        },
        "retention": "none: submissions are held in memory only while checked, never written to disk or logs",
        "rate_limit": {"per_client_per_minute": settings.rate_limit.per_client_per_minute,
                       "beyond": "429 with Retry-After"},
        "cost": "free of charge",
    }


def usage(settings: DetectionSettings, url: str) -> dict[str, Any]:
    return {"detector": url, **{k: v for k, v in discovery_entry(settings).items() if k != "url"}}
