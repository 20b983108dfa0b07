"""detect_bytes / detect_text: the detector's answer for one submission, used by the endpoint and the CLI.

The same verify code as `aiact-transparency verify`, per layer (C2PA, XMP, watermark, fingerprint), then one
verdict (verdict.py). Nothing is kept: the content is read, hashed for the result and dropped by the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config.detection import DetectionSettings
from ..provenance.formats import FORMATS, sniff_media_type, types_of
from ..provenance.text.marking import verify_text
from ..provenance.verify import verify, verify_document
from .fingerprint import FingerprintIndex, fingerprint_layer
from .layers import c2pa_layer, not_applicable, watermark_layer, xmp_layer
from .verdict import combine

if TYPE_CHECKING:
    from ..config import TransparencyConfig
    from ..provenance.keys import ManifestSigner, SigningIdentity
    from ..provenance.text.watermark import TextWatermarkReport

__all__ = ["IMAGE_TYPES", "MEDIA_TYPES", "TEXT_TYPE", "DetectionResult", "Detector", "UnsupportedContent",
           "detect_bytes", "detect_text", "rfc3339_now"]

# What verify() reads (image/png, image/jpeg, image/webp), in the registry's order.
IMAGE_TYPES = tuple(fmt.media_type for fmt in FORMATS if fmt.medium == "image")
# Every file type the detector reads: each medium the registry marks (audio and video need their extras to read
# the watermark; without them that layer says what to install), documents (PDF, DOCX: their manifest only).
MEDIA_TYPES = tuple(fmt.media_type for fmt in FORMATS)
_DOCUMENT_TYPES = types_of("document")
TEXT_TYPE = "text/plain"
LOCAL_DETECTOR = f"aiact-transparency/{__version__} (local, command line)"
TextScorer = Callable[[str], "TextWatermarkReport"]
TEXT_EVIDENCE = {"c2pa": "the C2PA text manifest", "watermark": "the text watermark",
                 "fingerprint": "the text fingerprint (MinHash of its words) in this system's log"}


class UnsupportedContent(ValueError):
    """Neither a file type the registry reads nor text: the message names what is supported."""


def rfc3339_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class DetectionResult:
    verdict: str
    based_on: list[str]
    explanation: str
    media_type: str
    layers: dict[str, dict[str, Any]]
    content_sha256: str
    notes: tuple[str, ...] = ()

    def to_dict(self, detector: str = LOCAL_DETECTOR, checked_at: str | None = None) -> dict[str, Any]:
        return {"verdict": self.verdict, "based_on": self.based_on, "explanation": self.explanation,
                "media_type": self.media_type, "layers": self.layers, "content_sha256": self.content_sha256,
                "notes": list(self.notes), "detector": detector, "checked_at": checked_at or rfc3339_now()}


def _text_watermark(text: str, scorer: TextScorer | None) -> dict[str, Any]:
    if scorer is None:
        return not_applicable("text watermark detection is not configured on this deployment "
                              "(text.watermark.key and text.watermark.tokenizer)")
    report = scorer(text)
    layer = report.to_dict()
    too_short = report.verdict == "too-short"
    layer.update(checked=not too_short, ai_mark=report.found, this_system=report.found, too_short=too_short,
                 false_positive_bound=report.p_value if report.found else None)
    if too_short:
        layer["based_on"] = f"too short to decide: {report.based_on}"
    elif report.found:  # the green lists derive from this system's secret key: only it can have written them
        layer["based_on"] = f"{report.based_on}; keyed with this system's secret, so it is this system's watermark"
    return layer


class Detector:
    """Everything constant for one deployment; `detect_bytes` / `detect_text` per submission. Thread-safe."""

    def __init__(self, config: TransparencyConfig, *, settings: DetectionSettings | None = None,
                 signer: ManifestSigner | None = None, fingerprints: FingerprintIndex | None = None,
                 text_scorer: TextScorer | None = None) -> None:
        self.config = config
        self.settings = settings if settings is not None else config.detection
        self.system_name = config.system.name
        self.fingerprints = fingerprints
        self.text_scorer = text_scorer
        anchors = self.settings.trust_anchors
        self.trust_anchors_pem = config.resolve_path(anchors).read_bytes() if anchors is not None else None
        self._signer = signer
        self._lock = threading.Lock()

    @property
    def signer(self) -> ManifestSigner:
        """The system's signer (for attribution and signed results), loaded once on first use."""
        with self._lock:
            if self._signer is None:
                from ..provenance.keys.configured import signer_for

                self._signer = signer_for(self.config)
            return self._signer

    @property
    def identity(self) -> SigningIdentity:
        from ..provenance.keys import SigningIdentity

        found = getattr(self.signer, "identity", None)
        if isinstance(found, SigningIdentity):
            return found
        return SigningIdentity.from_chain(self.signer.certificate_chain_pem, self.signer.alg)

    def sign(self, payload: dict[str, Any]) -> str:
        """The result as a compact JWS, saying who signs it and whether that is the untrusted development chain."""
        from .jws import sign_compact

        identity = self.identity.describe()
        signed_by = {key: identity[key] for key in ("subject", "issuer", "fingerprint_sha256", "development", "trust")}
        return sign_compact({**payload, "signed_by": signed_by}, self.signer)

    def detect_bytes(self, data: bytes, declared_type: str | None = None) -> DetectionResult:
        """An image, audio, video or document file (the bytes decide, whatever `declared_type` says) or UTF-8
        text."""
        sniffed = sniff_media_type(data)
        if sniffed in MEDIA_TYPES:
            notes = () if declared_type in (None, sniffed, "application/octet-stream") else (
                f"declared as {declared_type}, the content is {sniffed}: read as {sniffed}",)
            return self._media(data, sniffed, notes)
        if declared_type in (None, TEXT_TYPE) and sniffed is None:
            try:
                return self.detect_text(data.decode("utf-8"), raw=data)
            except UnicodeDecodeError:
                pass
        found = f"{sniffed} data" if sniffed else f"{declared_type or 'unrecognised'} content"
        raise UnsupportedContent(f"{found} cannot be checked; this detector reads {', '.join(MEDIA_TYPES)} "
                                 f"and {TEXT_TYPE} (UTF-8)")

    def _media(self, data: bytes, media_type: str, notes: tuple[str, ...]) -> DetectionResult:
        document = media_type in _DOCUMENT_TYPES
        read = verify_document if document else verify
        report = read(data, config=self.config, trust_anchors_pem=self.trust_anchors_pem)
        c2pa = report.c2pa
        identity = self.identity if c2pa.get("found") and c2pa.get("valid") else None
        if document:  # nothing but the manifest is written into a document: the other layers were not looked for
            xmp, watermark = (not_applicable(f"not applicable: {report.xmp['based_on']}"),
                              not_applicable(f"not applicable: {report.watermark['based_on']}"))
        else:
            xmp, watermark = xmp_layer(report.xmp), watermark_layer(report.watermark, self.system_name)
        layers = {"c2pa": c2pa_layer(c2pa, identity, self.system_name), "xmp": xmp, "watermark": watermark,
                  "fingerprint": fingerprint_layer(self.fingerprints, data, media_type)}
        return self._result(layers, media_type, data, notes)

    def detect_text(self, text: str, *, raw: bytes | None = None) -> DetectionResult:
        check = verify_text(text, trust_anchors_pem=self.trust_anchors_pem)
        raw = raw if raw is not None else text.encode("utf-8", "surrogatepass")
        if check.manifest is not None:
            section = {**check.manifest.to_dict(), "found": True, "valid": check.valid, "status": check.status,
                       "based_on": check.based_on, "notes": list(check.notes)}
            identity = self.identity if check.valid else None
        else:
            section, identity = {"found": False, "valid": False, "status": check.status,
                                 "based_on": check.based_on}, None
        layers = {"c2pa": c2pa_layer(section, identity, self.system_name),
                  "xmp": not_applicable("not applicable: plain text carries no XMP"),
                  "watermark": _text_watermark(text, self.text_scorer),
                  "fingerprint": fingerprint_layer(self.fingerprints, raw, TEXT_TYPE)}
        result = self._result(layers, TEXT_TYPE, raw, ())
        key = "this_system" if result.verdict == "generated-by-this-system" else "ai_mark"
        rests_on = [TEXT_EVIDENCE[name] for name, layer in layers.items() if layer.get(key) and name in TEXT_EVIDENCE]
        if not rests_on:
            return result
        # "metadata" and "fingerprint" alone do not say which text mark it was: name it (issue 14 item 5).
        return replace(result, explanation=f"{result.explanation}; for this text that is {' and '.join(rests_on)}")

    @staticmethod
    def _result(layers: dict[str, dict[str, Any]], media_type: str, data: bytes,
                notes: tuple[str, ...]) -> DetectionResult:
        verdict = combine(layers)
        return DetectionResult(verdict.verdict, verdict.based_on, verdict.explanation, media_type, layers,
                               hashlib.sha256(data).hexdigest(), notes)


def detect_bytes(data: bytes, *, config: TransparencyConfig, declared_type: str | None = None,
                 fingerprints: FingerprintIndex | None = None, text_scorer: TextScorer | None = None
                 ) -> DetectionResult:
    return Detector(config, fingerprints=fingerprints, text_scorer=text_scorer).detect_bytes(data, declared_type)


def detect_text(text: str, *, config: TransparencyConfig, fingerprints: FingerprintIndex | None = None,
                text_scorer: TextScorer | None = None) -> DetectionResult:
    return Detector(config, fingerprints=fingerprints, text_scorer=text_scorer).detect_text(text)
