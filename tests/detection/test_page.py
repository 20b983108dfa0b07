"""The page: 24 languages with every key, WCAG contrast, labelled controls, escaping (html5lib parses it)."""

from __future__ import annotations

import json
import string
import xml.etree.ElementTree as ET
from importlib import resources

import pytest

from aiact_transparency.detection.page import COLOURS, MESSAGES, render_page
from aiact_transparency.disclosure import i18n
from tests.tools import require_module

require_module("html5lib")

import html5lib  # noqa: E402


def _luminance(colour: str) -> float:
    channels = [int(colour[i: i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the usual AA boundary grey


@pytest.mark.parametrize("name", sorted(COLOURS))
def test_every_text_colour_pair_meets_aa(name: str) -> None:
    assert contrast(*COLOURS[name]) >= 4.5, name


def test_the_24_official_languages_ship_every_key_with_the_same_placeholders() -> None:
    folder = resources.files("aiact_transparency.detection").joinpath("messages")
    files = {path.name for path in folder.iterdir() if path.name.endswith(".json")}
    assert files == {f"{lang}.json" for lang in i18n.OFFICIAL_EU_LANGUAGES} and len(files) == 24
    english = MESSAGES["en"]
    for lang in i18n.OFFICIAL_EU_LANGUAGES:
        data = json.loads(folder.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        assert set(data) == set(english), lang
        for key, text in data.items():
            assert text.strip(), (lang, key)
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert fields == {f for _, f, _, _ in string.Formatter().parse(english[key]) if f}, (lang, key)
        if lang != "en":  # translated, not copied (technical names such as "metadata" may coincide)
            assert data["title"] != english["title"] and data["verdict_none"] != english["verdict_none"], lang


def test_the_page_names_every_medium_the_detector_reads() -> None:
    """The detector reads images, audio, video, PDF and DOCX as well as text: the page says so, in every language."""
    assert MESSAGES["en"]["intro"] == ("Upload a file (an image, audio, video or a PDF or Word document) or paste "
                                       "text to check whether it carries marks of AI generation, and whether {system} "
                                       "made it.")
    assert MESSAGES["en"]["file_label"] == "File (image, audio, video or document)"
    for lang, texts in MESSAGES.items():
        # The document formats by their names (the same in every language), and no list of image formats only.
        assert "PDF" in texts["intro"] and "Word" in texts["intro"] and "WebP" not in texts["intro"], lang
    page, _ = render_page("en", system="Acme Studio", action="/detect", discovery_path="/about")
    label = next(label for label in _tree(page).iter("label") if label.get("for") == "file")
    assert label.text == "File (image, audio, video or document)"


def _tree(page: bytes) -> ET.Element:
    tree: ET.Element = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False)
    return tree


@pytest.mark.parametrize("lang", i18n.OFFICIAL_EU_LANGUAGES)
def test_the_page_is_accessible_in_every_language(lang: str) -> None:
    page, written_in = render_page(lang, system="Acme Studio", action="/detect", discovery_path="/about",
                                   nonce="n0nce")
    assert written_in == lang and page.isascii()
    tree = _tree(page)
    assert tree.get("lang") == lang
    assert len(tree.findall(".//h1")) == 1 and tree.find(".//main") is not None
    form = tree.find(".//form")
    assert form is not None and form.get("method") == "post" and form.get("enctype") == "multipart/form-data"
    labelled = {label.get("for") for label in tree.iter("label")}
    for control in [*tree.iter("input"), *tree.iter("textarea")]:
        assert control.get("id") in labelled
    status = [node for node in tree.iter() if node.get("role") == "status"]
    assert len(status) == 1 and status[0].get("id") == "result"
    assert all(node.get("style") is None for node in tree.iter())  # the CSP allows no style attributes
    assert [s.get("nonce") for s in tree.iter("script")] == ["n0nce"]


def test_configured_names_and_layer_text_are_escaped() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    result = {"verdict": "not-detected", "based_on": ["metadata"], "layers": {
        "c2pa": {"found": True, "checked": True, "based_on": hostile, "system": hostile}}}
    page, _ = render_page("en", system=hostile, action="/d", discovery_path="/a", result=result)
    assert b"<img" not in page and page.count(b"&lt;img") >= 3
