"""Per-layer reports for the detector: verify()'s findings plus who the mark attributes the content to.

Each report keeps verify's own fields and `based_on` sentence and adds `checked`, `ai_mark` and
`this_system` (read by verdict.combine) and what the mark carries in plain fields: system, model, manifest
id, when it was signed, and the signer with its trust.
"""

from __future__ import annotations

from typing import Any

from ..provenance.c2pa.reading import ManifestReport, is_marked_by_system
from ..provenance.keys import DEV_ORGANIZATION, SigningIdentity
from ..provenance.payload import system_id_for
from ..provenance.verify import AI_SOURCE_TYPES

__all__ = ["c2pa_layer", "not_applicable", "watermark_layer", "xmp_layer"]

_REPORT_FIELDS = frozenset(ManifestReport.__dataclass_fields__)


def not_applicable(reason: str) -> dict[str, Any]:
    return {"found": False, "checked": False, "ai_mark": False, "this_system": False, "based_on": reason}


def _signer(section: dict[str, Any], identity: SigningIdentity | None) -> dict[str, Any]:
    issuer = section.get("signer_issuer") or ""
    ours = identity is not None and section.get("signer_serial") == identity.serial_number
    development = DEV_ORGANIZATION in issuer
    if section.get("trusted"):
        trust = "trusted: the signer chains to a trust anchor this detector is configured with"
    elif development:
        trust = "UNTRUSTED: a development certificate chain made by aiact-transparency, no validator trusts it"
    else:
        trust = "untrusted: the signer does not chain to a trust anchor this detector knows"
    return {"common_name": section.get("signer_common_name"), "issuer": section.get("signer_issuer"),
            "serial_number": section.get("signer_serial"), "alg": section.get("signature_alg"),
            "trusted": bool(section.get("trusted")), "development_chain": development,
            "this_systems_signer": ours, "trust": trust}


def c2pa_layer(section: dict[str, Any], identity: SigningIdentity | None, system_name: str) -> dict[str, Any]:
    """`section`: verify()'s c2pa dict (or a text manifest's): a ManifestReport's fields plus based_on."""
    layer = dict(section)
    if section.get("found"):
        signed_at = section.get("signed_at")
        attested = "the signature's RFC 3161 time-stamp" if signed_at else \
            "no time-stamp in the signature: the signing time is not attested"
        layer.update(marked_at=signed_at, marked_at_based_on=attested, provider=section.get("disclosed_provider"),
                     model=section.get("disclosed_model"))
    ai = bool(section.get("found") and section.get("valid")
              and section.get("digital_source_type") in AI_SOURCE_TYPES)
    report = ManifestReport(**{k: v for k, v in section.items() if k in _REPORT_FIELDS})
    ours = ai and identity is not None and is_marked_by_system(report, identity, system_name)
    layer.update(checked=True, ai_generated=ai, ai_mark=ai, this_system=ours, system=section.get("disclosed_system"))
    if section.get("found"):
        layer["signer"] = _signer(section, identity)
    based_on = str(section.get("based_on") or "")
    if ours:
        based_on += f"; names this system ({system_name}) and is signed by this system's signer"
    elif ai and section.get("disclosed_system") == system_name:
        based_on += (f"; names this system ({system_name}) but is not signed by this system's signer (or its "
                     "watermark record names another system): not attributed to this system")
    elif ai:
        based_on += "; made by another system" + (f" ({layer['system']})" if layer.get("system") else "")
    layer["based_on"] = based_on
    return layer


def xmp_layer(section: dict[str, Any]) -> dict[str, Any]:
    layer = dict(section)
    ai = bool(section.get("ai_generated"))
    checked = not str(section.get("based_on", "")).startswith("XMP unreadable")
    layer.update(checked=checked, ai_mark=ai, this_system=False)
    if ai:
        layer["based_on"] = f"{section['based_on']}; it names no verifiable maker, so it attributes the content to " \
                            "no system"
    return layer


def watermark_layer(section: dict[str, Any], system_name: str) -> dict[str, Any]:
    layer = dict(section)
    payload: dict[str, int] = section.get("payload") or {}
    found = bool(section.get("found")) and bool(payload)
    ours_id = system_id_for(system_name)
    ours = found and payload["system_id"] == ours_id
    # Looked for: images name the sizes tried, audio and video the readings (per layer for video's frames and
    # soundtrack); a section without them was not read (an extra missing, pixels undecodable).
    read = section.get("sizes_tried") or section.get("readings") or any(
        isinstance(part, dict) and part.get("readings") for part in (section.get("layers") or {}).values())
    layer.update(checked=bool(read), ai_mark=found, this_system=ours,
                 false_positive_bound=section.get("false_positive_probability") if found else None)
    if found:
        layer["system_id"] = f"{payload['system_id']:06x}"
        # The payload's second field: an image's id, or an audio clip's or video's item id (the same 24 bits).
        item = payload.get("image_id", payload.get("item_id"))
        layer["item_id" if "item_id" in payload else "image_id"] = f"{item:06x}"
        if ours:
            tail = (f"; its system id {payload['system_id']:06x} is this system's ({system_name}); another system's "
                    "name maps to the same 24-bit id with chance 2^-24 (6e-8)")
        else:
            tail = (f"; its system id {payload['system_id']:06x} is not this system's ({ours_id:06x}): another "
                    "system using this watermark scheme")
        layer["based_on"] = str(section.get("based_on", "")) + tail
    return layer
