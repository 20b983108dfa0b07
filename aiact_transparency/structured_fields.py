"""The few RFC 9651 (Structured Field Values) serialisations the AI-Disclosure header needs.

Hand-written because emitting is small and runs per request; tests check the output with an independent
RFC 9651 parser (http-sf).
"""

from __future__ import annotations

import re
import unicodedata

# Used with fullmatch(): a `$` anchor also matches before a trailing "\n", which would let a line break
# (a header split) through the check.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")


class StructuredFieldError(ValueError):
    pass


def fold_to_ascii(text: str) -> str:
    """'Müller Ærø' -> 'Muller AEro': drop accents so Latin-script names fit an RFC 9651 String."""
    decomposed = unicodedata.normalize("NFKD", text.replace("Æ", "AE").replace("æ", "ae").replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("Ø", "O").replace("ø", "o")


def sf_string(value: str) -> str:
    """Serialise an sf-string (RFC 9651 §4.1.6): printable ASCII only, with '\\' and '"' escaped."""
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise StructuredFieldError(f"{value!r} is not printable ASCII and cannot be an RFC 9651 String")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sf_token(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise StructuredFieldError(f"{value!r} is not an RFC 9651 Token")
    return value


def sf_dictionary(members: list[tuple[str, str]]) -> str:
    """Members already serialised as bare items; keys checked. Members are separated by ', ' (§4.1.2)."""
    for key, _ in members:
        if not _KEY.fullmatch(key):
            raise StructuredFieldError(f"{key!r} is not an RFC 9651 key")
    return ", ".join(f"{key}={value}" for key, value in members)
