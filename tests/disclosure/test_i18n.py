from __future__ import annotations

import dataclasses
import html
import unicodedata

import pytest

from aiact_transparency.disclosure.i18n import (
    DEFAULT_LANGUAGE,
    MESSAGES,
    OFFICIAL_EU_LANGUAGES,
    SUPPORTED_LANGUAGES,
    Messages,
    get_messages,
    negotiate,
    to_ascii_html,
)

EU24 = [
    *("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr"),
    *("hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"),
]
AVAILABLE = frozenset(OFFICIAL_EU_LANGUAGES)


def test_all_official_languages_present_and_sorted() -> None:
    assert list(OFFICIAL_EU_LANGUAGES) == EU24
    assert set(MESSAGES) == set(EU24) == SUPPORTED_LANGUAGES
    assert DEFAULT_LANGUAGE == "en"


@pytest.mark.parametrize("lang", EU24)
def test_texts_complete_and_formattable(lang: str) -> None:
    msg = MESSAGES[lang]
    assert all(getattr(msg, f.name).strip() for f in dataclasses.fields(msg))
    assert "{system}" in msg.notice and "{provider}" in msg.notice
    assert "{system}" in msg.sse
    notice = msg.notice.format(system="ChatBot", provider="ACME")
    assert "ChatBot" in notice and "ACME" in notice and "{" not in notice
    assert "ChatBot" in msg.sse.format(system="ChatBot", provider="ACME")
    for text in (msg.link, msg.label):  # no placeholders, but must survive .format() unchanged
        assert text.format(system="x", provider="y") == text
    # Stored NFC so byte-level comparisons and character references are canonical.
    assert all(unicodedata.is_normalized("NFC", getattr(msg, f.name)) for f in dataclasses.fields(msg))


def test_native_scripts_and_diacritics() -> None:
    assert any("\u0400" <= c <= "\u04ff" for c in MESSAGES["bg"].notice)  # Cyrillic
    assert any("\u0370" <= c <= "\u03ff" for c in MESSAGES["el"].notice)  # Greek
    assert ";" not in MESSAGES["el"].notice  # ";" is the Greek question mark
    assert "\u015f" not in MESSAGES["ro"].notice and "\u0163" not in MESSAGES["ro"].notice  # no cedilla s/t
    assert "ț" in MESSAGES["ro"].notice
    assert "ü" in MESSAGES["de"].notice and "ġ" in MESSAGES["mt"].notice


def test_messages_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MESSAGES["en"].notice = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        MESSAGES["xx"] = MESSAGES["en"]  # type: ignore[index]
    assert isinstance(MESSAGES["en"], Messages)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("de", "de"), ("DE-at", "de"), ("pt_BR", "pt"), ("zz", "en"), ("", "en")],
)
def test_get_messages_fallback(lang: str, expected: str) -> None:
    assert get_messages(lang) is MESSAGES[expected]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
        ("en;q=0.5, sv;q=0.8", "sv"),  # weight beats order
        ("it, es", "it"),  # ties keep header order
        ("it;q=0.8, es;q=0.8", "it"),
        ("es;q=0.800, it;q=0.801", "it"),
    ],
)
def test_negotiate_weights_and_order(header: str, expected: str) -> None:
    assert negotiate(header, AVAILABLE) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("de-AT", "de"), ("pt-BR,en;q=0.5", "pt"), ("sr-Latn-RS, hr;q=0.9", "hr"), ("zh-Hant-TW-x-foo", "en")],
)
def test_negotiate_regional_fallback(header: str, expected: str) -> None:
    assert negotiate(header, AVAILABLE) == expected


def test_negotiate_exact_tag_beats_prefix_and_keeps_spelling() -> None:
    available = ("en", "pt", "pt-BR")
    assert negotiate("pt-br", available) == "pt-BR"
    assert negotiate("pt-PT", available) == "pt"
    assert negotiate("PT", available) == "pt"
    assert negotiate("pt", ["en", "pt-BR"]) == "pt-BR"  # a range also covers its sub-tags


def test_negotiate_case_insensitive() -> None:
    assert negotiate("DE-DE;Q=0.9, EN;Q=0.1", AVAILABLE) == "de"


def test_negotiate_wildcard() -> None:
    assert negotiate("*", AVAILABLE) == "en"
    assert negotiate("ja, *;q=0.1", AVAILABLE, default="fr") == "fr"
    assert negotiate("*, de", AVAILABLE) == "en"  # wildcard first in order -> default
    assert negotiate("en;q=0, *", AVAILABLE) == "bg"  # default refused: first other acceptable language


def test_negotiate_q_zero_excludes() -> None:
    assert negotiate("de;q=0, fr;q=0.5", AVAILABLE) == "fr"
    assert negotiate("de;q=0, *", AVAILABLE, default="de") == "bg"  # later wildcard does not revive it
    assert negotiate("de-AT, de;q=0", AVAILABLE) == "en"  # excluded primary blocks the fallback
    assert negotiate("de;q=0, de-AT", ("de-AT", "en")) == "de-AT"  # more specific range wins
    assert negotiate("fr;q=0.0", AVAILABLE) == "en"
    assert negotiate("*;q=0, sv", AVAILABLE) == "sv"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        ",,,;;;",
        "de;q=",
        "de;q=1.5",
        "de;q=0.1234",
        "de;q=-1",
        "de;q=abc",
        "d e",
        "123",
        "en-",
        "-en",
        "toolonglang",
        "de;q=x;q=0.5",  # the first weight counts
        "\x00\udcff\u00e9",
        ";q=1",
        "*-de",
    ],
)
def test_negotiate_garbage_falls_back(header: str | None) -> None:
    assert negotiate(header, AVAILABLE) == "en"


def test_negotiate_skips_only_the_malformed_range() -> None:
    assert negotiate("de;q=2, fr", AVAILABLE) == "fr"
    assert negotiate("en_GB, x;y=1, sv;foo=bar", AVAILABLE) == "en"
    assert negotiate("garbage!!, sv;foo=bar", AVAILABLE) == "sv"
    assert negotiate("de ; q = 0.5 , fr;q=0.4", AVAILABLE) == "de"  # optional whitespace


def test_negotiate_bounds_huge_headers() -> None:
    assert negotiate("ja, " * 49 + "de", AVAILABLE) == "de"  # range 50 is still read
    assert negotiate("ja, " * 50 + "de", AVAILABLE) == "en"  # range 51 is not
    assert negotiate("x" * 10_000, AVAILABLE) == "en"
    assert negotiate("de," + "a" * 10_000, AVAILABLE) == "de"
    # A tag cut at the 4 KB boundary must not be read as a shorter tag.
    assert negotiate("," * 4094 + "de-AT", AVAILABLE) == "en"


def test_negotiate_accepts_any_collection() -> None:
    for available in (["fr", "en"], {"fr", "en"}, ("fr", "en"), frozenset({"fr", "en"}), MESSAGES.keys()):
        assert negotiate("fr-FR", available) == "fr"
    assert negotiate("fr", [], default="en") == "en"


def test_to_ascii_html_ascii_and_round_trip() -> None:
    for lang in EU24:
        text = MESSAGES[lang].notice.format(system="Bot <β>", provider='A & "B"')
        out = to_ascii_html(text)
        assert out.isascii()
        assert html.unescape(out) == text
    assert to_ascii_html("naïve 😀") == "na&#239;ve &#128512;"


def test_to_ascii_html_escapes_markup() -> None:
    assert to_ascii_html("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert to_ascii_html('a & "b"') == "a &amp; &quot;b&quot;"
    assert to_ascii_html("plain") == "plain"
    assert to_ascii_html("\ud800") == "&#65533;"  # lone surrogate -> U+FFFD, not an invalid reference
