# The translation notes quote Cyrillic letters that look Latin; ruff's confusable-character check would flag them.
# ruff: noqa: RUF003
"""Localized disclosure texts and Accept-Language negotiation.

Art. 50 of the EU AI Act requires telling people they interact with an AI system "in a clear
and distinguishable manner"; a notice in a language the reader does not understand is neither.  This
module therefore ships the default banner sentences in all 24 official EU languages (<lang>.json), picks one per request
from the ``Accept-Language`` header (RFC 9110 §12.5.4, RFC 4647 "lookup" matching) and renders text as
pure-ASCII HTML so the injected banner is valid whatever ASCII-compatible charset the host page declares.

Templates use ``str.format`` placeholders ``{system}`` and ``{provider}``.  Values substituted into them
come from configuration, so callers must pass the *formatted* text through :func:`to_ascii_html` (not the
other way round) to keep configured names escaped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

__all__ = [
    "DEFAULT_LANGUAGE",
    "MESSAGES",
    "OFFICIAL_EU_LANGUAGES",
    "PAGE_STRINGS",
    "SUPPORTED_LANGUAGES",
    "Messages",
    "get_messages",
    "negotiate",
    "to_ascii_html",
]

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Messages:
    """Banner texts for one language.

    ``notice`` and ``link`` are visible, ``label`` is the ``aria-label`` of the banner landmark (so screen
    readers announce the region), ``sse`` is a one-line notice suitable for a ``text/event-stream`` comment.
    """

    notice: str
    link: str
    label: str
    sse: str


# The texts are data: one <lang>.json per language beside this module, each with the banner's sentences
# ("banner") and the discovery page's ("page"), read once at import. Translation notes (why some sentences
# are not word-for-word):
# * Provider names are inserted verbatim, so languages that would need to inflect the name (fi, et, lt, lv,
#   pl) attach it via a neutral apposition like "(provider: X)" instead of a genitive.
# * Greek uses ";" as a question mark, so its notice is two sentences rather than using a semicolon.
# * French puts a no-break space before ";" (written as an escape so it stays visible in review).
# * Romanian uses comma-below ș/ț (U+0219/U+021B), not the cedilla forms.
# * Terminology follows the official language versions of Regulation (EU) 2024/1689 where it has a term
#   ("система с ИИ", "KI-System", "tekoälyjärjestelmä", "mesterségesintelligencia-rendszer", ...).
def _load() -> dict[str, dict[str, dict[str, str]]]:
    folder = resources.files(__package__)
    data = {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }
    reference = data[DEFAULT_LANGUAGE]  # English is the source text
    for language, texts in data.items():
        for section in ("banner", "page"):
            if set(texts.get(section, ())) != set(reference[section]):
                raise RuntimeError(f"i18n/{language}.json: the {section!r} keys differ from en.json")
    return data


_TEXTS = _load()
_MESSAGES: dict[str, Messages] = {language: Messages(**texts["banner"]) for language, texts in sorted(_TEXTS.items())}
# The discovery page's sentences per language (disclosure/discovery_page.py renders them).
PAGE_STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {language: MappingProxyType(texts["page"]) for language, texts in sorted(_TEXTS.items())}
)

# Read-only view: the defaults are shared by every request, so nobody should be able to patch them in place.
MESSAGES: Mapping[str, Messages] = MappingProxyType(_MESSAGES)
OFFICIAL_EU_LANGUAGES: tuple[str, ...] = tuple(sorted(_MESSAGES))
SUPPORTED_LANGUAGES: frozenset[str] = frozenset(_MESSAGES)


def get_messages(language: str) -> Messages:
    """Return the shipped texts for *language* (a negotiated tag), falling back to English.

    Region subtags are dropped (``de-AT`` -> ``de``) because only primary languages are shipped.
    """
    found = _MESSAGES.get(language.lower())
    if found is None:
        found = _MESSAGES.get(language.lower().replace("_", "-").split("-", 1)[0])
    return found if found is not None else _MESSAGES[DEFAULT_LANGUAGE]


# --- Accept-Language negotiation -----------------------------------------------------------------------

# Bounds against hostile headers: parsing cost and cache-key size stay constant no matter what arrives.
_MAX_HEADER_CHARS = 4096
_MAX_RANGES = 50
# RFC 4647 §2.1 basic language range (lowercased before matching); "*" is handled separately.
_RANGE_RE = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8})*\Z")
# RFC 9110 §12.4.2 qvalue: 0..1 with at most three decimals; anything else makes the range invalid.
_QVALUE_RE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")


@dataclass(frozen=True, slots=True)
class _ParsedHeader:
    # Acceptable (q > 0) ranges including "*", best first; equal weights keep header order.
    preferred: tuple[str, ...]
    # Weight of every valid range, including q=0 exclusions and "*". A repeated range is ambiguous, so only
    # its first occurrence counts (for both fields).
    weights: Mapping[str, float]


_EMPTY = _ParsedHeader(preferred=(), weights=MappingProxyType({}))


# Memory bound: keys are truncated to _MAX_HEADER_CHARS before the call and values hold at most _MAX_RANGES
# short tags, so 256 entries stay around 2 MB even if every entry is a maximal hostile header. Real traffic
# has few distinct Accept-Language values, so hit rates are high and eviction of junk is harmless.
@lru_cache(maxsize=256)
def _parse(header: str) -> _ParsedHeader:
    entries: list[tuple[float, int, str]] = []
    weights: dict[str, float] = {}
    for position, item in enumerate(header.split(",", _MAX_RANGES)[:_MAX_RANGES]):
        tag, *params = item.split(";")
        # Browsers never send "_", but hand-written clients do ("en_US"); accepting it costs nothing.
        tag = tag.strip().lower().replace("_", "-")
        if tag in weights or (tag != "*" and not _RANGE_RE.match(tag)):
            continue
        weight: float | None = 1.0
        for param in params:
            name, sep, value = param.partition("=")
            if name.strip().lower() != "q":
                continue  # Accept-Language defines no other parameters; ignore extensions.
            value = value.strip()
            # A range with a garbled weight says nothing reliable about the user's wish; drop it.
            weight = float(value) if sep and _QVALUE_RE.match(value) else None
            break
        if weight is None:
            continue
        weights[tag] = weight
        if weight > 0.0:
            entries.append((-weight, position, tag))
    if not weights:
        return _EMPTY
    entries.sort()  # (-q, position): highest weight first, header order among ties.
    return _ParsedHeader(preferred=tuple(tag for _, _, tag in entries), weights=MappingProxyType(weights))


def _truncations(tag: str) -> Iterator[str]:
    """RFC 4647 §3.4 lookup fallback: ``zh-hant-cn-x-a`` -> ``zh-hant-cn`` -> ``zh-hant`` -> ``zh``."""
    yield tag
    while "-" in tag:
        tag = tag.rsplit("-", 1)[0]
        # A trailing singleton ("x", "u", ...) only introduces the removed extension, never stands alone.
        if len(tag) > 1 and tag[-2] == "-":
            tag = tag[:-2]
        yield tag


def _is_excluded(tag: str, weights: Mapping[str, float]) -> bool:
    """q=0 applies to the most specific range covering *tag*; otherwise to ``*;q=0``.

    So ``de;q=0`` also rules out ``de-AT`` content, while ``de;q=0, de-AT`` still allows ``de-AT``.
    """
    for prefix in _truncations(tag):
        weight = weights.get(prefix)
        if weight is not None:
            return weight == 0.0
    return weights.get("*") == 0.0


@dataclass(frozen=True, slots=True)
class _Index:
    by_lower: Mapping[str, str]  # lowercase tag -> spelling used by the caller
    ordered: tuple[tuple[str, str], ...]  # same pairs, sorted, for deterministic prefix/wildcard scans


def _build_index(available: Collection[str]) -> _Index:
    by_lower = {lang.lower(): lang for lang in sorted(available, reverse=True)}
    return _Index(by_lower=by_lower, ordered=tuple(sorted(by_lower.items())))


# Callers normally pass the same frozenset/tuple on every request; 32 distinct language sets is plenty.
_build_index_cached = lru_cache(maxsize=32)(_build_index)


def negotiate(accept_language: str | None, available: Collection[str], default: str = DEFAULT_LANGUAGE) -> str:
    """Pick the best language of *available* for an ``Accept-Language`` header value.

    Ranges are tried best weight first (header order on ties). For each range an exact tag match wins, then
    RFC 4647 lookup truncation (``de-AT`` -> ``de``), then the first available sub-tag of the range (``pt`` ->
    ``pt-BR``). ``*`` selects *default*. Languages excluded with ``q=0`` are never returned except as
    *default* itself, which is also the answer when nothing matches. Never raises on malformed input.
    The returned value is spelled as in *available*.
    """
    if not accept_language:
        return default
    if len(accept_language) > _MAX_HEADER_CHARS:
        # Cut at a range boundary so a half-cut tag ("de-A") cannot sneak in as a different range.
        accept_language = accept_language[:_MAX_HEADER_CHARS].rpartition(",")[0]
    parsed = _parse(accept_language)
    if not parsed.preferred:
        return default
    # Hashable collections (the common case: a constant) hit the cache; others are indexed per call.
    index = _build_index_cached(available) if isinstance(available, frozenset | tuple) else _build_index(available)
    weights = parsed.weights
    for wanted in parsed.preferred:
        if wanted == "*":
            if not _is_excluded(default.lower(), weights):
                return default
            # Default was refused explicitly: any other acceptable language honours the wildcard better.
            for lower, lang in index.ordered:
                if not _is_excluded(lower, weights):
                    return lang
            continue
        for candidate in _truncations(wanted):
            match = index.by_lower.get(candidate)
            if match is not None and not _is_excluded(candidate, weights):
                return match
        prefix = wanted + "-"
        for lower, lang in index.ordered:
            if lower.startswith(prefix) and not _is_excluded(lower, weights):
                return lang
    return default


# --- ASCII-only HTML ----------------------------------------------------------------------------------

_SURROGATES_RE = re.compile("[\ud800-\udfff]")


def to_ascii_html(text: str) -> str:
    """HTML-escape *text* and encode every non-ASCII code point as ``&#NNNN;``.

    The banner is spliced into pages whose charset we do not control (UTF-8, windows-1252, Shift_JIS, ...);
    pure ASCII with character references decodes identically in all ASCII-compatible encodings.
    """
    escaped = html.escape(text, quote=True)
    if escaped.isascii():
        return escaped
    # Lone surrogates would become "&#55296;", which HTML parsers reject; emit U+FFFD as they would.
    escaped = _SURROGATES_RE.sub("\ufffd", escaped)
    return escaped.encode("ascii", "xmlcharrefreplace").decode("ascii")
