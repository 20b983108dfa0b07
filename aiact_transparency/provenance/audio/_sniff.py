"""Which audio format bytes are, from their signature, and whether that matches the declared Content-Type."""

from __future__ import annotations

from ..formats import sniff_media_type
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


_NAMES = {media_type: name for name, media_type in CANONICAL_TYPE.items()}


def sniff(data: bytes) -> str | None:
    """'wav', 'flac', 'mp3', 'm4a', or None when the signature is none of these (formats.py's sniffing)."""
    return _NAMES.get(sniff_media_type(data) or "")


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
