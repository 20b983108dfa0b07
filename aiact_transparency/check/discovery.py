"""The discovery document (/.well-known/ai-disclosure): reachable, JSON, and naming who runs the system, how to
reach them, which model it uses and where its detector is. Any vendor's document is read the same way: the
names are looked for where our schema puts them and at the top level."""

from __future__ import annotations

import json
from typing import Any

from .probe import Probe
from .report import ART_50_1, ART_50_5, CODE_2, CheckResult, Evidence

_DETECTOR_KEYS = ("detector", "detection", "detect", "detection_endpoint", "detector_url")


def parse_document(probe: Probe) -> tuple[dict[str, Any] | None, str]:
    """The document and a note, or None and why it cannot be read."""
    if probe.error is not None:
        return None, probe.error
    if probe.status != 200:
        return None, f"HTTP {probe.status}"
    if probe.truncated:
        return None, "larger than the size limit"
    try:
        document = json.loads(probe.body)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = probe.body[:120].decode("utf-8", "replace")
        return None, f"not JSON ({exc}): {snippet!r}"
    if not isinstance(document, dict):
        return None, f"JSON {type(document).__name__}, not an object"
    return document, f"JSON object with keys {', '.join(sorted(document)[:12])}"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _named(document: dict[str, Any], key: str) -> str | None:
    system = document.get("system")
    found = _text(system.get(key)) if isinstance(system, dict) else None
    return found or _text(document.get(key))


def _model(document: dict[str, Any]) -> str | None:
    model = document.get("model")
    if isinstance(model, dict):
        return next((_text(model.get(k)) for k in ("label", "id", "model_id", "name", "model_name")
                     if _text(model.get(k))), None)
    return _text(model) or (_named(document, "model"))


def detector_url(document: dict[str, Any]) -> str | None:
    """The detector the document links, wherever it says it: a key named detector/detection (string, or an
    object with url/endpoint/href), at the top level or one level down."""
    def from_value(value: Any) -> str | None:
        if isinstance(value, dict):
            return next((_text(value.get(k)) for k in ("url", "endpoint", "href", "api") if _text(value.get(k))),
                        None)
        return _text(value)

    for scope in [document, *(v for v in document.values() if isinstance(v, dict))]:
        for key in _DETECTOR_KEYS:
            found = from_value(scope.get(key))
            if found and (found.startswith(("/", "http://", "https://"))):
                return found
    return None


def discovery_checks(probe: Probe) -> tuple[list[CheckResult], dict[str, Any] | None]:
    document, note = parse_document(probe)
    url = probe.url
    results = [CheckResult(
        id="discovery.reachable", obligation=ART_50_5, status="pass" if document is not None else "fail", target=url,
        title="Discovery document reachable and well-formed JSON", evidence=Evidence(f"{probe.describe()}: {note}"),
        fix="" if document is not None else "serve a JSON document at /.well-known/ai-disclosure describing the "
        "system (provider, contact, model, detector); TransparencyMiddleware serves one",
    )]
    for key, title, getter in (("provider", "names the provider", lambda d: _named(d, "provider")),
                               ("contact", "names a contact", lambda d: _named(d, "contact")),
                               ("model", "names the model", _model)):
        if document is None:
            results.append(CheckResult(id=f"discovery.{key}", obligation=ART_50_1, status="n/a", target=url,
                                       title=f"Discovery document {title}", evidence=Evidence(note)))
            continue
        value = getter(document)
        results.append(CheckResult(
            id=f"discovery.{key}", obligation=ART_50_1, status="pass" if value else "fail", target=url,
            title=f"Discovery document {title}",
            evidence=Evidence(f"{key}: {value!r}" if value else f"no {key} in the document ({note})"),
            fix="" if value else f"add system.{key} to the document (config: system.{key}"
            + (", or a model card" if key == "model" else "") + ")",
        ))
    return results, document


def detector_link_check(url: str, document: dict[str, Any] | None, answered_at: str | None) -> CheckResult:
    """Whether the document links a detector; `answered_at` is where a detector answered when it does not."""
    linked = detector_url(document) if document is not None else None
    if linked:
        return CheckResult(id="discovery.detector", obligation=CODE_2, status="pass", target=url,
                           title="Discovery document links a detector", evidence=Evidence(f"detector: {linked}"))
    if document is None:
        return CheckResult(id="discovery.detector", obligation=CODE_2, status="n/a", target=url,
                           title="Discovery document links a detector", evidence=Evidence("no document to read"))
    seen = f"; a detector answers at {answered_at}, but nothing links it" if answered_at else ""
    return CheckResult(
        id="discovery.detector", obligation=CODE_2, status="warn" if answered_at else "fail", target=url,
        title="Discovery document links a detector", required=not answered_at,
        evidence=Evidence(f"no detector/detection link in the document{seen}"),
        fix='add "detection": {"endpoint": "/.well-known/ai-disclosure/detect"} to the document so the public '
        "can find the free detection interface (Code Commitment 2)",
    )
