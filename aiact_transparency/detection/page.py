"""The detector's page for people: upload a file or paste text, read the verdict per layer in plain words.

Works without JavaScript (the form posts multipart/form-data and the endpoint answers with this page, the
result filled in); where JavaScript runs, a small nonce'd script adds drag and drop and sends the form with
fetch(), replacing only the contents of the result region (role="status", so screen readers announce it).
WCAG 2.1 AA: labels on every control, one h1, landmarks, visible focus, colours of at least 4.5:1
(COLOURS, checked by a test). All text goes through i18n.to_ascii_html; the page is ASCII, served as UTF-8
so browsers send the form in UTF-8 too. Sentences: messages/<lang>.json, one per official EU language,
every file with every key (checked at import).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..disclosure import i18n
from ..provenance.formats import FORMATS

__all__ = ["COLOURS", "MESSAGES", "NONCE_PLACEHOLDER", "page_language", "render_fragment", "render_page"]

NONCE_PLACEHOLDER = "__AIACT_NONCE__"


def _load() -> dict[str, dict[str, str]]:
    folder = resources.files(__package__).joinpath("messages")
    strings = {lang: json.loads(folder.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
               for lang in i18n.OFFICIAL_EU_LANGUAGES}
    keys = set(strings[i18n.DEFAULT_LANGUAGE])
    for lang, data in strings.items():
        if set(data) != keys:
            raise RuntimeError(f"detection/messages/{lang}.json: keys differ from en.json: {sorted(set(data) ^ keys)}")
    return strings


# The file picker offers every type the detector reads (local.MEDIA_TYPES) and plain text.
_ACCEPT = ",".join((*(fmt.media_type for fmt in FORMATS), "text/plain"))
MESSAGES = _load()

# (foreground, background) of every text the page shows; tests check each is at least 4.5:1.
COLOURS = {
    "body": ("#1a1a1a", "#ffffff"), "link": ("#0b57d0", "#ffffff"), "button": ("#ffffff", "#0b57d0"),
    "ours": ("#0d3b1e", "#e6f4ea"), "other": ("#4a2800", "#fff4e5"), "none": ("#1a1a1a", "#f2f2f2"),
    "error": ("#5c0a0a", "#fde8e8"), "hint": ("#4d4d4d", "#ffffff"),
}
_C = COLOURS
_CSS = (
    f"body{{font:1rem/1.6 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:{_C['body'][0]};"
    f"background:{_C['body'][1]}}}main,footer{{max-width:46rem;margin:0 auto;padding:0 1rem}}"
    "h1{font-size:1.75rem;margin:1.5rem 0 .5rem}h2{font-size:1.3rem;margin:1.5rem 0 .5rem}"
    f"a{{color:{_C['link'][0]};text-decoration:underline}}"
    f"a:focus,button:focus,input:focus,textarea:focus,summary:focus{{outline:3px solid {_C['link'][0]};"
    "outline-offset:2px}label{display:block;font-weight:600;margin:.75rem 0 .25rem}"
    f"#drop{{border:2px dashed #767676;border-radius:6px;padding:1rem}}#drop.over{{border-color:{_C['link'][0]}}}"
    f".hint{{color:{_C['hint'][0]};margin:.25rem 0}}textarea{{width:100%;min-height:8rem;font:inherit}}"
    f"button{{font:inherit;font-weight:600;color:{_C['button'][0]};background:{_C['button'][1]};border:0;"
    "border-radius:4px;padding:.5rem 1.5rem;margin-top:1rem;cursor:pointer}"
    ".verdict{padding:.75rem 1rem;border-radius:6px;font-weight:600}"
    f".v-ours{{color:{_C['ours'][0]};background:{_C['ours'][1]}}}"
    f".v-other{{color:{_C['other'][0]};background:{_C['other'][1]}}}"
    f".v-none{{color:{_C['none'][0]};background:{_C['none'][1]}}}"
    f".v-error{{color:{_C['error'][0]};background:{_C['error'][1]}}}"
    "dl{margin:.5rem 0}dt{font-weight:600;margin-top:.75rem}dd{margin:0 0 0 1rem;overflow-wrap:anywhere}"
    "footer{border-top:1px solid #767676;margin-top:2.5rem;padding-bottom:2rem}"
)
# Progressive enhancement only: the form works without it. No inline handlers (the CSP allows only this nonce).
_SCRIPT = (
    "(function(){var f=document.getElementById('detect-form'),z=document.getElementById('drop'),"
    "i=document.getElementById('file'),o=document.getElementById('result');if(!window.fetch||!window.FormData)"
    "return;function send(){o.setAttribute('aria-busy','true');fetch(f.action+'?format=fragment',{method:'POST',"
    "body:new FormData(f),"
    "headers:{'Accept':'text/html'}}).then(function(r){return r.text();}).then(function(h){var d=new DOMParser()"
    ".parseFromString('<div id=\"result\">'+h+'</div>','text/html').getElementById('result');"
    "if(d){o.replaceChildren.apply(o,Array.prototype.map"
    ".call(d.childNodes,function(n){return document.importNode(n,true);}));}o.removeAttribute('aria-busy');})"
    ".catch(function(){o.removeAttribute('aria-busy');});}f.addEventListener('submit',function(e){e.preventDefault();"
    "send();});z.addEventListener('dragover',function(e){e.preventDefault();z.classList.add('over');});"
    "z.addEventListener('dragleave',function(){z.classList.remove('over');});z.addEventListener('drop',"
    "function(e){e.preventDefault();z.classList.remove('over');if(e.dataTransfer&&e.dataTransfer.files.length)"
    "{i.files=e.dataTransfer.files;send();}});})();"
)
_VERDICTS = {"generated-by-this-system": ("verdict_ours", "v-ours"),
             "marked-by-another-system": ("verdict_other", "v-other"), "not-detected": ("verdict_none", "v-none")}
_LAYERS = ("c2pa", "xmp", "watermark", "fingerprint")
_FACTS = ("system", "model", "provider", "software_agent", "manifest_id", "marked_at", "system_id",
          "false_positive_bound", "distance", "false_match_rate")


def page_language(language: str) -> str:
    base = language.split("-")[0].lower()
    return base if base in MESSAGES else i18n.DEFAULT_LANGUAGE


def _status(name: str, layer: dict[str, Any], t: dict[str, str]) -> str:
    if layer.get("this_system"):
        return t["st_ours"]
    if layer.get("ai_mark"):  # unsigned XMP attributes to no one: "not from this system" would be wrong too
        return t["st_unsigned"] if name == "xmp" else t["st_other"]
    if layer.get("found"):
        return t["st_present"]
    return t["st_none"] if layer.get("checked") else t["st_unchecked"]


def _layer(name: str, layer: dict[str, Any], t: dict[str, str]) -> str:
    esc = i18n.to_ascii_html
    parts = [f"<dt>{esc(t['layer_' + name])}</dt><dd><p>{esc(_status(name, layer, t))}</p>"]
    signer = layer.get("signer") or {}
    if layer.get("found") and signer and not signer.get("trusted"):
        parts.append(f"<p><strong>{esc(t['untrusted'])}</strong></p>")
    facts = "".join(f"<li><code>{esc(key)}</code>: {esc(str(layer[key]))}</li>" for key in _FACTS
                    if layer.get(key) not in (None, "", {}, []))
    based_on = esc(str(layer.get("based_on", "")))
    parts.append(f'<details><summary>{esc(t["details"])}</summary><div lang="en"><p>{based_on}'
                 f"</p>{'<ul>' + facts + '</ul>' if facts else ''}</div></details></dd>")
    return "".join(parts)


def _result(result: dict[str, Any] | None, error: str | None, t: dict[str, str], system: str) -> str:
    esc = i18n.to_ascii_html
    if error is not None:
        return f'<p class="verdict v-error">{esc(t["error"])} <span lang="en">{esc(error)}</span></p>'
    if result is None:
        return ""
    key, css = _VERDICTS[result["verdict"]]
    kinds = ", ".join(t["kind_" + kind] for kind in result["based_on"])
    layers = "".join(_layer(name, result["layers"][name], t) for name in _LAYERS if name in result["layers"])
    return (f'<p class="verdict {css}" id="verdict" data-verdict="{esc(result["verdict"])}">'
            f"{esc(t[key].format(system=system))}</p><p>{esc(t['based_on'])} {esc(kinds)}</p><dl>{layers}</dl>")


def render_fragment(language: str, *, system: str, result: dict[str, Any] | None = None,
                    error: str | None = None) -> tuple[bytes, str]:
    """Only the result region's contents, for the page's script: no style or script of its own (a parsed
    full page would carry a <style> with another response's nonce, which the CSP reports as a violation)."""
    lang = page_language(language)
    return _result(result, error, MESSAGES[lang], system).encode("ascii"), lang


def render_page(language: str, *, system: str, action: str, discovery_path: str, nonce: str = NONCE_PLACEHOLDER,
                result: dict[str, Any] | None = None, error: str | None = None) -> tuple[bytes, str]:
    """(the page, the language its sentences are in). `nonce` goes into the script tag and the CSP."""
    esc = i18n.to_ascii_html
    lang = page_language(language)
    t = MESSAGES[lang]
    about = i18n.get_messages(lang).link
    page = (
        f'<!DOCTYPE html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(t["title"])}: '
        f'{esc(system)}</title><style nonce="{nonce}">{_CSS}</style></head><body><main><h1>{esc(t["title"])}</h1>'
        f"<p>{esc(t['intro'].format(system=system))}</p><p>{esc(t['privacy'])}</p>"
        f'<form id="detect-form" method="post" action="{esc(action)}" enctype="multipart/form-data" '
        f'accept-charset="utf-8"><div id="drop"><label for="file">{esc(t["file_label"])}</label>'
        f'<input type="file" id="file" name="file" accept="{_ACCEPT}">'
        f'<p class="hint">{esc(t["drop_hint"])}</p></div><label for="text">{esc(t["text_label"])}</label>'
        f'<textarea id="text" name="text"></textarea><button type="submit">{esc(t["submit"])}</button></form>'
        f'<section aria-labelledby="result-h"><h2 id="result-h">{esc(t["result"])}</h2>'
        f'<div id="result" role="status">{_result(result, error, t, system)}</div></section>'
        f"<p>{esc(t['api'])}</p></main><footer><p><a href=\"{esc(discovery_path)}\">{esc(about)}</a></p></footer>"
        f'<script nonce="{nonce}">{_SCRIPT}</script></body></html>'
    )
    return page.encode("ascii"), lang
