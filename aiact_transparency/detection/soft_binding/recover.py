"""`aiact-transparency verify --recover FILE [--url BASE]`: recover an asset's credentials through its soft binding.

For an image without embedded credentials: read our watermark locally and ask the Soft Binding Resolution API
(GET /matches/byBinding with the watermark alg); if that finds nothing, compute the PDQ hash and its 8 rotations
and flips and ask with the fingerprint alg (the asset itself is never uploaded). Fetch the best match's store
(GET /manifests/{id}) and validate it with c2pa against the asset: the signature and claim should hold, the hard
binding will not when the asset was re-encoded after signing, and the report says so in words.

`--url BASE`: the API's base URL (…/.well-known/ai-disclosure/c2pa/v1). Without it, a config with
`fingerprints.enabled` resolves against that log's store directly, through the same Resolver the API serves.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..._version import __version__
from ...fingerprints.pdq import dihedral_hashes
from ...provenance.c2pa.reading import ManifestReport, read_manifest, read_manifest_store
from ...provenance.formats import sniff_media_type, types_of
from ..local import IMAGE_TYPES
from ..output_log import decode_submitted
from .algorithms import AUDIO_WATERMARK_ALG, FINGERPRINT_ALG, WATERMARK_ALG, encode_value
from .resolver import Resolver, payload_word

__all__ = ["HttpResolution", "LocalResolution", "RecoveryError", "RecoveryReport", "recover"]

MAX_STORE_BYTES = 16 * 1024 * 1024
_TIMEOUT = 30.0


class RecoveryError(Exception):
    """The asset cannot be looked up or the service gave no usable answer; the message says which."""


class Resolution(Protocol):
    def by_binding(self, alg: str, value: str, max_results: int) -> list[dict[str, Any]]: ...

    def manifest(self, manifest_id: str) -> bytes | None: ...


class LocalResolution:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def by_binding(self, alg: str, value: str, max_results: int) -> list[dict[str, Any]]:
        return self.resolver.by_binding(alg, value, max_results)

    def manifest(self, manifest_id: str) -> bytes | None:
        return self.resolver.manifest(manifest_id)


class HttpResolution:
    """A Soft Binding Resolution API at `base` (any conforming service, not only ours)."""

    def __init__(self, base: str, *, timeout: float = _TIMEOUT) -> None:
        if not base.lower().startswith(("https://", "http://")):
            raise RecoveryError(f"{base!r} is not an http(s) URL. Fix: give the API's base, e.g. "
                                "https://example.com/.well-known/ai-disclosure/c2pa/v1")
        self.base, self.timeout = base.rstrip("/"), timeout

    def _get(self, path: str, accept: str, limit: int) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers={
            "Accept": accept, "User-Agent": f"aiact-transparency/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # scheme checked above
                return response.status, response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(64 * 1024)
        except (urllib.error.URLError, OSError) as exc:
            raise RecoveryError(f"{self.base}: cannot reach the resolution service "
                                f"({getattr(exc, 'reason', exc)})") from None

    @staticmethod
    def _detail(body: bytes) -> str:
        try:
            return str(json.loads(body).get("detail", ""))[:300]
        except (ValueError, AttributeError):
            return ""

    def by_binding(self, alg: str, value: str, max_results: int) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"alg": alg, "value": value, "maxResults": max_results})
        status, body = self._get(f"/matches/byBinding?{query}", "application/json", 1024 * 1024)
        if status == 400 and alg not in self._supported():
            return []  # a service that does not know this algorithm simply has nothing for it
        if status != 200:
            raise RecoveryError(f"{self.base}: /matches/byBinding answered {status} {self._detail(body)}".strip())
        try:
            matches = json.loads(body).get("matches", [])
        except (ValueError, AttributeError):
            raise RecoveryError(f"{self.base}: /matches/byBinding did not answer a query result") from None
        return [m for m in matches if isinstance(m, dict) and isinstance(m.get("manifestId"), str)]

    def _supported(self) -> set[str]:
        status, body = self._get("/services/supportedAlgorithms", "application/json", 1024 * 1024)
        try:
            listed = json.loads(body) if status == 200 else {}
            return {str(item["alg"]) for kind in ("watermarks", "fingerprints") for item in listed.get(kind, [])}
        except (ValueError, AttributeError, KeyError, TypeError):
            return set()

    def manifest(self, manifest_id: str) -> bytes | None:
        status, body = self._get(f"/manifests/{urllib.parse.quote(manifest_id, safe='')}", "application/c2pa",
                                 MAX_STORE_BYTES)
        if status == 404:
            return None
        if status != 200:
            raise RecoveryError(f"{self.base}: /manifests answered {status} {self._detail(body)}".strip())
        if len(body) > MAX_STORE_BYTES:
            raise RecoveryError(f"{self.base}: the manifest store is larger than {MAX_STORE_BYTES} bytes")
        return body


@dataclass(frozen=True)
class RecoveryReport:
    recovered: bool
    through: str | None = None  # "watermark" | "fingerprint" | "embedded" (nothing to recover)
    manifest_id: str | None = None
    similarity: int | None = None
    manifest: ManifestReport | None = None
    summary: str = ""
    searched: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"recovered": self.recovered, "through": self.through, "manifest_id": self.manifest_id,
                "similarity_score": self.similarity, "summary": self.summary, "searched": list(self.searched),
                "manifest": self.manifest.to_dict() if self.manifest is not None else None}


def _bindings(data: bytes) -> list[tuple[str, str, list[str]]]:
    """(through, alg, values to ask in order) read from the image: the watermark payload, then PDQ variants."""
    from ...provenance.verify import verify

    found: list[tuple[str, str, list[str]]] = []
    report = verify(data)
    word = payload_word(report.watermark)
    audio = report.media_type.startswith("audio/")
    if word is not None:
        found.append(("watermark", AUDIO_WATERMARK_ALG if audio else WATERMARK_ALG, [encode_value(word)]))
    image = None if audio else decode_submitted(data)
    if image is not None:
        try:
            hashes = dihedral_hashes(image)
        finally:
            image.close()
        if hashes[0].matchable:
            found.append(("fingerprint", FINGERPRINT_ALG, [encode_value(h.digest) for h in hashes]))
    return found


def _summary(through: str, report: ManifestReport) -> str:
    if not report.found:
        return f"a manifest was found through the {through}, but it cannot be read: {report.reason}"
    binding = ("the asset is unchanged since signing (hard binding matches)" if report.valid else
               "the asset changed after signing (hard binding does not match)" if not report.hard_binding_intact
               else f"the manifest does not validate: {report.reason}")
    return f"credentials recovered through the {through}; {binding}"


def recover(data: bytes, resolution: Resolution, *, max_results: int = 5) -> RecoveryReport:
    media_type = sniff_media_type(data)
    if media_type not in IMAGE_TYPES and media_type not in types_of("audio"):
        raise RecoveryError(f"{media_type or 'unrecognised data'}: recovery reads images ({', '.join(IMAGE_TYPES)}) "
                            "and audio")
    embedded = read_manifest(data, media_type)
    if embedded.found:
        return RecoveryReport(True, "embedded", embedded.manifest_id, None, embedded,
                              "the asset still carries its credentials: nothing to recover")
    searched: list[str] = []
    for through, alg, values in _bindings(data):
        searched.append(alg)
        for value in values:
            matches = resolution.by_binding(alg, value, max_results)
            for match in matches:
                store = resolution.manifest(match["manifestId"])
                if store is None:
                    continue
                report = read_manifest_store(data, media_type, store)
                score = match.get("similarityScore")
                return RecoveryReport(True, through, match["manifestId"], score if isinstance(score, int) else None,
                                      report, _summary(through, report), tuple(searched))
    what = " and ".join(searched) or "nothing (no watermark, and the image is too featureless for a fingerprint)"
    return RecoveryReport(False, summary=f"no credentials found: asked with {what}", searched=tuple(searched))
