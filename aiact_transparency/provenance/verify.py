"""verify: which marks a file carries, one section per layer, each saying what its finding is based on.

The Code of Practice asks providers to offer detection that says what its result rests on; this is it.
Nothing here raises on hostile input: a layer that cannot be read reports why.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from ._c2pa_read import read_manifest
from .watermark import detect_watermark, system_id_for
from .xmp import ImageFormatError, read_digital_source_type, sniff_media_type

if TYPE_CHECKING:
    from ..config import TransparencyConfig

AI_SOURCE_TYPES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
)
_MAX_VERIFY_PIXELS = 40_000_000  # as images.max_pixels: decoding and scanning more costs seconds and GBs


@dataclass(frozen=True)
class VerificationReport:
    media_type: str | None
    c2pa: dict[str, Any]
    xmp: dict[str, Any]
    watermark: dict[str, Any]

    @property
    def marked(self) -> bool:
        """True when any layer says AI-generated: a valid manifest, the XMP source type, or our watermark."""
        c2pa_ok = self.c2pa.get("found") and self.c2pa.get("valid")
        return bool(c2pa_ok or self.xmp.get("ai_generated") or self.watermark.get("found"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "media_type": self.media_type,
            "marked": self.marked,
            "c2pa": self.c2pa,
            "xmp": self.xmp,
            "watermark": self.watermark,
        }


def _c2pa_section(data: bytes, media_type: str | None, trust_anchors_pem: bytes | None) -> dict[str, Any]:
    if media_type is None:
        return {"found": False, "based_on": "unrecognised file type: no C2PA reader applies"}
    report = read_manifest(data, media_type, trust_anchors_pem=trust_anchors_pem).to_dict()
    if report["found"]:
        trust = "trusted signer" if report["trusted"] else "signer NOT on a trust list (e.g. a development chain)"
        report["based_on"] = f"C2PA manifest, signature and hard binding checked: {report['validation_state']}; {trust}"
    else:
        report["based_on"] = report.get("reason") or "no C2PA manifest"
    return report


def _xmp_section(data: bytes) -> dict[str, Any]:
    try:
        source_type = read_digital_source_type(data)
    except ImageFormatError as exc:
        return {"found": False, "ai_generated": False, "based_on": f"XMP unreadable: {exc}"}
    return {
        "found": source_type is not None,
        "digital_source_type": source_type,
        "ai_generated": source_type in AI_SOURCE_TYPES,
        "based_on": "Iptc4xmpExt:DigitalSourceType in the file's XMP (unsigned: anyone can write or strip it)"
        if source_type
        else "no Iptc4xmpExt:DigitalSourceType in the file's XMP",
    }


def _watermark_section(
    data: bytes, sizes: Sequence[tuple[int, int]], system_name: str | None, max_pixels: int = _MAX_VERIFY_PIXELS
) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.size[0] * image.size[1] > max_pixels:
                return {"found": False, "based_on": "image too large to scan for a watermark"}
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        return {"found": False, "based_on": f"pixels cannot be decoded: {exc}"}
    detection = detect_watermark(image, candidate_sizes=sizes)
    section: dict[str, Any] = detection.to_dict()
    if detection.payload is not None and system_name is not None:
        section["system_matches"] = detection.payload.system_id == system_id_for(system_name)
    return section


def verify(
    data: bytes,
    *,
    config: TransparencyConfig | None = None,
    candidate_sizes: Sequence[tuple[int, int]] = (),
    system_name: str | None = None,
    trust_anchors_pem: bytes | None = None,
) -> VerificationReport:
    """Check every layer. `candidate_sizes` undo rescaling for the watermark; `system_name` names ours.

    With a `config`, both default to what it says (images.generated_sizes, system.name), and its
    images.max_pixels bounds the image the watermark scan decodes (else 40 megapixels).
    """
    max_pixels = _MAX_VERIFY_PIXELS
    if config is not None:
        candidate_sizes = candidate_sizes or config.images.generated_sizes
        system_name = system_name or config.system.name
        # A tiny file can declare tens of megapixels: decoding and scanning one costs seconds and GBs.
        max_pixels = config.images.max_pixels
    media_type = sniff_media_type(data)
    return VerificationReport(
        media_type=media_type,
        c2pa=_c2pa_section(data, media_type, trust_anchors_pem),
        xmp=_xmp_section(data),
        watermark=_watermark_section(data, candidate_sizes, system_name, max_pixels),
    )
