"""--browser: each page rendered in headless Chromium, its notice measured where the static checks found it.

Visible (rendered box, computed display/visibility/opacity), inside the first viewport, not covered
(elementFromPoint at its centre is the notice or inside it), the rendered contrast; a screenshot of the first
viewport is kept as evidence for the HTML report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from .ai_words import WORDS, mentions_ai, phrase_language
from .browser import Chromium
from .contrast import MIN_RATIO, Unresolved, over, parse_colour, ratio
from .pages import PageResult
from .probe import Probe
from .report import ART_50_5, CheckResult, Evidence, Status

# Single-page apps (Gradio) re-render the body after the load event: the notice is waited for, up to WAIT_MS.
WAIT_MS = 8000
QUIET_MS = 400
_MEASURE = """(async () => {
  const path = %s, id = %s, wait = %d;
  const locate = () => {
    let el = id ? document.getElementById(id) : null;
    if (!el && !id) { el = document.documentElement; for (const i of path) { el = el ? el.children[i] : null; } }
    return el && el.getBoundingClientRect().height > 0 ? el : null;
  };
  let el = locate();
  for (let waited = 0; !el && waited < wait; waited += 100) {
    await new Promise(resolve => setTimeout(resolve, 100));
    el = locate();
  }
  // Then let the page settle (Gradio swaps in the visitor's language after its load event): measured once
  // nothing has changed for QUIET ms, or after wait ms at most.
  await new Promise(resolve => {
    let timer = setTimeout(done, %d);
    const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, %d); });
    const limit = setTimeout(done, wait);
    function done() { observer.disconnect(); clearTimeout(timer); clearTimeout(limit); resolve(); }
    observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  });
  el = locate() || (id ? document.getElementById(id) : null);
  if (!el) return {found: false};
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  let opacity = 1, hiddenBy = null;
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const s = getComputedStyle(n);
    opacity *= parseFloat(s.opacity);
    if (s.display === 'none' && !hiddenBy) hiddenBy = n.tagName.toLowerCase() + ' display:none';
  }
  const backgrounds = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const bg = getComputedStyle(n).backgroundColor;
    if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') {
      backgrounds.push(bg);
      if (!bg.startsWith('rgba')) break;
    }
  }
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  let top = null, covered = null;
  if (cx >= 0 && cy >= 0 && cx < innerWidth && cy < innerHeight) {
    const hit = document.elementFromPoint(cx, cy);
    covered = !(hit && (hit === el || el.contains(hit)));
    const cls = hit && hit.className ? '.' + String(hit.className).split(' ')[0] : '';
    top = hit ? hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '') + cls : null;
  }
  return {found: true, x: r.left, y: r.top, w: r.width, h: r.height, vw: innerWidth, vh: innerHeight,
          display: cs.display, visibility: cs.visibility, opacity, hiddenBy, color: cs.color, backgrounds,
          covered, top, text: (el.innerText || '').trim().slice(0, 300),
          lang: (el.closest('[lang]') || {getAttribute: () => null}).getAttribute('lang')};
})()"""


def _result(id: str, status: Status, target: str, title: str, evidence: str, fix: str = "",
            shot: bytes | None = None) -> CheckResult:
    return CheckResult(id=id, obligation=ART_50_5, status=status, target=target, title=title,
                       evidence=Evidence(evidence, shot), fix=fix if status == "fail" else "")


def _judge(m: dict[str, Any], target: str, shot: bytes | None) -> list[CheckResult]:
    box = f"box {m['w']:.0f}x{m['h']:.0f} at ({m['x']:.0f}, {m['y']:.0f}) in a {m['vw']}x{m['vh']} viewport"
    problems = [p for p in (
        m["hiddenBy"],
        f"visibility:{m['visibility']}" if m["visibility"] != "visible" else None,
        f"effective opacity {m['opacity']:.2f}" if m["opacity"] < 0.1 else None,
        "zero size" if m["w"] < 1 or m["h"] < 1 else None,
    ) if p]
    checks = [_result("browser.notice.visible", "fail" if problems else "pass", target, "Rendered notice visible",
                      (f"{', '.join(problems)}; " if problems else "") + f"{box}; text {m['text']!r}",
                      "remove what hides the notice in the rendered page", shot)]
    if problems:  # where or how readable a hidden notice is says nothing more: one finding, not four
        return checks + [_result(id, "n/a", target, title, "the notice is not rendered visible") for id, title in (
            ("browser.notice.viewport", "Notice inside the first viewport"),
            ("browser.notice.covered", "Notice not covered"),
            ("browser.notice.contrast", "Rendered notice contrast >= 4.5:1"))]
    inside = m["y"] >= 0 and m["y"] < m["vh"] and m["x"] < m["vw"] and m["x"] + m["w"] > 0
    checks.append(_result("browser.notice.viewport", "pass" if inside else "fail", target,
                          "Notice inside the first viewport", box,
                          "place the notice at the top of the page so it is seen without scrolling"))
    if m["covered"] is None:
        checks.append(_result("browser.notice.covered", "n/a", target, "Notice not covered",
                              "its centre is outside the viewport"))
    else:
        checks.append(_result("browser.notice.covered", "fail" if m["covered"] else "pass", target,
                              "Notice not covered", f"element at its centre: {m['top']}",
                              "move the overlay (cookie banner, modal, sticky header) off the notice, or the notice "
                              "above it (z-index)"))
    try:
        fg = parse_colour(m["color"])
        background = (255.0, 255.0, 255.0, 1.0)
        for layer in reversed(m["backgrounds"]):
            background = over(parse_colour(layer), background)
        value = ratio(fg, background)
        checks.append(_result("browser.notice.contrast", "pass" if value >= MIN_RATIO else "fail", target,
                              "Rendered notice contrast >= 4.5:1",
                              f"computed {m['color']} on {' over '.join(m['backgrounds']) or 'white'}: {value:.2f}:1",
                              "raise the contrast of the notice's text to at least 4.5:1"))
    except Unresolved as exc:
        checks.append(_result("browser.notice.contrast", "warn", target, "Rendered notice contrast >= 4.5:1",
                              str(exc)))
    return checks


def _language(m: dict[str, Any], language: str, target: str) -> CheckResult:
    base = language.split("-")[0]
    lang = (m.get("lang") or "").lower()
    says = base not in WORDS or mentions_ai(m["text"], base)
    ok = lang.split("-")[0] == base and says if lang else phrase_language(m["text"]) == base
    return _result("browser.notice.language", "pass" if ok else "fail", target,
                   f"Rendered notice in the requested language ({language})",
                   f"rendered notice lang={lang or '(none)'!r}; text {m['text'][:120]!r}",
                   f"render the notice in {language} for visitors whose browser asks for it (the served HTML and "
                   "what scripts render must agree)")


def _measure(browser: Chromium, url: str, language: str | None, page: PageResult) -> tuple[Any, bytes]:
    assert page.notice is not None
    session = browser.open(url, language)
    try:
        notice_id = page.notice.element.get("id")
        script = _MEASURE % (json.dumps(page.notice.path), json.dumps(notice_id), WAIT_MS, QUIET_MS, QUIET_MS)
        measured = browser.evaluate(session, script)
        return measured, browser.screenshot(session)
    finally:
        browser.close_tab(session)


def browser_checks(pages: Sequence[tuple[Probe, str | None, PageResult]], deadline: float,
                   progress: Callable[[str], None] | None) -> list[CheckResult]:
    checks: list[CheckResult] = []
    with Chromium() as browser:
        for probe, language, page in pages:
            target = probe.url + (f" [{language}]" if language else "")
            if page.notice is None:
                continue  # page.notice.present already failed: nothing to measure
            if time.monotonic() > deadline:
                checks.append(_result("browser.notice.visible", "warn", target, "Rendered notice visible",
                                      "skipped: the check's time limit was reached"))
                continue
            started = time.monotonic()
            try:
                measured, shot = _measure(browser, probe.url, language, page)
            except (RuntimeError, TimeoutError, OSError) as exc:  # a page that hangs or crashes the tab
                checks.append(_result("browser.notice.visible", "fail", target, "Rendered notice visible",
                                      f"the page could not be rendered: {type(exc).__name__}: {exc}",
                                      "make the page load in headless Chromium within the timeout"))
                continue
            if progress is not None:
                progress(f"[browser] {target}: rendered ({(time.monotonic() - started) * 1000:.0f} ms)")
            if not isinstance(measured, dict) or not measured.get("found"):
                checks.append(_result("browser.notice.visible", "fail", target, "Rendered notice visible",
                                      "the notice found in the served HTML is not in the rendered page (removed by "
                                      "a script?)", "keep the notice in the page after scripts run", shot))
                continue
            checks += _judge(measured, target, shot)
            if language:
                checks.append(_language(measured, language, target))
    return checks
