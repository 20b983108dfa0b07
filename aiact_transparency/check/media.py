"""Media checks: each probed output verified per layer with the project's own verify (C2PA with
trainedAlgorithmicMedia, XMP, watermark), plus the visible "AI" label of Code Annex 1 where it can be seen.

Marks of another system are reported as such: a watermark whose system id is not the one the discovery
document's system name gives, or a manifest whose generator names another product, pass with that evidence.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from .probe import Probe
from .report import ANNEX_1, ART_50_2, CODE_1, CheckResult, Evidence, Status

_TRAINED = "trainedAlgorithmicMedia"


@dataclass
class MediaResult:
    checks: list[CheckResult]
    marked_sample: bytes | None  # the bytes, when verify found an AI mark: a sample for the detector check
    media_type: str | None


def _result(id: str, obligation: str, status: Status, target: str, title: str, evidence: str, fix: str = "",
            required: bool = True) -> CheckResult:
    return CheckResult(id=id, obligation=obligation, status=status, target=target, title=title,
                       evidence=Evidence(evidence), fix=fix if status in ("fail", "warn") else "", required=required)


def _c2pa(section: dict[str, Any], target: str) -> CheckResult:
    title = "C2PA manifest, valid, trainedAlgorithmicMedia"
    source = section.get("digital_source_type") or "no digital source type"
    if not section.get("found"):
        return _result("media.c2pa", CODE_1, "fail", target, title, section.get("based_on") or "no C2PA manifest",
                       "sign each output with a C2PA manifest whose c2pa.created action declares "
                       "digitalSourceType trainedAlgorithmicMedia (images.c2pa in the config)")
    if not section.get("ai_generated"):
        return _result("media.c2pa", CODE_1, "fail", target, title, section.get("based_on") or source,
                       f"the manifest declares {source.rsplit('/', 1)[-1]}, not {_TRAINED}: sign AI outputs with "
                       f"digitalSourceType {_TRAINED}" if section.get("valid") else
                       "re-sign the output after every change (a broken binding or signature is no mark)")
    trust = "trusted signer" if section.get("trusted") else "signer not on a trust list (valid, untrusted)"
    generator = section.get("claim_generator") or "unknown generator"
    return _result("media.c2pa", CODE_1, "pass", target, title, f"{source.rsplit('/', 1)[-1]}, {trust}, "
                   f"claim generator {generator}")


def _xmp(section: dict[str, Any], target: str) -> CheckResult:
    title = "XMP Iptc4xmpExt:DigitalSourceType says AI"
    status: Status = "pass" if section.get("ai_generated") else "warn"
    return _result("media.xmp", CODE_1, status, target, title, section.get("based_on", ""),
                   "add XMP Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia (read by tools without C2PA)",
                   required=False)


def _watermark(section: dict[str, Any], target: str, system_name: str | None) -> CheckResult:
    title = "Imperceptible watermark"
    if not section.get("found"):
        return _result("media.watermark", CODE_1, "fail", target, title, section.get("based_on") or "no watermark",
                       "embed an imperceptible watermark before signing (images.watermark in the config)")
    payload = section.get("payload") or {}
    fp = section.get("false_positive_probability")
    evidence = (f"payload system {payload.get('system_id', 0):06x} image {payload.get('image_id', 0):06x}, "
                f"false-positive chance <= {fp:.1e}" if isinstance(fp, float) else str(payload))
    if section.get("system_matches") is False:
        evidence += f"; the system id is not that of {system_name!r}: a mark of another system"
    return _result("media.watermark", CODE_1, "pass", target, title, evidence)


def _label(data: bytes, target: str) -> CheckResult:
    """Our badge (a dark plate with white letters top right, label.label_box) is looked for; a label drawn by
    another tool may not be recognised, so its absence is a warning, never a failure."""
    from PIL import Image

    from ..provenance.image.label import label_box

    title = "Visible AI label (top right)"
    try:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (image.width, image.height))
        box = label_box(image.size)
        region = image.convert("L").crop(box)
    except (OSError, ValueError) as exc:
        return _result("media.label", ANNEX_1, "warn", target, title, f"not examined: {exc}", required=False)
    pixels = np.asarray(region)
    dark = float((pixels < 70).mean()) if pixels.size else 0.0
    bright = float((pixels > 200).mean()) if pixels.size else 0.0
    if dark > 0.3 and bright > 0.03:
        return _result("media.label", ANNEX_1, "pass", target, title,
                       f"badge at {box}: {dark:.0%} dark plate, {bright:.0%} light letters")
    return _result("media.label", ANNEX_1, "warn", target, title,
                   f"no AI badge recognised at the top right {box} ({dark:.0%} dark, {bright:.0%} light pixels)",
                   'deployers label AI images visibly: the EU icon "AI" at the top right (images.visible_label)',
                   required=False)


def media_checks(probe: Probe, system_name: str | None) -> MediaResult:
    from ..provenance.errors import UnsupportedImageError
    from ..provenance.verify import verify

    target = probe.url
    if not probe.ok:
        return MediaResult([_result("media.fetch", ART_50_2, "fail", target, "Media output answers",
                                    probe.describe(), "make the media route answer 200")], None, None)
    if probe.truncated:
        return MediaResult([_result("media.fetch", ART_50_2, "fail", target, "Media output within the size limit",
                                    f"more than {len(probe.body)} bytes: not verified",
                                    "probe a smaller output (the check reads up to 16 MB per file)")], None, None)
    try:
        report = verify(probe.body, system_name=system_name)
    except UnsupportedImageError as exc:
        kind = probe.headers.get("content-type", "?")
        return MediaResult([_result("media.verify", ART_50_2, "n/a", target, "Media output verified per layer",
                                    f"{exc} (Content-Type {kind}); not verified", required=False)], None, None)
    sha = hashlib.sha256(probe.body).hexdigest()
    checks = [_c2pa(report.c2pa, target), _xmp(report.xmp, target),
              _watermark(report.watermark, target, system_name), _label(probe.body, target)]
    checks[0].evidence.text += f" ({report.media_type}, {len(probe.body)} bytes, sha256 {sha[:16]}...)"
    return MediaResult(checks, probe.body if report.marked else None, report.media_type)
