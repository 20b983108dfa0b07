"""Error types shared by the XMP container modules."""

from __future__ import annotations


class ImageFormatError(ValueError):
    """The image bytes are malformed, truncated or of an unsupported type.

    A ValueError so that callers validating input can catch one familiar type; the container parsers
    raise nothing else for bad input (no IndexError / struct.error leaks).
    """


class XmpError(ImageFormatError):
    """An XMP packet is malformed or unsafe (DOCTYPE / entity declarations are refused)."""
