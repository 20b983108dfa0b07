"""Read and validate a C2PA manifest into a flat report; never raises on unmarked or corrupt input."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import c2pa

from ..keys import SigningIdentity
from ..payload import SOFT_BINDING_ALG, WatermarkPayload, system_id_for

# The C2PA 2.4 AI disclosure assertion is known from secondary sources only: use our own namespace until
# its label and fields are confirmed.
AI_DISCLOSURE_LABEL = "org.aiact-transparency.ai-disclosure"
UNTRUSTED_CODE = "signingCredential.untrusted"
_HARD_BINDING_PREFIXES = ("assertion.dataHash.", "assertion.boxesHash.", "assertion.bmffHash.",
                          "assertion.collectionHash.")


@dataclass(frozen=True)
class ManifestReport:
    found: bool
    valid: bool = False
    validation_state: str | None = None  # "Valid", "Trusted" or "Invalid", as c2pa reports it
    errors: tuple[str, ...] = ()  # failure codes with explanations, the untrusted signer excluded
    reason: str | None = None  # one sentence: why not found / not valid
    trusted: bool = False  # only when the signer chains to a configured trust anchor
    hard_binding_intact: bool | None = None
    digital_source_type: str | None = None
    claim_generator: str | None = None
    software_agent: str | None = None
    signer_issuer: str | None = None
    signer_common_name: str | None = None
    signer_serial: str | None = None
    signature_alg: str | None = None
    has_watermark_assertion: bool = False
    soft_binding_alg: str | None = None  # of the c2pa.soft-binding assertion, when there is one
    soft_binding_value: str | None = None  # its first block's value (ours: the watermark payload, hex)
    disclosed_system: str | None = None  # the "system" our AI disclosure assertion names
    disclosed_provider: str | None = None  # and the "provider"
    disclosed_model: dict[str, Any] | None = None  # and the model facts
    manifest_id: str | None = None  # the active manifest's label (a URN)
    signed_at: str | None = None  # the signature's RFC 3161 time-stamp, when it has one (else not attested)
    has_thumbnail: bool = False
    title: str | None = None
    assertion_labels: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reader_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    # Reading must stay offline and fast: no remote manifests, no OCSP.
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii")}
        settings["verify"]["verify_trust"] = True
    return c2pa.Context.from_dict(settings)


def read_manifest(data: bytes, media_type: str, *, trust_anchors_pem: bytes | None = None) -> ManifestReport:
    """Report on the asset's active manifest. Trusted only with `trust_anchors_pem` holding its root."""
    try:
        with reader_context(trust_anchors_pem) as ctx, \
                c2pa.Reader(media_type, io.BytesIO(data), context=ctx) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return ManifestReport(found=False, reason="no C2PA manifest in the asset")
    except c2pa.C2paError.NotSupported:
        return ManifestReport(found=False, reason=f"not a readable {media_type} asset for C2PA")
    except (c2pa.C2paError, ValueError) as exc:
        return ManifestReport(found=False, reason=f"C2PA data could not be read: {exc}")
    try:
        return report_from_store(store)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        return ManifestReport(found=True, reason=f"C2PA manifest store is malformed ({exc!r})")


def read_manifest_store(data: bytes, media_type: str, store: bytes, *, trust_anchors_pem: bytes | None = None
                        ) -> ManifestReport:
    """Validate a manifest store kept apart from the asset (a sidecar, or one recovered through a soft binding)
    against the asset's bytes: c2pa checks the signature and the hard binding as for an embedded one."""
    try:
        with reader_context(trust_anchors_pem) as ctx, \
                c2pa.Reader(media_type, io.BytesIO(data), store, context=ctx) as reader:
            parsed = json.loads(reader.json())
    except c2pa.C2paError.NotSupported:
        return ManifestReport(found=False, reason=f"not a readable {media_type} asset for C2PA")
    except (c2pa.C2paError, ValueError) as exc:
        return ManifestReport(found=False, reason=f"the manifest store could not be read: {exc}")
    try:
        return report_from_store(parsed)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        return ManifestReport(found=True, reason=f"C2PA manifest store is malformed ({exc!r})")


def _failures(store: dict[str, Any]) -> list[dict[str, Any]]:
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {}
    if "failure" in active:
        return list(active["failure"])
    return list(store.get("validation_status") or [])


def _created_action(manifest: dict[str, Any]) -> dict[str, Any]:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").split("__")[0] in ("c2pa.actions.v2", "c2pa.actions"):
            actions = assertion.get("data", {}).get("actions", [])
            for action in actions:
                if action.get("action") == "c2pa.created":
                    return dict(action)
    return {}


def _assertion_data(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).split("__")[0] == label and isinstance(assertion.get("data"), dict):
            return dict(assertion["data"])
    return {}


def _soft_binding(manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    data = _assertion_data(manifest, "c2pa.soft-binding")
    blocks = data.get("blocks") or [{}]
    value = blocks[0].get("value") if isinstance(blocks[0], dict) else None
    alg = data.get("alg")
    return (alg if isinstance(alg, str) else None), (value if isinstance(value, str) else None)


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, dict):
        name, version = agent.get("name"), agent.get("version")
        return f"{name}/{version}" if name and version else name
    return agent if isinstance(agent, str) else None


def report_from_store(store: dict[str, Any]) -> ManifestReport:
    manifest = store["manifests"][store["active_manifest"]]
    failures = _failures(store)
    codes = [str(f.get("code")) for f in failures]
    errors = tuple(f"{f.get('code')}: {f.get('explanation', '')}" for f in failures if f.get("code") != UNTRUSTED_CODE)
    state = store.get("validation_state")
    valid = state in ("Valid", "Trusted") and not errors
    broken = [c for c in codes if c.startswith(_HARD_BINDING_PREFIXES) and not c.endswith(".match")]
    reason = None
    if broken:
        reason = f"hard binding broken: the asset bytes changed after signing ({', '.join(broken)})"
    elif not valid:
        reason = "; ".join(errors) or f"validation state {state}"
    notes = []
    if UNTRUSTED_CODE in codes:
        notes.append("the signing certificate does not chain to a trusted root: the manifest is intact but "
                     "its signer is unverified (a development or private CA chain)")
    info = manifest.get("signature_info") or {}
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    created = _created_action(manifest)
    labels = tuple(str(a.get("label")) for a in manifest.get("assertions", []))
    soft_alg, soft_value = _soft_binding(manifest)
    disclosure = _assertion_data(manifest, AI_DISCLOSURE_LABEL)
    system, provider, model = disclosure.get("system"), disclosure.get("provider"), disclosure.get("model")
    label, signed_at = store["active_manifest"], info.get("time")
    return ManifestReport(
        found=True, valid=valid, validation_state=state, errors=errors, reason=reason,
        trusted=state == "Trusted", hard_binding_intact=not broken,
        digital_source_type=created.get("digitalSourceType"),
        claim_generator=_agent_name(generator) or manifest.get("claim_generator"),
        software_agent=_agent_name(created.get("softwareAgent")),
        signer_issuer=info.get("issuer"), signer_common_name=info.get("common_name"),
        signer_serial=info.get("cert_serial_number"), signature_alg=info.get("alg"),
        has_watermark_assertion=any(label.split("__")[0] == "c2pa.soft-binding" for label in labels),
        soft_binding_alg=soft_alg, soft_binding_value=soft_value,
        disclosed_system=system if isinstance(system, str) else None,
        disclosed_provider=provider if isinstance(provider, str) else None,
        disclosed_model=dict(model) if isinstance(model, dict) and model else None,
        manifest_id=label if isinstance(label, str) else None,
        signed_at=signed_at if isinstance(signed_at, str) else None,
        has_thumbnail=bool(manifest.get("thumbnail")), title=manifest.get("title"), assertion_labels=labels,
        notes=tuple(notes),
    )


def is_signed_by(report: ManifestReport, identity: SigningIdentity, generator: str = "aiact-transparency") -> bool:
    """True when the asset already carries a valid manifest from this system and signer: skip re-signing."""
    return (report.found and report.valid and report.signer_serial == identity.serial_number
            and report.signer_common_name == identity.common_name
            and (report.claim_generator or "").split("/")[0] == generator)


def is_marked_by_system(report: ManifestReport, identity: SigningIdentity, system_name: str,
                        generator: str = "aiact-transparency") -> bool:
    """True when the asset carries a valid manifest of this very system: skip marking it again.

    The signer alone does not say that: every system on the development chain (or on one company's
    certificate) shares it. The manifest must also name the system, in its AI disclosure assertion and
    its c2pa.created software agent, and a watermark soft binding, when there is one, must carry its system id.
    """
    if not is_signed_by(report, identity, generator) or report.disclosed_system != system_name:
        return False
    agent = report.software_agent or ""
    if agent != system_name and not agent.startswith(f"{system_name} ("):
        return False
    if report.soft_binding_alg != SOFT_BINDING_ALG:
        return True  # no watermark of ours recorded (animated or too small to carry one)
    try:
        payload = WatermarkPayload.from_bytes(bytes.fromhex(report.soft_binding_value or ""))
    except ValueError:  # not hex, wrong length or a failed checksum: not a watermark of ours
        return False
    return payload.system_id == system_id_for(system_name)
