"""Which audio format bytes are, from their signature, and whether that matches the declared Content-Type."""

from __future__ import annotations

from .errors import AudioTypeMismatchError, CorruptAudioError, UnsupportedAudioError

# Content-Type (lower case, parameters stripped) -> our format name.
MEDIA_TYPES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
}
CANONICAL_TYPE = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "m4a": "audio/mp4"}


def _skip_id3(data: bytes) -> int:
    """Length of a leading ID3v2 tag (10-byte header + syncsafe size), 0 if none."""
    if len(data) >= 10 and data[:3] == b"ID3":
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        return 10 + size + (10 if data[5] & 0x10 else 0)
    return 0


def sniff(data: bytes) -> str | None:
    """'wav', 'flac', 'mp3', 'm4a', or None when the signature is none of these."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "m4a"
    start = _skip_id3(data)
    if data[start : start + 4] == b"fLaC":
        return "flac"
    head = data[start : start + 2]
    if len(head) == 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2:  # MPEG frame sync, layer III
        return "mp3"
    return "mp3" if start and len(data) > start else None


def media_format(data: bytes, content_type: str | None) -> str:
    """The format of `data`, checked against `content_type` when one is given."""
    if not data:
        raise CorruptAudioError("the audio body is empty (zero bytes): send the encoded file")
    declared = None
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        declared = MEDIA_TYPES.get(media)
        if declared is None:
            raise UnsupportedAudioError(
                f"Content-Type {media!r} is not an audio type this library marks; supported: "
                + ", ".join(sorted(MEDIA_TYPES))
            )
    found = sniff(data)
    if found is None:
        if declared is None:
            raise UnsupportedAudioError(
                "the data is not WAV, FLAC, MP3 or MP4/AAC audio (no known signature in its first bytes)"
            )
        raise CorruptAudioError(
            f"the data declared as {content_type} does not start like {declared.upper()} audio: corrupt or not audio"
        )
    if declared is not None and declared != found:
        raise AudioTypeMismatchError(
            f"the Content-Type says {content_type} ({declared}) but the data is {found.upper()} audio; "
            f"send it as {CANONICAL_TYPE[found]}"
        )
    return found
