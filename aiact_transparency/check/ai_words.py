# The EU languages' own words: Cyrillic and Greek letters that look Latin are meant.
# ruff: noqa: RUF001
"""How the 24 official EU languages say "AI" and "artificial intelligence", to recognise a notice by any library.

Written independently of i18n.py (which says what *we* show), so a notice is recognised by its words, not by
being ours. Abbreviations match as whole upper-case words; phrases match case-insensitively by stem, so
inflected forms ("umělou inteligencí", "künstlicher Intelligenz") and compounds ("tekoälyjärjestelmä") count.
"""

from __future__ import annotations

import re
from functools import lru_cache

# language: (abbreviations, phrase stems)
WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bg": (("ИИ",), (r"изкуствен\w*\s+интелект",)),
    "cs": (("AI", "UI"), (r"uměl\w*\s+inteligenc",)),
    "da": (("AI", "KI"), (r"kunstig\w*\s+intelligens",)),
    "de": (("KI",), (r"künstlich\w*\s+intelligenz",)),
    "el": (("ΤΝ",), (r"τεχνητ\w*\s+νοημοσύν",)),
    "en": (("AI",), (r"artificial\s+intelligence", r"ai-generated", r"generated\s+by\s+ai")),
    "es": (("IA",), (r"inteligencia\s+artificial",)),
    "et": (("TI", "AI"), (r"tehisintellekt", r"tehisaru")),
    "fi": (("AI",), (r"tekoäly",)),
    "fr": (("IA",), (r"intelligence\s+artificielle",)),
    "ga": (("IS", "AI"), (r"intleacht\s+sh?aorga",)),
    "hr": (("UI",), (r"umjetn\w*\s+inteligencij",)),
    "hu": (("MI",), (r"mesterséges\s*intelligenci",)),
    "it": (("IA",), (r"intelligenza\s+artificiale",)),
    "lt": (("DI",), (r"dirbtin\w*\s+intelekt",)),
    "lv": (("MI",), (r"mākslīg\w*\s+intelekt",)),
    "mt": (("IA", "AI"), (r"intelli(?:ġ|g)enza\s+artifi(?:ċ|c)jali",)),
    "nl": (("AI", "KI"), (r"kunstmatig\w*\s+intelligentie",)),
    "pl": (("AI", "SI"), (r"sztuczn\w*\s+inteligencj",)),
    "pt": (("IA",), (r"intelig[êe]ncia\s+artificial",)),
    "ro": (("IA",), (r"inteligen\w*\s+artificial",)),
    "sk": (("AI", "UI"), (r"umel\w*\s+inteligenci",)),
    "sl": (("UI",), (r"umetn\w*\s+inteligenc",)),
    "sv": (("AI",), (r"artificiell\w*\s+intelligens",)),
}


@lru_cache(maxsize=64)
def _pattern(language: str | None) -> re.Pattern[str]:
    chosen = [WORDS[language]] if language in WORDS else list(WORDS.values())
    abbreviations = sorted({a for abbr, _ in chosen for a in abbr})
    phrases = sorted({p for _, stems in chosen for p in stems})
    abbr = "|".join(re.escape(a) for a in abbreviations)
    # An abbreviation as a word of its own: "AI" but not "AIR" or "MAIL"; "AI-generated" and "KI-System" count.
    return re.compile(rf"(?<![^\W\d_])(?:{abbr})(?![^\W\d_])|(?i:{'|'.join(phrases)})")


def mentions_ai(text: str, language: str | None = None) -> bool:
    """Whether the text says AI in `language` (any EU language when None)."""
    return _pattern(language).search(text) is not None


def phrase_language(text: str) -> str | None:
    """The language whose full phrase for "artificial intelligence" the text uses, if exactly one does."""
    found = [lang for lang, (_, stems) in WORDS.items() if re.search("(?i:" + "|".join(stems) + ")", text)]
    return found[0] if len(found) == 1 else None
