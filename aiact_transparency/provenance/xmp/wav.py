"""XMP in WAV: a ``_PMX`` RIFF chunk holding the packet (Adobe XMP Specification Part 3, "WAV"), which exiftool
and Adobe's tools read. Added after the audio data, as Adobe's writer does; other chunks are kept in order."""

from __future__ import annotations

from .riff import riff_chunks_of, riff_file

_XMP = b"_PMX"


def extract_wav(data: bytes) -> bytes | None:
    for fourcc, payload in riff_chunks_of(data, b"WAVE", "WAV"):
        if fourcc == _XMP:
            return payload
    return None


def insert_wav(data: bytes, xmp: bytes) -> bytes:
    chunks = [c for c in riff_chunks_of(data, b"WAVE", "WAV") if c[0] != _XMP]
    chunks.append((_XMP, xmp))
    return riff_file(b"WAVE", chunks)
