"""IPTC/XMP "AI-generated" metadata written into encoded image bytes, pixels untouched (EU AI Act Art. 50(2)).

The packet carries ``Iptc4xmpExt:DigitalSourceType`` (IPTC Extension, full NewsCodes URI), ``xmp:CreatorTool``
and, when a model is named, ``Iptc4xmpExt:AISystemUsed`` / ``AISystemVersionUsed`` (IPTC Photo Metadata
2025.1). Existing XMP is merged, never dropped: the Code of Practice asks not to strip earlier marks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..formats import canonical, sniff_media_type
from .errors import ImageFormatError, XmpError
from .jpeg import extract_jpeg, insert_jpeg
from .packet import (
    NS_IPTC_EXT,
    NS_X,
    NS_XMP,
    check_xml_text,
    clark,
    find_property,
    find_rdf,
    new_root,
    parse_packet,
    serialize_packet,
    set_properties,
)
from .png import extract_png, insert_png
from .wav import extract_wav, insert_wav
from .webp import extract_webp, insert_webp

__all__ = [
    "COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI",
    "DIGITAL_SOURCE_TYPE_VOCABULARY",
    "TRAINED_ALGORITHMIC_MEDIA_URI",
    "XMP_TYPES",
    "ImageFormatError",
    "XmpError",
    "add_ai_xmp",
    "build_xmp",
    "extract_xmp",
    "insert_xmp",
    "read_digital_source_type",
    "sniff_media_type",
]

DIGITAL_SOURCE_TYPE_VOCABULARY = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA_URI = DIGITAL_SOURCE_TYPE_VOCABULARY + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA_URI = DIGITAL_SOURCE_TYPE_VOCABULARY + "compositeWithTrainedAlgorithmicMedia"

_INSERTERS = {"image/png": insert_png, "image/jpeg": insert_jpeg, "image/webp": insert_webp, "audio/wav": insert_wav}
_EXTRACTORS = {"image/png": extract_png, "image/jpeg": extract_jpeg, "image/webp": extract_webp,
               "audio/wav": extract_wav}
# The containers XMP is written into. Not (yet) FLAC, MP3 and M4A: exiftool reads XMP from an ID3v2 PRIV frame
# and from MP4's uuid box, but those writers are not built; their C2PA manifest carries the source type.
XMP_TYPES = frozenset(_INSERTERS)


def _resolve(data: bytes, media_type: str | None) -> str:
    """The container to parse: the sniffed type, which must agree with a declared one."""
    sniffed = sniff_media_type(data)
    if media_type is not None:
        declared = canonical(media_type)
        # A Content-Type header can lie; parsing JPEG bytes as PNG would only produce a confusing error.
        if sniffed is not None and declared != sniffed:
            raise ImageFormatError(f"declared media type {declared} but the bytes are {sniffed}")
        sniffed = sniffed or declared
    if sniffed is None:
        raise ImageFormatError("unrecognised image data (no known magic bytes)")
    return sniffed


def build_xmp(
    *,
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA_URI,
    creator_tool: str,
    model: str | None,
    model_version: str | None = None,
    existing: bytes | None = None,
) -> bytes:
    """A complete XMP packet (UTF-8) with our properties, merged into ``existing`` when given.

    Raises XmpError when ``existing`` is malformed or declares a DOCTYPE/entities, ValueError for bad arguments.
    """
    if not digital_source_type.startswith(DIGITAL_SOURCE_TYPE_VOCABULARY):
        raise ValueError(f"digital_source_type must be a full URI under {DIGITAL_SOURCE_TYPE_VOCABULARY}")
    props = {
        clark(NS_IPTC_EXT, "DigitalSourceType"): digital_source_type,
        clark(NS_XMP, "CreatorTool"): creator_tool,
    }
    # Only claim what we know: without a model, any AI-system value already present stays.
    if model is not None:
        props[clark(NS_IPTC_EXT, "AISystemUsed")] = model
    if model_version is not None:
        props[clark(NS_IPTC_EXT, "AISystemVersionUsed")] = model_version
    for qname, value in props.items():
        check_xml_text(value, qname.rpartition("}")[2])
    prefixes: dict[str, str] = {}
    if existing is None:
        root = new_root()
    else:
        root, prefixes = parse_packet(existing)
    rdf = find_rdf(root)
    if root.tag not in (clark(NS_X, "xmpmeta"), clark(NS_X, "xapmeta")):
        # A bare rdf:RDF (allowed by XMP Part 1) or a foreign wrapper: re-home the RDF under x:xmpmeta.
        root = ET.Element(clark(NS_X, "xmpmeta"))
        root.append(rdf)
    set_properties(rdf, props)
    return serialize_packet(root, prefixes)


def insert_xmp(data: bytes, media_type: str, xmp: bytes) -> bytes:
    """``data`` with ``xmp`` as its only XMP packet; other bytes (pixels, ICC, Exif, chunks) kept as they were."""
    kind = _resolve(data, media_type)
    inserter = _INSERTERS.get(kind)
    if inserter is None:
        raise ImageFormatError(f"writing XMP into {kind} is not supported (PNG, JPEG, WebP and WAV are)")
    return inserter(data, xmp)


def extract_xmp(data: bytes, media_type: str | None = None) -> bytes | None:
    """The raw XMP packet of a PNG, JPEG, WebP or WAV file, or None when it has none."""
    kind = _resolve(data, media_type)
    extractor = _EXTRACTORS.get(kind)
    if extractor is None:
        raise ImageFormatError(f"reading XMP from {kind} is not supported (PNG, JPEG, WebP and WAV are)")
    return extractor(data)


def read_digital_source_type(data: bytes) -> str | None:
    """``Iptc4xmpExt:DigitalSourceType`` of an image, or None; XmpError when its XMP is malformed or unsafe."""
    packet = extract_xmp(data)
    if packet is None:
        return None
    root, _ = parse_packet(packet)
    return find_property(root, NS_IPTC_EXT, "DigitalSourceType")


def add_ai_xmp(
    data: bytes,
    media_type: str | None = None,
    *,
    creator_tool: str,
    model: str | None,
    model_version: str | None = None,
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA_URI,
) -> bytes:
    """Extract, merge and re-insert in one call; idempotent, so marking the same output twice is harmless."""
    kind = _resolve(data, media_type)
    packet = build_xmp(
        digital_source_type=digital_source_type,
        creator_tool=creator_tool,
        model=model,
        model_version=model_version,
        existing=extract_xmp(data, kind),
    )
    return insert_xmp(data, kind, packet)
