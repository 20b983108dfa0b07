"""HTML page checks: a notice present, before the main content, not hidden, accessible, readable, and in the
requested language. Static: from the served HTML and its inline and <style> CSS; --browser adds the rendered
view (:mod:`.browser_checks`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .ai_words import WORDS, mentions_ai, phrase_language
from .contrast import MIN_RATIO, notice_contrast
from .css import build_cascade
from .hiding import hidden_reason
from .notice import Notice, accessible_name, content_before, find_notice, language_of, parse_html
from .probe import Probe
from .report import ART_50_1, ART_50_5, CheckResult, Evidence, Status

# Visible text before the notice beyond this (about a screen of prose) means a reader meets content first.
MAX_TEXT_BEFORE = 1_000


@dataclass
class PageResult:
    checks: list[CheckResult]
    notice: Notice | None
    root: ET.Element | None


def _result(id: str, obligation: str, status: Status, target: str, title: str, evidence: str, fix: str = "",
            required: bool = True) -> CheckResult:
    return CheckResult(id=id, obligation=obligation, status=status, target=target, title=title,
                       evidence=Evidence(evidence), fix=fix if status in ("fail", "warn") else "", required=required)


def _unreadable(probe: Probe) -> str | None:
    if probe.error is not None or probe.status is None:
        return probe.describe()
    if probe.status >= 400:
        return f"{probe.describe()}: an error page cannot be checked for a notice"
    kind = probe.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml"):
        return f"{probe.describe()}: Content-Type {kind or '(none)'}, not an HTML page"
    return None


def page_checks(probe: Probe, language: str | None) -> PageResult:
    target = probe.url + (f" [{language}]" if language else "")
    problem = _unreadable(probe)
    if problem is not None:
        return PageResult([_result("page.notice.present", ART_50_1, "fail", target, "AI notice on the page", problem,
                                   "make the page answer 200 text/html with the notice")], None, None)
    charset = probe.headers.get("content-type", "").partition("charset=")[2].strip() or None
    root = parse_html(probe.body, charset)
    notice = find_notice(root)
    if notice is None:
        return PageResult([_result(
            "page.notice.present", ART_50_1, "fail", target, "AI notice on the page",
            f"no element says AI in any EU language ({len(probe.body)} bytes read"
            + (", truncated at the size limit" if probe.truncated else "") + ")",
            "show a notice at the top of <body> telling people they interact with an AI system "
            "(TransparencyMiddleware injects one)")], None, root)
    by = "our banner (id aiact-disclosure)" if notice.ours else (
        "a notice by another library" if notice.landmark else "plain text (no landmark)")
    checks = [_result("page.notice.present", ART_50_1, "pass", target, "AI notice on the page",
                      f"found {by}: {notice.snippet}")]
    checks.append(_position(root, notice, target))
    cascade = build_cascade(root)
    reason = hidden_reason(notice.element, cascade)
    checks.append(_result(
        "page.notice.hidden", ART_50_5, "fail" if reason else "pass", target, "Notice not hidden by CSS",
        reason or "no resolved style hides it (display, visibility, opacity, size, position, clip, hidden)",
        "remove the style that hides the notice; it must be visible at first exposure"))
    checks.append(_accessible(root, notice, target))
    contrast = notice_contrast(notice.element, cascade)
    if contrast.ratio is None or contrast.unresolved:
        status: Status = "warn" if contrast.ratio is None or contrast.ratio >= MIN_RATIO else "fail"
        note = "; not resolved: " + "; ".join(contrast.unresolved[:5]) if contrast.unresolved else ""
        checks.append(_result("page.notice.contrast", ART_50_5, status, target, "Notice contrast >= 4.5:1",
                              contrast.text + note, "check the contrast in a browser (--browser) or keep the "
                              "notice's colours in inline styles", required=status == "fail"))
    else:
        ok = contrast.ratio >= MIN_RATIO
        checks.append(_result("page.notice.contrast", ART_50_5, "pass" if ok else "fail", target,
                              "Notice contrast >= 4.5:1", contrast.text,
                              "darken the text or the background until the ratio is at least 4.5:1 (WCAG 2.1 "
                              "SC 1.4.3)"))
    if language:
        checks.append(_language(probe, notice, cascade.parents, language, target))
    return PageResult(checks, notice, root)


def _position(root: ET.Element, notice: Notice, target: str) -> CheckResult:
    marker, chars = content_before(root, notice)
    if marker is not None or chars > MAX_TEXT_BEFORE:
        what = f"{marker} comes first" if marker else f"{chars} characters of text come first"
        return _result("page.notice.position", ART_50_5, "fail", target, "Notice before the main content",
                       f"{what}; the notice follows at element #{notice.order} ({notice.snippet[:120]})",
                       "put the notice at the start of <body>, before <main> and the first heading, so it is "
                       "seen at first exposure")
    return _result("page.notice.position", ART_50_5, "pass", target, "Notice before the main content",
                   f"before <main> and every heading; {chars} characters of text before it")


def _accessible(root: ET.Element, notice: Notice, target: str) -> CheckResult:
    el = notice.element
    role = el.get("role")
    name = accessible_name(notice, root)
    landmark = role or (el.tag if el.tag in ("aside", "header", "section", "dialog", "nav") else None)
    if landmark and name:
        return _result("page.notice.accessible", ART_50_5, "pass", target, "Notice has an accessible role and label",
                       f"role/landmark {landmark!r}, accessible name {name!r}")
    missing = " and ".join(x for x, have in (("a role or landmark element", landmark), ("an accessible name", name))
                           if not have)
    return _result("page.notice.accessible", ART_50_5, "fail", target, "Notice has an accessible role and label",
                   f"{notice.snippet[:160]} lacks {missing}",
                   'give the notice role="region" (or an <aside>) and an aria-label so screen readers announce it')


def _language(probe: Probe, notice: Notice, parents: dict[ET.Element, ET.Element], language: str,
              target: str) -> CheckResult:
    base = language.split("-")[0]
    declared = language_of(notice.element, parents)
    phrase = phrase_language(notice.text)
    content_language = probe.headers.get("content-language")
    if declared is not None:
        ok = declared.split("-")[0] == base and (base not in WORDS or mentions_ai(notice.text, base))
        evidence = f"notice lang={declared!r}; text {notice.text[:100]!r}"
    else:
        ok = phrase == base or (base in WORDS and mentions_ai(notice.text, base) and phrase in (None, base)
                                and content_language is not None and content_language.split("-")[0] == base)
        evidence = (f"notice has no lang attribute; its words read as {phrase or 'no single language'}"
                    f"; Content-Language {content_language or '(none)'}")
    return _result("page.notice.language", ART_50_5, "pass" if ok else "fail", target,
                   f"Notice in the requested language ({language})", evidence,
                   f"serve the notice in {language} to Accept-Language: {language} (and mark it lang=\"{language}\")")
