"""The checker's parts against independent references: http-sf for RFC 9651, WCAG's formula, real JWS signed
with cryptography, html5lib trees of our banner in the 24 languages."""

from __future__ import annotations

import base64
import json

import pytest

from aiact_transparency import Disclosure
from aiact_transparency.check.contrast import notice_contrast, parse_colour, ratio
from aiact_transparency.check.css import build_cascade
from aiact_transparency.check.hiding import hidden_reason
from aiact_transparency.check.jws import JwsError, verify_compact_jws
from aiact_transparency.check.notice import find_notice, parse_html
from aiact_transparency.check.sf import parse_disclosure
from aiact_transparency.disclosure import i18n
from aiact_transparency.disclosure.csp import ATTRIBUTES
from tests.tools import require_module

from . import apps
from .detector_stub import sign_jws, throwaway_chain

http_sf = require_module("http_sf")
require_module("html5lib")


def test_our_header_value_parses_valid() -> None:
    disclosure = Disclosure(apps.config())
    raw = disclosure.header_value(disclosure.default_policy).decode()
    parsed = parse_disclosure(raw)
    assert parsed.valid and parsed.mode == "ai-originated" and parsed.date is not None
    assert parsed.members == {k: v for k, (v, _) in http_sf.parse(raw.encode(), tltype="dictionary").items()} | {
        "mode": parsed.members["mode"]}


@pytest.mark.parametrize(("raw", "problem"), [
    ('mode=ai-originated;model="m";provider="p"', "separated by ';'"),
    ("ai-generated", "no `mode` member ('ai-generated' alone"),
    ('mode="ai-originated"', "not a Token"),
    ("mode=ai-generated", "`mode=ai-generated` is not one of"),
    ("mode=ai-originated, model=m1", "`model` must be a String"),
    ("mode=ai-originated, date=1700000000", "not an RFC 9651 Date"),
    ("mode=ai-originated,,", "not an RFC 9651 Dictionary"),
])
def test_invalid_values_name_the_problem(raw: str, problem: str) -> None:
    parsed = parse_disclosure(raw)
    assert not parsed.valid and problem in parsed.problems[0], parsed.problems


def test_the_semicolon_form_keeps_what_was_meant() -> None:
    parsed = parse_disclosure('mode=ai-originated;model="m";provider="p"')
    assert parsed.semicolon_form and parsed.mode == "ai-originated" and parsed.members["provider"] == "p"


def test_wcag_contrast_values() -> None:
    white, black = parse_colour("#fff"), parse_colour("black")
    assert ratio(white, black) == pytest.approx(21.0)
    assert ratio(parse_colour("#777777"), white) == pytest.approx(4.48, abs=0.01)  # the classic near miss
    assert ratio(parse_colour("rgb(118, 118, 118)"), white) == pytest.approx(4.54, abs=0.01)


def _notice_in(html: str) -> tuple[object, object]:
    root = parse_html(html.encode(), "utf-8")
    notice = find_notice(root)
    assert notice is not None
    return notice, build_cascade(root)


def test_the_cascade_orders_specificity_important_and_inline() -> None:
    html = ("<style>.n{color:#777} #n{color:#000} aside{background:#fff !important}</style>"
            '<body><aside id="n" class="n" role="note" aria-label="AI" style="background:#000;color:#fff">'
            "This is AI.</aside></body>")
    notice, cascade = _notice_in(html)
    result = notice_contrast(notice.element, cascade)  # type: ignore[attr-defined]
    # inline color #fff beats #n's; the sheet's !important background beats the inline one: white on white
    assert result.ratio == pytest.approx(1.0) and not result.unresolved


def test_what_is_not_resolved_is_said() -> None:
    html = ('<link rel="stylesheet" href="/site.css"><style>aside:hover{color:red}</style>'
            '<body><aside role="note" aria-label="AI">This is AI.</aside></body>')
    notice, cascade = _notice_in(html)
    result = notice_contrast(notice.element, cascade)  # type: ignore[attr-defined]
    assert any("site.css" in u for u in result.unresolved) and any("aside:hover" in u for u in result.unresolved)


@pytest.mark.parametrize(("css", "reason"), [
    ("body{visibility:hidden}", "visibility:hidden (inherited)"),
    ("aside{opacity:0}", "opacity:0"),
    ("aside{position:absolute;left:-9999px}", "moved off screen"),
    ("div.wrap{display:none}", "<div> has display:none"),
])
def test_hiding_is_resolved(css: str, reason: str) -> None:
    html = f'<style>{css}</style><body><div class="wrap"><aside role="note" aria-label="AI">This is AI.</aside></div>'
    notice, cascade = _notice_in(html)
    assert reason in (hidden_reason(notice.element, cascade) or "")  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", i18n.OFFICIAL_EU_LANGUAGES)
def test_our_banner_is_found_in_every_eu_language(language: str) -> None:
    banner = Disclosure(apps.config()).banner_html(language, ATTRIBUTES).decode()
    html = f"<body>{banner}<main><h1>Artificial intelligence in the news</h1><p>AI is everywhere.</p></main></body>"
    notice, _ = _notice_in(html)
    assert notice.ours and notice.element.get("lang") == language  # type: ignore[attr-defined]


def test_a_landmark_beats_an_article_that_mentions_ai() -> None:
    html = ("<body><main><h1>News</h1><p>An AI wrote this?</p></main><footer><section aria-label='Notice'>"
            "<p>Dieser Dienst nutzt künstliche Intelligenz.</p></section></footer></body>")
    notice, _ = _notice_in(html)
    assert notice.element.tag == "section"  # type: ignore[attr-defined]


def test_a_valid_jws_verifies_and_tampering_does_not() -> None:
    token = sign_jws({"content_sha256": "00", "verdict": "ai-generated"})
    verified = verify_compact_jws(token)
    assert verified.payload["verdict"] == "ai-generated" and verified.subject == "CN=Test Detector"
    header, payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"content_sha256": "00", "verdict": "no"}).encode()).rstrip(b"=")
    with pytest.raises(JwsError, match="does not verify"):
        verify_compact_jws(f"{header}.{forged.decode()}.{signature}")
    with pytest.raises(JwsError, match="unsigned"):
        verify_compact_jws(f"{header}.{payload}.")


def test_a_chain_that_does_not_hold_together_fails() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    leaf_key, (leaf, _root) = throwaway_chain()
    with pytest.raises(JwsError, match="x5c chain broken"):  # the leaf did not issue itself
        verify_compact_jws(sign_jws({}, key=leaf_key, x5c=[leaf, leaf]))
    with pytest.raises(JwsError, match="does not verify"):  # signed by a key the chain does not certify
        verify_compact_jws(sign_jws({}, key=ec.generate_private_key(ec.SECP256R1())))
    no_chain = sign_jws({})
    header = json.loads(base64.urlsafe_b64decode(no_chain.split(".")[0] + "=="))
    header.pop("x5c")
    stripped = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    with pytest.raises(JwsError, match="no x5c"):
        verify_compact_jws(stripped + "." + no_chain.split(".", 1)[1])


def test_a_link_whose_rel_lists_describedby_among_others() -> None:
    import httpx

    from aiact_transparency.check.headers import check_link
    from aiact_transparency.check.probe import Probe

    probe = Probe(url="http://x/", status=200, headers=httpx.Headers(
        [("link", '</about/ai>; rel="c2pa-manifest describedby"')]))
    assert check_link([probe], "/.well-known/ai-disclosure").status == "pass"
    probe.headers = httpx.Headers([("link", '</about/ai>; rel="c2pa-manifest"')])
    assert check_link([probe], "/.well-known/ai-disclosure").status == "fail"


def test_another_vendors_notice_event_is_named() -> None:
    import httpx

    from aiact_transparency.check.probe import Probe
    from aiact_transparency.check.streams import stream_checks

    body = b'data: {"notice": "Responses are AI generated"}\n\ndata: {"delta": "Hi"}\n\n'
    probe = Probe(url="http://x/s", status=200, headers=httpx.Headers({"content-type": "text/event-stream"}),
                  body=body)
    (notice, _) = stream_checks(probe)
    assert notice.status == "fail" and "the notice is a data: event" in notice.evidence.text


def test_a_review_claim_is_reported_never_judged() -> None:
    import httpx

    from aiact_transparency.check.headers import check_review
    from aiact_transparency.check.probe import Probe

    probe = Probe(url="http://x/", status=200, headers=httpx.Headers(
        [("ai-disclosure", 'mode=ai-modified, reviewed-by="Newsroom desk"')]))
    result = check_review([probe])
    assert result.status == "n/a" and result.obligation == "Art. 50(4)"
    assert "reviewed-by='Newsroom desk'" in result.evidence.text


def test_a_signed_result_must_hold_hash_detector_and_time() -> None:
    from aiact_transparency.check.detection import detection_checks
    from aiact_transparency.check.probe import Probe

    def fetch(content: bytes, kind: str, accept: str) -> Probe:
        import hashlib

        import httpx

        payload = {"verdict": "no-marks-found", "based_on": [], "content_sha256": hashlib.sha256(content).hexdigest()}
        body = sign_jws(payload) if accept == "application/jose" else json.dumps(payload)
        return Probe(url="http://x/detect", method="POST", status=200, body=body.encode(),
                     headers=httpx.Headers({"content-type": accept}))

    (signed,) = [c for c in detection_checks(fetch, "http://x/detect", None) if c.id == "detection.signed"]
    assert signed.status == "fail" and "lacks detector, checked_at" in signed.evidence.text


def test_conditional_rules_count_only_where_they_can_concern_the_notice() -> None:
    html = ("<style>nav a:hover{color:red} aside p::selection{color:#eee}</style><body><nav><a href=/>Home</a></nav>"
            '<aside role="note" aria-label="AI" style="color:#000;background:#fff"><p>This is AI.</p></aside></body>')
    notice, cascade = _notice_in(html)
    result = notice_contrast(notice.element, cascade)  # type: ignore[attr-defined]
    assert result.unresolved == ["rule 'aside p::selection' (color)"]
