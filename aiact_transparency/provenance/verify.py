"""verify: which marks a file carries, one section per layer, each saying what its finding is based on.

The Code of Practice asks providers to offer detection that says what its result rests on; this is it.
Bytes that are not PNG, JPEG, WebP, WAV, FLAC, MP3, M4A, MP4 or MOV raise UnsupportedImageError ("not a supported
medium: ..."): "no AI marks found" would be an answer about a medium that was never read; documents (PDF,
DOCX) are read by `verify_document`, which `verify` hands them to. Audio is read with the `audio` extra,
video with the `video` extra (imported when such a file arrives, so image verification works without them). Within
those formats nothing raises on hostile input: a layer that cannot be read reports why. Pixels are decoded
with the sniffed format's Pillow plugin only, so an untrusted file never reaches another decoder (EPS would
reach Ghostscript).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from .c2pa.reading import read_manifest
from .errors import UnsupportedImageError
from .formats import sniff_media_type, types_of
from .image.codec import SUPPORTED
from .image.watermark import detect_watermark, system_id_for
from .xmp import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI,
    TRAINED_ALGORITHMIC_MEDIA_URI,
    XMP_TYPES,
    ImageFormatError,
    read_digital_source_type,
)

if TYPE_CHECKING:
    from ..config import TransparencyConfig

# The IPTC digital source types that say "made (or edited) with generative AI": IPTC's own user guide labels
# them "Created using generative AI" and "Edited using generative AI". The rest of the vocabulary does not
# say that, so a manifest or XMP packet carrying one of them is reported with its type but is not an AI mark:
# algorithmicMedia ("created purely by an algorithm not based on any sampled training data", e.g. a fractal),
# compositeSynthetic (at least one synthetic element, which may be CGI), composite (elements "which may or may
# not be generative AI"), algorithmicallyEnhanced (non-generative correction such as sharpening), dataDrivenMedia,
# digitalArt / digitalCreation, virtualRecording, screenCapture, the captures and film scans, and the retired
# softwareImage / minorHumanEdits. Claiming "AI-generated" for them would claim a mark the file does not make.
AI_SOURCE_TYPES = (TRAINED_ALGORITHMIC_MEDIA_URI, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI)
_MAX_VERIFY_PIXELS = 40_000_000  # as images.max_pixels: decoding and scanning more costs seconds and GBs


@dataclass(frozen=True)
class VerificationReport:
    media_type: str  # an image, audio or video type (verify) or a document type (verify_document) of formats.py
    c2pa: dict[str, Any]
    xmp: dict[str, Any]
    watermark: dict[str, Any]

    @property
    def marked(self) -> bool:
        """True when any layer says AI-generated: a valid manifest or the XMP whose digital source type is one of
        AI_SOURCE_TYPES, or our watermark. A valid manifest of a camera (digitalCapture) is no AI mark."""
        return bool(self.c2pa.get("ai_generated") or self.xmp.get("ai_generated") or self.watermark.get("found"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "media_type": self.media_type,
            "marked": self.marked,
            "c2pa": self.c2pa,
            "xmp": self.xmp,
            "watermark": self.watermark,
        }


def _c2pa_section(data: bytes, media_type: str, trust_anchors_pem: bytes | None) -> dict[str, Any]:
    report = read_manifest(data, media_type, trust_anchors_pem=trust_anchors_pem).to_dict()
    source_type = report["digital_source_type"]
    report["ai_generated"] = bool(report["found"] and report["valid"] and source_type in AI_SOURCE_TYPES)
    if report["found"]:
        trust = "trusted signer" if report["trusted"] else "signer NOT on a trust list (e.g. a development chain)"
        if source_type is None:
            declared = "its c2pa.created action declares no digital source type: not an AI mark"
        elif source_type in AI_SOURCE_TYPES:
            declared = f"its c2pa.created action declares {source_type}"
        else:
            declared = f"its c2pa.created action declares {source_type}, which is not an AI type: not an AI mark"
        report["based_on"] = (f"C2PA manifest, signature and hard binding checked: {report['validation_state']}; "
                              f"{trust}; {declared}")
        if report["reason"]:  # why it is not valid (a broken hard binding, a bad signature): not an AI mark
            report["based_on"] += f"; NOT valid, so no AI mark: {report['reason']}"
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
        "based_on": f"Iptc4xmpExt:DigitalSourceType {source_type} in the file's XMP"
        f"{'' if source_type in AI_SOURCE_TYPES else ', which is not an AI type'} "
        "(unsigned: anyone can write or strip it)"
        if source_type
        else "no Iptc4xmpExt:DigitalSourceType in the file's XMP",
    }


def _watermark_section(
    data: bytes,
    media_type: str,
    sizes: Sequence[tuple[int, int]],
    system_name: str | None,
    max_pixels: int = _MAX_VERIFY_PIXELS,
) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[SUPPORTED[media_type]])
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


def _audio_watermark_section(data: bytes, system_name: str | None, config: TransparencyConfig | None
                             ) -> dict[str, Any]:
    try:  # the audio extra is optional: image verification must not need it
        from .audio.reading import audio_watermark_section
    except ImportError:
        return {"found": False, "based_on": "not read: install aiact-transparency[audio] to read audio watermarks"}
    if config is None:
        return audio_watermark_section(data, system_name)
    return audio_watermark_section(data, system_name, config.audio.max_seconds)


def _video_watermark_section(data: bytes, system_name: str | None, config: TransparencyConfig | None
                             ) -> dict[str, Any]:
    try:  # the video extra is optional: image verification must not need it
        from .video.codec import VideoLimits
        from .video.reading import video_watermark_section
    except ImportError:
        return {"found": False, "based_on": "not read: install aiact-transparency[video] to read video watermarks"}
    if config is None:
        return video_watermark_section(data, system_name)
    video = config.video
    return video_watermark_section(data, system_name, seconds=video.detect_seconds,
                                   limits=VideoLimits(max_seconds=video.max_seconds, max_pixels=video.max_pixels))


def verify(
    data: bytes,
    *,
    config: TransparencyConfig | None = None,
    candidate_sizes: Sequence[tuple[int, int]] = (),
    system_name: str | None = None,
    trust_anchors_pem: bytes | None = None,
) -> VerificationReport:
    """Check every layer. `candidate_sizes` undo rescaling for the watermark; `system_name` names ours.

    Raises UnsupportedImageError (an ImageMarkingError) for bytes that are not an image, audio, video or document
    (PDF, DOCX: handed to `verify_document`) file it reads. A
    video's watermark section has one reading per layer (`layers`: frames, soundtrack) and `found_by`.

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
    if media_type in types_of("document"):  # one entry point for every medium: the bytes decide
        return verify_document(data, config=config, trust_anchors_pem=trust_anchors_pem)
    if media_type in types_of("audio"):
        return VerificationReport(
            media_type=media_type,
            c2pa=_c2pa_section(data, media_type, trust_anchors_pem),
            xmp=_xmp_section(data) if media_type in XMP_TYPES else {
                "found": False, "ai_generated": False, "based_on": f"XMP is not read from {media_type} files"},
            watermark=_audio_watermark_section(data, system_name, config),
        )
    if media_type in types_of("video"):
        return VerificationReport(
            media_type=media_type,
            c2pa=_c2pa_section(data, media_type, trust_anchors_pem),
            xmp={"found": False, "ai_generated": False, "based_on": f"XMP is not read from {media_type} files"},
            watermark=_video_watermark_section(data, system_name, config),
        )
    if media_type not in types_of("image"):
        found = f"{media_type} data" if media_type else "unrecognised data"
        raise UnsupportedImageError(
            f"not a supported medium: {found}; verify reads PNG, JPEG, WebP, WAV, FLAC, MP3, M4A (AAC), MP4, "
            "MOV, PDF and DOCX files")
    return VerificationReport(
        media_type=media_type,
        c2pa=_c2pa_section(data, media_type, trust_anchors_pem),
        xmp=_xmp_section(data),
        watermark=_watermark_section(data, media_type, candidate_sizes, system_name, max_pixels),
    )


def verify_document(data: bytes, *, config: TransparencyConfig | None = None, trust_anchors_pem: bytes | None = None,
                    **_: Any) -> VerificationReport:
    """A document's (PDF's, DOCX's) C2PA manifest; documents carry no XMP we write and no watermark
    (document/marker.py). A DOCX saved again after signing (deflated by Word) reads as a broken binding, or,
    when c2pa cannot read the package, as no manifest with the reason: an answer, never an exception."""
    media_type = sniff_media_type(data)
    if media_type not in types_of("document"):
        found = f"{media_type} data" if media_type else "unrecognised data"
        if data.startswith(b"PK\x03\x04"):
            found = "a ZIP archive that is not a DOCX (or a truncated one)"
        raise UnsupportedImageError(f"not a document: {found}; verify_document reads PDF and DOCX files")
    c2pa = _c2pa_section(data, media_type, trust_anchors_pem)
    if not c2pa["found"] and "compression method not supported" in c2pa["based_on"]:
        c2pa["based_on"] += ("; the package's entries were compressed after signing (saved again by an editor), "
                             "and c2pa-python reads stored entries only: whatever manifest it holds no longer binds")
    absent = {"found": False, "ai_generated": False}
    xmp_reason = "not read for documents (this library writes none into them)"
    mark_reason = "no watermark is embedded in documents: the C2PA manifest is their mark"
    return VerificationReport(
        media_type=media_type,
        c2pa=c2pa,
        xmp={**absent, "reason": xmp_reason, "based_on": xmp_reason},
        watermark={**absent, "reason": mark_reason, "based_on": mark_reason},
    )
