"""The C2PA Soft Binding Resolution API (issue 18): recover a stripped output's manifest from its watermark or
fingerprint. `algorithms` (our ids, the list's entry form), `resolver` (queries over the output log),
`endpoint` (the ASGI app), `openapi` (its document), `recover` (the client behind `verify --recover`)."""

from __future__ import annotations

from .algorithms import ENTRIES, FINGERPRINT_ALG, WATERMARK_ALG, supported_algorithms
from .endpoint import C2PA_MEDIA_TYPE, SoftBindingEndpoint
from .resolver import Resolver

__all__ = ["C2PA_MEDIA_TYPE", "ENTRIES", "FINGERPRINT_ALG", "WATERMARK_ALG", "Resolver", "SoftBindingEndpoint",
           "supported_algorithms"]
