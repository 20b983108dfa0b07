"""c2pa-python for text: sign a manifest store bound by a `c2pa.hash.data` we computed, and validate one.

c2pa-python 0.38 (c2pa-rs 0.91) has no text/plain handler and no data-hashed signing call, but two public
paths do what A.8 needs:
- signing: a manifest definition that already holds a `c2pa.hash.data` assertion is signed as given (c2pa-rs
  hashes only when the claim has no hard binding), and `set_no_embed()` returns the store instead of
  embedding it;
- reading: `Reader(format, stream, manifest_data)` validates that store against the text bytes: claim,
  signature, certificate chain and the data hash over the bytes outside the exclusion. Without a text
  handler c2pa-rs cannot locate the wrapper, so it also reports the exclusion as "not the manifest
  location". That one entry is removed here; the caller checks that the exclusion is the wrapper's span.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

import c2pa

from ..keys import ManifestSigner
from .manifest import C2paSigningError, c2pa_signer
from .reading import reader_context

__all__ = ["LOCATION_EXPLANATION", "read_store", "sign_store"]

# c2pa-rs's wording for "the exclusion is not where I found the manifest" (Reader with manifest_data).
LOCATION_EXPLANATION = "exclusion does not match the manifest location"
_FORMAT = "text/plain"
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
_INGREDIENT_ID = "received-text-manifest.c2pa"


def _cbor_extra(n: int) -> int:
    # Bytes a CBOR unsigned int needs beyond its first byte.
    return 0 if n < 24 else 1 if n < 1 << 8 else 2 if n < 1 << 16 else 4 if n < 1 << 32 else 8


def data_hash(text_utf8: bytes, start: int, length: int) -> dict[str, Any]:
    """The `c2pa.hash.data` for NFC text with the wrapper appended at `start`.

    The bytes outside the exclusion are the text itself (the wrapper is last). `pad` evens out the CBOR
    widths of start and length, so the store has the same size for every text: the wrapper length that
    goes into the exclusion can then be known before signing.
    """
    pad = 16 - _cbor_extra(start) - _cbor_extra(length)
    return {
        "exclusions": [{"start": start, "length": length}], "name": "jumbf manifest", "alg": "sha256",
        "hash": list(hashlib.sha256(text_utf8).digest()), "pad": [0] * pad,
    }


def sign_store(manifest: Mapping[str, Any], hard_binding: Mapping[str, Any], *, signer: ManifestSigner,
               ingredient: tuple[bytes, Mapping[str, Any]] | None = None) -> bytes:
    """Sign `manifest` with the given data hash; returns the JUMBF manifest store.

    `ingredient`: (manifest store, its validation results) of a wrapper the text arrived with; it stays in
    the new store as a componentOf ingredient instead of being dropped.
    """
    definition = dict(manifest)
    definition["assertions"] = [*manifest.get("assertions", []), {"label": "c2pa.hash.data", "data": hard_binding}]
    if ingredient is not None:
        definition["ingredients"] = [{
            "title": "text as received", "relationship": "componentOf", "format": _FORMAT,
            "manifest_data": {"format": "application/c2pa", "identifier": _INGREDIENT_ID},
            "validation_results": dict(ingredient[1]),
        }]
    failures: list[BaseException] = []
    try:
        with c2pa.Context.from_dict(_SETTINGS) as ctx, c2pa_signer(signer, failures) as c_signer, \
                c2pa.Builder(definition, context=ctx) as builder:
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE, c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA)
            if ingredient is not None:
                builder.add_resource(_INGREDIENT_ID, io.BytesIO(ingredient[0]))
            builder.set_no_embed()
            # The source is not hashed (the claim has its hard binding); c2pa copies it to the sink.
            store: bytes = builder.sign(c_signer, _FORMAT, io.BytesIO(b""), io.BytesIO())
    except c2pa.C2paError as exc:
        cause = failures[0] if failures else exc
        raise C2paSigningError(f"C2PA signing of text failed: {cause}") from cause
    return store


def _is_location_entry(entry: Mapping[str, Any]) -> bool:
    return entry.get("code") == "assertion.dataHash.mismatch" and LOCATION_EXPLANATION in str(entry.get("explanation"))


def _drop_location_failure(report: dict[str, Any]) -> None:
    results = report.get("validation_results") or {}
    for manifest_results in [results.get("activeManifest") or {}, *(results.get("ingredientDeltas") or [])]:
        inner = manifest_results.get("validationDeltas", manifest_results)
        if "failure" in inner:
            inner["failure"] = [f for f in inner["failure"] if not _is_location_entry(f)]
    if "validation_status" in report:
        report["validation_status"] = [s for s in report["validation_status"] if not _is_location_entry(s)]


def _state(report: dict[str, Any]) -> str:
    # c2pa said "Invalid" because of the dropped entry alone, or for a real reason still listed.
    active = (report.get("validation_results") or {}).get("activeManifest") or {}
    failures = [str(f.get("code")) for f in active.get("failure", [])]
    if any(code != "signingCredential.untrusted" for code in failures):
        return "Invalid"
    successes = {str(s.get("code")) for s in active.get("success", [])}
    return "Trusted" if not failures and "signingCredential.trusted" in successes else "Valid"


def read_store(text_utf8: bytes, store: bytes, *, trust_anchors_pem: bytes | None = None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """c2pa's validation of `store` against the text bytes: (reader JSON, the active `c2pa.hash.data`).

    Raises c2pa.C2paError when the store cannot be parsed at all.
    """
    with reader_context(trust_anchors_pem) as ctx, \
            c2pa.Reader(_FORMAT, io.BytesIO(text_utf8), store, context=ctx) as reader:
        report: dict[str, Any] = json.loads(reader.json())
        detailed: dict[str, Any] = json.loads(reader.detailed_json())
    had_location_failure = any(_is_location_entry(s) for s in report.get("validation_status") or [])
    _drop_location_failure(report)
    if had_location_failure:
        report["validation_state"] = _state(report)
    active = (detailed.get("manifests") or {}).get(detailed.get("active_manifest") or "", {})
    return report, dict((active.get("assertion_store") or {}).get("c2pa.hash.data") or {})
