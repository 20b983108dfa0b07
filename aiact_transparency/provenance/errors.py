"""Why a file could not be marked. `title` is short and stable (it becomes a problem+json title)."""

from __future__ import annotations


class MarkingError(Exception):
    """Any medium's marking failure (ImageMarkingError, audio's AudioMarkingError): what responders catch."""

    title = "The content could not be marked as AI-generated"
    status = 500


class ImageMarkingError(MarkingError):
    title = "The image could not be marked as AI-generated"
    status = 500


class UnsupportedImageError(ImageMarkingError):
    title = "Unsupported image format"


class CorruptImageError(ImageMarkingError):
    title = "The image data is corrupt"


class ImageTooLargeError(ImageMarkingError):
    title = "The image is too large to mark"


class SigningError(ImageMarkingError):
    title = "The content credentials could not be signed"


class TruncatedMediaError(MarkingError):
    """An MP4/MOV file without its index: which medium it holds cannot even be told."""

    title = "The file is truncated"
