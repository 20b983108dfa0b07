"""Detection checks (Code Commitment 2): the detector answers for a marked sample and an unmarked one with a
verdict, what it rests on and the content hash; with `Accept: application/jose` it returns a compact JWS that
verifies against the x5c chain it carries and holds the same hash.

Verdict words differ between detectors: the ones below are read; any other is reported as not understood
(a warning), never guessed.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Callable
from typing import Any

from .jws import JwsError, verify_compact_jws
from .probe import Probe
from .report import CODE_2, CheckResult, Evidence, Status

# aiact-transparency's own detector answers generated-by-this-system, marked-by-another-system or not-detected.
POSITIVE = frozenset({"ai-generated", "ai_generated", "marked", "ai-marked", "detected", "ai", "ai-modified",
                      "ai-originated", "synthetic", "generated-by-this-system", "marked-by-another-system"})
NEGATIVE = frozenset({"not-marked", "not_marked", "unmarked", "no-marks", "no_marks", "no-marks-found", "none",
                      "not-ai-generated", "not_ai_generated", "not-detected", "not_detected", "no-ai-marks",
                      "clean", "unknown-origin"})
REQUIRED_FIELDS = ("verdict", "based_on", "content_sha256")
SIGNED_FIELDS = ("content_sha256", "detector", "checked_at")
Fetch = Callable[[bytes, str, str], Probe]  # (content, content type, accept) -> probe


def unmarked_sample() -> bytes:
    """A PNG of seeded noise: no manifest, no XMP, and no watermark (noise carries none)."""
    from PIL import Image

    rng = random.Random(20260801)
    image = Image.frombytes("RGB", (192, 128), bytes(rng.randrange(256) for _ in range(192 * 128 * 3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def verdict_of(result: dict[str, Any]) -> bool | None:
    verdict = result.get("verdict")
    if isinstance(verdict, bool):
        return verdict
    if isinstance(verdict, str):
        word = verdict.strip().lower().replace(" ", "-")
        if word in POSITIVE:
            return True
        if word in NEGATIVE:
            return False
    return None


def _json(probe: Probe) -> tuple[dict[str, Any] | None, str]:
    if not probe.ok:
        return None, probe.describe()
    try:
        value = json.loads(probe.body)
    except (ValueError, UnicodeDecodeError):
        return None, f"{probe.describe()}: not JSON: {probe.body[:120]!r}"
    return (value, "") if isinstance(value, dict) else (None, f"{probe.describe()}: JSON but not an object")


def _answer(fetch: Fetch, id: str, sample: bytes, kind: str, expect: bool, url: str) -> CheckResult:
    title = f"Detector answers for {'a marked' if expect else 'an unmarked'} sample"
    result, problem = _json(fetch(sample, kind, "application/json"))
    status: Status
    if result is None:
        status, evidence = "fail", problem
    else:
        missing = [f for f in REQUIRED_FIELDS if f not in result]
        said = verdict_of(result)
        sha = hashlib.sha256(sample).hexdigest()
        shown = json.dumps({k: result.get(k) for k in ("verdict", "based_on", "content_sha256", "detector")})[:500]
        if missing:
            status, evidence = "fail", f"missing {', '.join(missing)}: {shown}"
        elif result.get("content_sha256") != sha:
            status, evidence = "fail", f"content_sha256 is not the sample's ({sha}): {shown}"
        elif said is None:
            status, evidence = "warn", f"verdict {result.get('verdict')!r} not understood: {shown}"
        elif said != expect:
            status, evidence = "fail", f"says {'marked' if said else 'not marked'}, verify says the opposite: {shown}"
        else:
            status, evidence = "pass", shown
    return CheckResult(id=id, obligation=CODE_2, status=status, target=url, title=title, evidence=Evidence(evidence),
                       fix="" if status == "pass" else "answer POSTed content with JSON {verdict, based_on, layers, "
                       "content_sha256, detector, checked_at}, the verdict agreeing with the marks the content carries",
                       required=status != "warn")


def _signed(fetch: Fetch, sample: bytes, kind: str, url: str) -> CheckResult:
    title = "Signed (JWS) result verifies against its x5c chain"
    probe = fetch(sample, kind, "application/jose")
    fix = ("return a compact JWS (Content-Type application/jose) signed by the detector's key, its header carrying "
           "the x5c chain and its payload the result with content_sha256 (Code Measure 2.1)")
    if not probe.ok:
        return CheckResult(id="detection.signed", obligation=CODE_2, status="fail", target=url, title=title,
                           evidence=Evidence(probe.describe()), fix=fix)
    text = probe.body.decode("ascii", "replace").strip()
    try:
        verified = verify_compact_jws(text)
    except JwsError as exc:
        kind_seen = probe.headers.get("content-type", "(none)")
        return CheckResult(id="detection.signed", obligation=CODE_2, status="fail", target=url, title=title,
                           evidence=Evidence(f"Content-Type {kind_seen}: {exc}; body {text[:160]!r}"), fix=fix)
    sha = hashlib.sha256(sample).hexdigest()
    # Code Measure 2.1: the signed form holds the content hash, the detector's identifier and a timestamp.
    missing = [key for key in SIGNED_FIELDS if not verified.payload.get(key)]
    if missing:
        return CheckResult(id="detection.signed", obligation=CODE_2, status="fail", target=url, title=title,
                           evidence=Evidence(f"signature valid, but the payload lacks {', '.join(missing)}"), fix=fix)
    if verified.payload.get("content_sha256") != sha:
        return CheckResult(id="detection.signed", obligation=CODE_2, status="fail", target=url, title=title,
                           evidence=Evidence(f"signature valid, but content_sha256 "
                                             f"{verified.payload.get('content_sha256')} is not the sample's {sha}"),
                           fix=fix)
    root = verified.chain[-1]
    self_signed = root.issuer == root.subject
    return CheckResult(
        id="detection.signed", obligation=CODE_2, status="pass", target=url, title=title,
        evidence=Evidence(f"alg {verified.header.get('alg')}, signed by {verified.subject}, chain of "
                          f"{len(verified.chain)} ending at {root.subject.rfc4514_string()}"
                          f"{' (self-signed)' if self_signed else ''}; verified against the chain it carries, "
                          "not against a trust list"))


def detection_checks(fetch: Fetch, url: str, marked: tuple[bytes, str] | None) -> list[CheckResult]:
    checks = []
    if marked is None:
        checks.append(CheckResult(id="detection.marked", obligation=CODE_2, status="n/a", target=url,
                                  title="Detector answers for a marked sample", required=False,
                                  evidence=Evidence("no probed media carried an AI mark to submit (add --media)")))
    else:
        checks.append(_answer(fetch, "detection.marked", marked[0], marked[1], True, url))
    unmarked = unmarked_sample()
    checks.append(_answer(fetch, "detection.unmarked", unmarked, "image/png", False, url))
    sample, kind = marked or (unmarked, "image/png")
    checks.append(_signed(fetch, sample, kind, url))
    return checks
