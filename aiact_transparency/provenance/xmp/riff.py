"""RIFF containers (WebP, WAV): the top-level chunks, and a file rebuilt from them. Shared by both XMP writers."""

from __future__ import annotations

import struct

from .errors import ImageFormatError


def riff_chunks_of(data: bytes, form: bytes, name: str) -> list[tuple[bytes, bytes]]:
    """The top-level (fourcc, payload) chunks of a RIFF `form` file (b"WEBP", b"WAVE"); ImageFormatError naming
    `name` when the container is malformed."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != form:
        raise ImageFormatError(f"not a {name} file (no RIFF/{form.decode()} header)")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    riff_end = 8 + riff_size
    if riff_end > len(data):
        raise ImageFormatError(f"{name} truncated: RIFF declares {riff_size} bytes, file has {len(data) - 8}")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < riff_end:
        if pos + 8 > riff_end:
            raise ImageFormatError(f"{name} malformed: incomplete chunk header at offset {pos}")
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        end = pos + 8 + size
        if end > riff_end:
            raise ImageFormatError(f"{name} truncated: chunk {fourcc!r} at offset {pos} runs past the RIFF end")
        chunks.append((fourcc, data[pos + 8 : end]))
        # Odd-sized chunks carry a pad byte; some writers omit it on the last chunk, which readers accept.
        pos = end + (size & 1)
    return chunks


def riff_file(form: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
        for fourcc, payload in chunks
    )
    return b"RIFF" + struct.pack("<I", len(body) + 4) + form + body
