"""The discovery page and document say what is true, in the visitor's language, accessibly.

The page is checked with html5lib (parses without a single error, as a browser reads it), for WCAG 2.1 AA
basics a machine can check (contrast of every colour pair the page declares, landmarks, one h1, lang, no
script), and for plain words (no Python reprs). The JSON is checked against what the middleware really
serves: route by route SSE notices, and the signer's trust.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.disclosure import i18n
from aiact_transparency.disclosure.discovery_page import PAGE_STRINGS
from tests.tools import require_module

require_module("html5lib")

import html5lib  # noqa: E402

from tests.whatwg import parse_errors  # noqa: E402

pytestmark = pytest.mark.anyio

PATH = "/.well-known/ai-disclosure"


def _app(config: TransparencyConfig) -> TransparencyMiddleware:
    async def events(request: Request) -> Response:
        async def stream() -> Any:
            yield b"data: 1\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return TransparencyMiddleware(Starlette(routes=[Route("/{p:path}", events)]), config=config)


async def _get(app: Any, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def _page(config: TransparencyConfig, language: str) -> httpx.Response:
    return await _get(_app(config), PATH, accept="text/html", **{"accept-language": language})


def _config(**images: Any) -> TransparencyConfig:
    return TransparencyConfig(
        system={"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example",
                "purpose": "Generates illustrations"},
        model={"id": "acme/studio-xl", "license": "apache-2.0"},
        images={"enabled": True, "routes": ["/generate*"], **images},
    )  # fmt: skip


# -- the JSON: the machine interface ----------------------------------------------------------------------


async def test_the_document_says_the_development_signer_is_untrusted() -> None:
    document = (await _get(_app(_config()), PATH)).json()
    signer = document["marking"]["images"]["signer"]
    assert signer["untrusted"] is True and signer["development"] is True and "UNTRUSTED" in signer["trust"]
    # Names, dates and a fingerprint only: nothing of the key.
    assert set(signer) == {"subject", "issuer", "not_after", "fingerprint_sha256", "development", "trust", "untrusted"}
    assert "PRIVATE" not in json.dumps(document)


async def test_no_signer_is_claimed_when_nothing_is_signed() -> None:
    document = (await _get(_app(_config(c2pa=False)), PATH)).json()
    assert document["marking"]["images"]["signer"] is None
    off = (await _get(_app(TransparencyConfig(images={"enabled": False})), PATH)).json()
    assert off["marking"]["images"]["enabled"] is False and off["marking"]["images"]["signer"] is None


@pytest.mark.parametrize(
    "routes",
    [
        [{"path": "/quiet/*", "sse": False}],
        [{"path": "/health", "mode": "none"}, {"path": "/loud/*", "sse": True}],
    ],
    ids=["route-off", "mode-none"],
)
async def test_sse_notice_claims_match_what_each_route_serves(routes: Any) -> None:
    rules = [{("event_stream" if k == "sse" else k): v for k, v in rule.items()} for rule in routes]
    await assert_sse_claims_hold(TransparencyConfig(disclosure={"event_stream": True, "routes": rules}))


async def assert_sse_claims_hold(config: TransparencyConfig) -> None:
    """The discovery document's per-route SSE claims are what each route really serves (also used for the
    routes Gradio's helpers configure: tests/gradio/test_discovery_claims.py)."""
    app = _app(config)
    document = (await _get(app, PATH)).json()["disclosure"]
    claims = {rule["path"]: rule["event_stream_notice"] for rule in document["routes"]}
    assert claims, document
    for pattern, claimed in claims.items():
        path = pattern.replace("*", "x")
        served = (await _get(app, path)).text.startswith(": AI-Disclosure")
        assert served is claimed, (pattern, document)
    assert (await _get(app, "/elsewhere")).text.startswith(": AI-Disclosure") is document["default"][
        "event_stream_notice"
    ]


# -- the page: for people -----------------------------------------------------------------------------------


def _tree(page: str) -> ET.Element:
    return html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False)


@pytest.mark.parametrize("language", ["fr", "de", "bg", "ga", "en"])
async def test_the_page_is_in_the_visitors_language(language: str) -> None:
    response = await _page(_config(), language)
    page = response.text
    tree = _tree(page)
    assert response.headers["content-language"] == language
    assert tree.get("lang") == language
    t = PAGE_STRINGS[language]
    text = " ".join("".join(tree.itertext()).split())
    for key in ("intro_generated", "h_who", "h_model", "h_check", "untrusted", "h_tech", "law", "mark_c2pa"):
        assert " ".join(t[key].split()) in text, key
    if language != "en":
        assert PAGE_STRINGS["en"]["h_check"] not in text
    assert i18n.get_messages(language).link in text  # the heading: the banner link's own words


async def test_a_language_without_page_sentences_falls_back_with_an_honest_content_language() -> None:
    base = _config()
    config = base.model_copy(update={"banner": base.banner.model_copy(update={"text": {"is": "Gervigreind."}})})
    response = await _page(config, "is")
    assert response.headers["content-language"] == "en" and _tree(response.text).get("lang") == "en"
    assert 'lang="is"' in response.text  # the banner itself keeps its own language


async def test_the_page_speaks_plain_words_and_links_the_contact() -> None:
    page = (await _page(_config(), "en")).text
    tree = _tree(page)
    text = "".join(tree.itertext())
    for repr_ in ("True", "False", "None", "['", "{'"):
        assert repr_ not in text, repr_
    links = {a.get("href"): "".join(a.itertext()) for a in tree.iter("a")}
    assert links["mailto:ai@acme.example"] == "ai@acme.example"
    assert "?format=json" in links and "/.well-known/ai-disclosure" in links  # JSON link; banner link
    assert "acme/studio-xl" in text and "apache-2.0" in text and "Generates illustrations" in text


@pytest.mark.parametrize("contact", ["javascript:alert(1)", "Call reception", 'x" onmouseover="y'])
async def test_a_contact_that_is_no_safe_link_stays_text(contact: str) -> None:
    config = _config().model_copy(update={"system": _config().system.model_copy(update={"contact": contact})})
    tree = _tree((await _page(config, "en")).text)
    assert all(not (a.get("href") or "").lower().startswith("javascript") for a in tree.iter("a"))
    assert all(not key.startswith("on") for node in tree.iter() for key in node.attrib)
    assert contact in "".join(tree.itertext())


async def test_unmarked_images_are_not_claimed_and_a_trusted_signer_gets_no_warning() -> None:
    t = PAGE_STRINGS["en"]
    text = "".join(_tree((await _page(TransparencyConfig(images={"enabled": False}), "en")).text).itertext())
    assert t["marks"] not in text and t["no_marks"] in text and t["untrusted"] not in text


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _declarations(css: str) -> dict[str, dict[str, str]]:
    rules = {}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        props = dict(part.split(":", 1) for part in body.split(";") if ":" in part)
        rules[selector.strip()] = {k.strip(): v.strip() for k, v in props.items()}
    return rules


@pytest.mark.parametrize("language", ["en", "el"])
async def test_the_page_meets_what_a_machine_can_check_of_wcag_aa(language: str) -> None:
    page = (await _page(_config(), language)).text
    assert parse_errors(page) == []  # html5lib reads it without a single parse error
    tree = _tree(page)
    assert tree.get("lang") == language
    assert list(tree.iter("script")) == [] and not re.search(r"\son[a-z]+=", page)  # works without JavaScript
    assert len(list(tree.iter("main"))) == 1 and len(list(tree.iter("footer"))) == 1
    assert len(list(tree.iter("h1"))) == 1
    headings = [int(node.tag[1]) for node in tree.iter() if re.fullmatch(r"h[1-6]", str(node.tag))]
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings)), headings  # no skipped level
    for section in tree.iter("section"):
        label = section.get("aria-labelledby")
        assert label and tree.find(f".//*[@id='{label}']") is not None
    rules = _declarations("".join(node.text or "" for node in tree.iter("style")))
    page_bg = rules["body"]["background"]
    pairs = [
        (rules["body"]["color"], page_bg),
        (rules["a"]["color"], page_bg),
        (rules["a:focus"]["outline"].split()[-1], page_bg),
        (rules["code"]["color"], rules["code"]["background"]),
    ]
    banner = tree.find(".//aside[@id='aiact-disclosure']")
    assert banner is not None and banner.get("lang") == language
    box = dict(part.split(":", 1) for part in (banner.get("style") or "").split(";") if ":" in part)
    pairs.append((box["color"], box["background"]))
    for text_colour, background in pairs:
        assert _contrast(text_colour, background) >= 4.5, (text_colour, background)


def test_every_official_language_has_every_sentence() -> None:
    assert sorted(PAGE_STRINGS) == sorted(i18n.OFFICIAL_EU_LANGUAGES)
    english = PAGE_STRINGS["en"]
    for language, strings in PAGE_STRINGS.items():
        assert set(strings) == set(english), language
        for key, text in strings.items():
            placeholders = re.findall(r"\{\w+\}", text)
            assert text.strip() and placeholders == re.findall(r"\{\w+\}", english[key]), (language, key)
        if language != "en":
            translated = [key for key in strings if strings[key] != english[key]]
            assert len(translated) >= len(english) - 4, (language, set(english) - set(translated))
