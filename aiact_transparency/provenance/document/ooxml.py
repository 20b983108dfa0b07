"""A DOCX package rewritten with STORED (uncompressed) entries, so that c2pa-python can sign it.

Why: c2pa-python's ZIP reader has no Deflate. Verified against 0.38.1 (the newest on PyPI): signing a DOCX
as Word, LibreOffice or python-docx write it (every entry deflated) fails with "asset could not be parsed:
could not read the ZIP: compression method not supported: 8", while the same package with stored entries
signs and reads back valid (c2pa-rs adds META-INF/content_credential.c2pa to it). So before signing, the
package is rewritten entry for entry: the same part names in the same order, the same content, timestamps
and attributes, each stored. Nothing inside a part changes except one line in [Content_Types].xml (below).

What it costs: size. The XML parts are no longer compressed, so a text-only document grows about 5 to 25
times (python-docx's default template: 37 KB deflated, 0.8 MB stored); pictures, already compressed JPEG or
PNG, do not grow. An editor that saves the package again compresses it (which, like any edit, breaks the
manifest's hard binding; verify then says the package could not be read, or that the binding is broken).

The content type: OPC requires one for every part (ECMA-376 Part 2, [M2.4]: "the Content Types stream
[shall] contain ... a matching Default or Override element for every part"), and a conforming reader may refuse
a package whose META-INF/content_credential.c2pa has none (python-docx does not care: it reads only the parts
relationships lead to). So a `Default` for the .c2pa extension (application/c2pa, the manifest store's
registered type) goes into [Content_Types].xml before signing, and the hard binding covers it.

Untrusted input: the declared sizes are bounded before anything is decompressed (a ZIP bomb is refused), a
decompressed part never exceeds its declared size (zipfile stops there and checks the CRC), and encrypted
entries, ZIP64 records, duplicate names and compression methods other than stored and deflate are refused.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile

from ..errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError

__all__ = ["C2PA_CONTENT_TYPE", "MAX_ENTRIES", "stored_package"]

CONTENT_TYPES = "[Content_Types].xml"
C2PA_CONTENT_TYPE = "application/c2pa"
# A Word document has a few dozen parts (one per picture, header, footer...); tens of thousands are no document.
MAX_ENTRIES = 10_000
_ZIP64_EXTRA = 0x0001
_C2PA_DEFAULT = re.compile(r"""<(?:\w+:)?Default\b[^>]*\bExtension\s*=\s*["']c2pa["']""", re.IGNORECASE)
_TYPES_START = re.compile(r"<(\w+:)?Types\b[^>]*?>")


def stored_package(data: bytes, *, max_bytes: int) -> bytes:
    """The DOCX `data` with every entry stored and a content type for .c2pa parts.

    `max_bytes` bounds the parts' total uncompressed size (what the stored package then weighs). Raises
    CorruptImageError (not a readable ZIP), ImageTooLargeError (above the bound or MAX_ENTRIES: a ZIP bomb
    is refused before it is decompressed) or UnsupportedImageError (encrypted, ZIP64, other compression)."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        entries = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise CorruptImageError(f"the DOCX is not a readable ZIP package ({exc}); send the file as Word saved it"
                                ) from exc
    _check(entries, max_bytes)
    out = io.BytesIO()
    try:
        with package, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=False) as stored:
            for entry in entries:
                content = package.read(entry)
                if entry.filename == CONTENT_TYPES:
                    content = with_c2pa_content_type(content)
                copy = zipfile.ZipInfo(entry.filename, entry.date_time)
                copy.compress_type = zipfile.ZIP_STORED
                copy.external_attr, copy.create_system, copy.comment = (entry.external_attr, entry.create_system,
                                                                        entry.comment)
                copy.extra = entry.extra  # e.g. extended timestamps; ZIP64 records were refused above
                stored.writestr(copy, content)
            stored.comment = package.comment
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        # A part whose bytes do not match its CRC or size, a truncated stream, a broken deflate stream.
        raise CorruptImageError(f"a part of the DOCX cannot be read ({exc}); the package is damaged") from exc
    return out.getvalue()


def _check(entries: list[zipfile.ZipInfo], max_bytes: int) -> None:
    if len(entries) > MAX_ENTRIES:
        raise ImageTooLargeError(f"the DOCX has {len(entries)} entries, above the {MAX_ENTRIES} a document has")
    names = [entry.filename for entry in entries]
    if len(set(names)) != len(names):
        raise UnsupportedImageError("the DOCX names one part twice: an ambiguous package is not signed")
    if CONTENT_TYPES not in names:
        raise UnsupportedImageError(f"the DOCX has no {CONTENT_TYPES}: not an Office Open XML package")
    total = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise UnsupportedImageError(f"the DOCX part {entry.filename} is encrypted; remove the password and "
                                        "send the document again")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsupportedImageError(f"the DOCX part {entry.filename} uses ZIP compression method "
                                        f"{entry.compress_type}; only stored and deflate are read")
        if _has_zip64(entry.extra):
            raise UnsupportedImageError(f"the DOCX part {entry.filename} carries a ZIP64 record; a document "
                                        "within images.max_bytes needs none: save it again with Word")
        total += entry.file_size
        if total > max_bytes:
            raise ImageTooLargeError(f"the DOCX's parts add up to more than {max_bytes} bytes uncompressed "
                                     "(images.max_bytes; the signed package stores them uncompressed)")


def _has_zip64(extra: bytes) -> bool:
    at = 0
    while at + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, at)
        if header_id == _ZIP64_EXTRA:
            return True
        at += 4 + size
    return False


def with_c2pa_content_type(content_types: bytes) -> bytes:
    """[Content_Types].xml with a Default for the .c2pa extension (unchanged if it has one), in its own
    encoding: UTF-8 (with or without a byte order mark) or UTF-16, the two OPC allows."""
    if content_types.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif content_types.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        text = content_types.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnsupportedImageError(f"the DOCX's {CONTENT_TYPES} is neither UTF-8 nor UTF-16 ({exc})") from exc
    if _C2PA_DEFAULT.search(text):
        return content_types
    start = _TYPES_START.search(text)
    if start is None or start.group(0).endswith("/>"):
        raise UnsupportedImageError(f"the DOCX's {CONTENT_TYPES} has no Types element: the package is damaged")
    default = f'<{start.group(1) or ""}Default Extension="c2pa" ContentType="{C2PA_CONTENT_TYPE}"/>'
    return (text[: start.end()] + default + text[start.end():]).encode(encoding)
