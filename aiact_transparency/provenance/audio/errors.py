"""Why a clip could not be marked. `title` is short and stable (it becomes a problem+json title), the message
names the problem and the fix. Mirrors provenance/errors.py's ImageMarkingError family."""

from __future__ import annotations

from ..errors import MarkingError


class AudioMarkingError(MarkingError):
    title = "The audio could not be marked as AI-generated"
    status = 500


class UnsupportedAudioError(AudioMarkingError):
    title = "Unsupported audio format"


class AudioTypeMismatchError(UnsupportedAudioError):
    title = "The audio's Content-Type does not match its data"


class CorruptAudioError(AudioMarkingError):
    title = "The audio data is corrupt"


class AudioTooLongError(AudioMarkingError):
    title = "The audio is too long to mark"


class UnsupportedAudioLayoutError(UnsupportedAudioError):
    title = "Unsupported audio channel count or sample rate"


class MissingAudioExtraError(AudioMarkingError, ImportError):
    title = "Audio marking is not installed"
