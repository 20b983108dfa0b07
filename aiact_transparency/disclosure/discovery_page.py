"""The discovery page a visitor reaches from the banner's "About this AI system" link, in their language.

Plain words first (what AI makes here, who provides it and how to reach them, which model, how to check
marked content), then the technical details, which are the JSON document's values. Static HTML and inline
CSS only: it works without JavaScript, keeps text at WCAG 2.1 AA contrast, has landmarks (banner region,
main, footer) and one h1, and names its language in ``<html lang>``.

The page sentences live in ``i18n/<lang>.json`` under "page" (one file per official EU language, loaded once
at import); every file must have every key, so a missing translation fails at import, not on a visitor's page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import i18n
from .csp import ATTRIBUTES
from .disclosure import Disclosure

PAGE_STRINGS = i18n.PAGE_STRINGS

# Text #1a1a1a and links #0b57d0 on #ffffff: contrast 17.4:1 and 6.5:1 (WCAG 2.1 AA asks 4.5:1); code on
# #f2f2f2 stays above 15:1. Focus is a visible 3px outline; links are underlined, not told apart by colour.
_CSS = (
    "body{font:1rem/1.6 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1a1a1a;"
    "background:#ffffff}main,footer{max-width:46rem;margin:0 auto;padding:0 1rem}h1{font-size:1.75rem;"
    "margin:1.5rem 0 .25rem}h2{font-size:1.3rem;margin:2rem 0 .5rem}h3{font-size:1.05rem;margin:1.25rem 0 .25rem}"
    "a{color:#0b57d0;text-decoration:underline}a:focus{outline:3px solid #0b57d0;outline-offset:2px}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}dt{font-weight:600}"
    "dd{margin:0;overflow-wrap:anywhere}code{background:#f2f2f2;color:#1a1a1a;padding:0 .2em;border-radius:3px}"
    ".tech dl{font-size:.95rem}footer{border-top:1px solid #767676;margin-top:2.5rem;padding-bottom:2rem}"
)

_LINKABLE = ("mailto:", "https://", "http://", "tel:")


def page_language(language: str) -> str:
    """The language the page's own sentences are in: `language` if translated, else its base, else English."""
    base = language.split("-")[0].lower()
    return base if base in PAGE_STRINGS else i18n.DEFAULT_LANGUAGE


def _contact(contact: str, t: Mapping[str, str]) -> str:
    """The contact row: a link for mailto/http(s)/tel (a bare address becomes mailto), else plain text."""
    esc = i18n.to_ascii_html
    href = contact
    if not contact.lower().startswith(_LINKABLE) and "@" in contact and " " not in contact:
        href = "mailto:" + contact
    if not href.lower().startswith(_LINKABLE):
        return f"<dt>{esc(t['contact'])}</dt><dd>{esc(contact)}</dd>"  # no scheme we can link safely
    shown = contact[len("mailto:") :] if contact.lower().startswith("mailto:") else contact
    return f'<dt>{esc(t["contact"])}</dt><dd><a href="{esc(href)}">{esc(shown)}</a></dd>'


def _value(value: Any, t: Mapping[str, str]) -> str:
    esc = i18n.to_ascii_html
    if isinstance(value, bool):
        return esc(t["yes"] if value else t["no"])
    if isinstance(value, list):
        return ", ".join(_value(item, t) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"<code>{esc(str(k))}</code>: {_value(v, t)}" for k, v in value.items() if v is not None)
    return esc(str(value))


def _details(data: dict[str, Any], t: Mapping[str, str]) -> str:
    esc = i18n.to_ascii_html
    rows = "".join(
        f"<dt><code>{esc(key)}</code></dt><dd>{_value(value, t)}</dd>"
        for key, value in data.items()
        if value not in (None, [], {})
    )
    return f"<dl>{rows}</dl>" if rows else ""


def _marks(images: dict[str, Any], t: Mapping[str, str]) -> list[str]:
    shown = [
        ("visible_label", "mark_label"),
        ("invisible_watermark", "mark_watermark"),
        ("xmp_digital_source_type", "mark_xmp"),
        ("c2pa", "mark_c2pa"),
    ]
    return [t[key] for field, key in shown if images.get(field)]


def discovery_html(disclosure: Disclosure, document: dict[str, Any], language: str, *,
                   detector_title: str | None = None) -> tuple[bytes, str]:
    """(the page for `language`, the language its sentences are in, for Content-Language). `detector_title`: the
    detection page's title in the visitor's language, the text of the link to it (when the document has one)."""
    esc = i18n.to_ascii_html
    lang = page_language(language)
    t = PAGE_STRINGS[lang]
    system, model = document["system"], document["model"]
    mode = document["disclosure"]["mode"]
    intro = t["intro_modified" if mode == "ai-modified" else "intro_none" if mode == "none" else "intro_generated"]
    what = [f"<p>{esc(intro)}</p>"]
    if document["disclosure"]["reviewed_by"]:
        what.append(f"<p>{esc(t['reviewed'].format(reviewer=document['disclosure']['reviewed_by']))}</p>")
    images = document["marking"]["images"]
    marks = _marks(images, t) if images["enabled"] else []
    if marks:
        what.append(f"<p>{esc(t['marks'])}</p><ul>{''.join(f'<li>{esc(m)}</li>' for m in marks)}</ul>")

    who = [f"<dl><dt>{esc(t['name'])}</dt><dd>{esc(system['name'])}</dd>"]
    who.append(f"<dt>{esc(t['provider'])}</dt><dd>{esc(system['provider'])}</dd>")
    if system["purpose"]:
        who.append(f"<dt>{esc(t['purpose'])}</dt><dd>{esc(system['purpose'])}</dd>")
    contact = system["contact"]
    who.append(f"{_contact(contact, t)}</dl>" if contact else f"</dl><p>{esc(t['no_contact'])}</p>")

    label = model.get("id") or model.get("name")
    if label:
        rows = [(t["model"], label), (t["license"], model.get("license")), (t["base_model"], model.get("base_model"))]
        shown = "".join(f"<dt>{esc(k)}</dt><dd>{_value(v, t)}</dd>" for k, v in rows if v not in (None, []))
        model_part = f"<dl>{shown}</dl>"
    else:
        model_part = f"<p>{esc(t['no_model'])}</p>"

    if not marks:
        check = f"<p>{esc(t['no_marks'])}</p>"
    else:
        check = (
            (f"<p>{esc(t['check_c2pa'])}</p>" if images["c2pa"] else "")
            + f"<p>{esc(t['check_cli'])}</p><p><code>pip install aiact-transparency</code><br>"
            "<code>aiact-transparency verify FILE</code></p>"
        )
        signer = images.get("signer") or {}
        if images["c2pa"] and signer.get("development"):
            check += f'<p class="warn"><strong>{esc(t["untrusted"])}</strong></p>'

    detector = (document.get("detection") or {}).get("url")
    if detector:  # the detector page, in the visitor's language too (it negotiates Accept-Language itself)
        check += f'<p><a href="{esc(detector)}">{esc(detector_title or detector)}</a></p>'

    sections = [
        ("what", t["h_what"], "".join(what)),
        ("who", t["h_who"], "".join(who)),
        ("model", t["h_model"], model_part),
        ("check", t["h_check"], check),
    ]
    body = "".join(
        f'<section aria-labelledby="{key}"><h2 id="{key}">{esc(title)}</h2>{content}</section>'
        for key, title, content in sections
    )
    technical = "".join(
        f"<h3><code>{key}</code></h3>{_details(document[key], t)}"
        for key in ("system", "model", "disclosure", "marking", "detection", "fingerprints", "verify")
        if key in document
    )
    about = i18n.get_messages(lang).link
    page = (
        f'<!DOCTYPE html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{disclosure.meta_tag.decode()}'
        f"<title>{esc(about)}: {esc(system['name'])}</title><style>{_CSS}</style></head><body>"
        f"{disclosure.banner_html(language, ATTRIBUTES).decode()}"
        f"<main><h1>{esc(about)}</h1><p><strong>{esc(system['name'])}</strong></p>{body}"
        f'<section class="tech" aria-labelledby="tech"><h2 id="tech">{esc(t["h_tech"])}</h2>{technical}'
        f'<p><a href="?format=json">{esc(t["json"])}</a></p></section></main>'
        f"<footer><p>{esc(t['law'])}</p></footer></body></html>"
    )
    return page.encode("ascii"), lang
