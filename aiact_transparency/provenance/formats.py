"""The media types this library recognises and marks: the one table everything else reads.

Pure data and magic-byte sniffing, at the bottom of provenance: the XMP and C2PA writers, the codecs, the
verifier, the registry of markers (media.py), the ASGI responder, Gradio and the CLI all take their types,
aliases and file suffixes from here. A new format is one `Format` line; a new medium is its formats here plus
a `Medium` in media.py (audio: audio/wav, audio/flac, audio/mpeg, audio/mp4; video: video/mp4, video/quicktime).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

__all__ = [
    "ALIASES", "FORMATS", "MARKABLE_TYPES", "SUFFIX_TYPES", "Format", "canonical", "iso_index_missing",
    "sniff_media_type", "types_of",
]


@dataclass(frozen=True)
class Format:
    media_type: str  # canonical, lower case
    medium: str  # "image", "audio", "video", "document": which Medium in media.py marks it
    suffixes: tuple[str, ...]  # file name suffixes, the first one preferred
    aliases: tuple[str, ...] = ()  # other names clients and servers use for the same bytes


FORMATS: tuple[Format, ...] = (
    Format("image/png", "image", (".png",), ("image/x-png",)),
    Format("image/jpeg", "image", (".jpg", ".jpeg", ".jpe"), ("image/jpg", "image/pjpeg")),
    Format("image/webp", "image", (".webp",)),
    # Containerised text: signed with a C2PA manifest only (provenance/document/).
    Format("application/pdf", "document", (".pdf",)),
    Format("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", (".docx",)),
    # The audio aliases are the names servers and browsers send for the same bytes (audio/x-wav is Python's
    # mimetypes answer for .wav; audio/mp3 and audio/x-m4a are common in the wild).
    Format("audio/wav", "audio", (".wav", ".wave"), ("audio/x-wav", "audio/wave", "audio/vnd.wave")),
    Format("audio/flac", "audio", (".flac",), ("audio/x-flac",)),
    Format("audio/mpeg", "audio", (".mp3",), ("audio/mp3",)),
    Format("audio/mp4", "audio", (".m4a", ".mp4a"), ("audio/x-m4a", "audio/m4a")),
    # Video (provenance/video/): the ISO BMFF containers c2pa-python signs. An MP4 holding a video track is
    # video/mp4 whatever its brand; one holding only sound stays audio/mp4 (`_iso_media`).
    Format("video/mp4", "video", (".mp4", ".m4v"), ("video/x-m4v",)),
    Format("video/quicktime", "video", (".mov", ".qt")),
)

ALIASES: dict[str, str] = {alias: fmt.media_type for fmt in FORMATS for alias in fmt.aliases}
# Canonical markable types (what the marker writes into Content-Type); `canonical` maps the aliases onto them.
MARKABLE_TYPES: frozenset[str] = frozenset(fmt.media_type for fmt in FORMATS)

# Types `sniff_media_type` recognises but no medium marks: named in errors, and in the CLI's suffix check.
_RECOGNISED_ONLY = {
    ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".avif": "image/avif", ".heic": "image/heic",
    ".heif": "image/heif", ".jxl": "image/jxl", ".bmp": "image/bmp", ".ogg": "audio/ogg", ".opus": "audio/ogg",
    ".aiff": "audio/aiff", ".aif": "audio/aiff", ".webm": "video/webm", ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
}
# File name suffix -> the media type the name promises.
SUFFIX_TYPES: dict[str, str] = {
    **{suffix: fmt.media_type for fmt in FORMATS for suffix in fmt.suffixes},
    **_RECOGNISED_ONLY,
}


def canonical(media_type: str) -> str:
    """The bare, lower-case, de-aliased type of a Content-Type value: 'image/JPG; q=1' -> 'image/jpeg'."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


def types_of(medium: str) -> frozenset[str]:
    """The canonical types one medium marks."""
    return frozenset(fmt.media_type for fmt in FORMATS if fmt.medium == medium)


def sniff_media_type(data: bytes) -> str | None:
    """Media type from magic bytes; None when unknown. Covers the formats an image or audio service meets."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data.startswith(b"\xff\x0a") or data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "image/jxl"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1"):
            return "image/heic"
        return _iso_media(data, brand)
    if data.startswith(b"BM") and len(data) >= 14:
        return "image/bmp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    return _sniff_audio(data)


# Brands that say video when the file's moov box cannot be found (truncated): the rest of the ISO brands FFmpeg
# writes (isom, mp42, dash) are used for sound-only files as well, and stay audio/mp4 as before.
_VIDEO_BRANDS = {b"qt  ": "video/quicktime", b"M4V ": "video/mp4", b"avc1": "video/mp4", b"iso2": "video/mp4",
                 b"mp41": "video/mp4"}
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"mp42", b"isom", b"dash")
_MAX_TOP_BOXES = 64


def _top_box(data: bytes, kind: bytes) -> bytes | None:
    """The payload of the first top-level ISO BMFF box of `kind`, walking box sizes (mdat is jumped over)."""
    pos = 0
    for _ in range(_MAX_TOP_BOXES):
        if pos + 8 > len(data):
            return None
        size, header = int.from_bytes(data[pos : pos + 4], "big"), 8
        if size == 1:  # a 64-bit size follows the type
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - pos
        if size < header:
            return None
        if data[pos + 4 : pos + 8] == kind:
            return data[pos + header : pos + size]
        pos += size
    return None


def iso_index_missing(data: bytes) -> bool:
    """An ISO BMFF (MP4, MOV) file without its index (moov box): cut short before it, or an unfinished upload."""
    return data[4:8] == b"ftyp" and _top_box(data, b"moov") is None


def _iso_media(data: bytes, brand: bytes) -> str | None:
    """An MP4/MOV file's medium from its track handlers (hdlr: version/flags, a component type, then the
    handler type 'vide' or 'soun'; QuickTime and ISO BMFF place it alike), else from its major brand."""
    moov = _top_box(data, b"moov")
    handlers: set[bytes] = set()
    if moov is not None:
        start = moov.find(b"hdlr")
        while start >= 0 and len(handlers) < 8:
            handlers.add(moov[start + 12 : start + 16])
            start = moov.find(b"hdlr", start + 4)
    if b"vide" in handlers:
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if b"soun" in handlers and brand in (*_AUDIO_BRANDS, b"qt  "):
        return "audio/mp4"
    if moov is None and brand in _VIDEO_BRANDS:
        return _VIDEO_BRANDS[brand]
    return "audio/mp4" if brand in _AUDIO_BRANDS else None


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_DOCX_PARTS = frozenset({"[content_types].xml", "word/document.xml"})  # OPC part names are case-insensitive


def _sniff_zip(data: bytes) -> str | None:
    """DOCX: a ZIP whose central directory names [Content_Types].xml and word/document.xml. zipfile reads only
    the end record and the central directory here (no entry is decompressed); any other ZIP, and a truncated
    one, is None."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = {name.lower() for name in package.namelist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return None
    return _DOCX if names >= _DOCX_PARTS else None


def _sniff_audio(data: bytes) -> str | None:
    """FLAC and MP3 (either may start with an ID3v2 tag), Ogg and AIFF (recognised, not marked)."""
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    start = 0
    if len(data) >= 10 and data[:3] == b"ID3":  # 10-byte header + syncsafe size (+ a 10-byte footer)
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10])) + (10 if data[5] & 0x10 else 0)
    if data[start : start + 4] == b"fLaC":
        return "audio/flac"
    head = data[start : start + 2]
    if len(head) == 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2:  # MPEG frame sync, layer III
        return "audio/mpeg"
    return "audio/mpeg" if start and len(data) > start else None
