"""Why a video could not be marked. `title` is short and stable (it becomes a problem+json title), the message
names the problem and the fix. Mirrors audio/errors.py."""

from __future__ import annotations

from ..errors import MarkingError


class VideoMarkingError(MarkingError):
    title = "The video could not be marked as AI-generated"
    status = 500


class UnsupportedVideoError(VideoMarkingError):
    title = "Unsupported video format"


class CorruptVideoError(VideoMarkingError):
    title = "The video data is corrupt"


class VideoTooLargeError(VideoMarkingError):
    title = "The video is too large to mark"


class MissingVideoExtraError(VideoMarkingError, ImportError):
    title = "Video marking is not installed"
