"""The few RFC 9651 (Structured Field Values) serialisations the AI-Disclosure header needs.

Hand-written because emitting is small and runs per request; tests check the output with an independent
RFC 9651 parser (http-sf).
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

# Used with fullmatch(): a `$` anchor also matches before a trailing "\n", which would let a line break
# (a header split) through the check.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")


class StructuredFieldError(ValueError):
    pass


def _foldable(ch: str) -> bool:
    """Latin letters, combining marks, spaces, punctuation and digits: folding keeps them recognisably the same."""
    category = unicodedata.category(ch)
    if category[0] in "MZP" or category == "Nd":
        return True
    return category[0] == "L" and "LATIN" in unicodedata.name(ch, "").split()


def fold_to_ascii(text: str) -> str:
    """'Zażółć Łódź Œuvre Þór Straße' -> 'Zazolc Lodz Oeuvre Thor Strasse': Latin script folded to ASCII.

    Folding uses anyascii (ISC, maintained) for Latin letters, marks, spaces, punctuation and digits. The
    rest is left as it is, so the caller's ASCII check refuses it: symbols and emoji ('🎨' would become
    ':art:', no longer the name or id it was), and letters of other scripts (Greek, Cyrillic, CJK...):
    their romanisation depends on the language and on the owner's choice (Bulgarian 'Щ' is 'Sht', Russian
    'Shch'; '東京' reads 'Tokyo' in Japanese, 'DongJing' to anyascii), and a header naming a provider must
    use a spelling the provider uses. `transliterate` offers anyascii's guess for the error message.
    """
    return "".join(ch if ch.isascii() or not _foldable(ch) else anyascii(ch) for ch in text)


def transliterate(text: str) -> str | None:
    """anyascii's romanisation of Greek and Cyrillic letters: a suggestion for a person to confirm, never sent
    unasked. None for other scripts, where a per-letter table guesses wrong too often to suggest anything."""
    foreign = (ch for ch in text if not ch.isascii() and not _foldable(ch))
    if any(unicodedata.name(ch, "").split(" ", 1)[0] not in {"GREEK", "CYRILLIC"} for ch in foreign):
        return None
    return anyascii(text)


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
