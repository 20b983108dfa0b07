"""C2PA manifests for AI-generated images: build the definition once, sign bytes, read them back.

Order matters: watermark and re-encode first, sign last. Any byte written after signing breaks the hard
binding (`assertion.dataHash.mismatch`).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Mapping
from typing import Any

import c2pa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..._version import __version__
from ..formats import MARKABLE_TYPES, canonical
from ..keys import HASH_FOR_ALG, ManifestSigner
from ..payload import SOFT_BINDING_ALG
from .jumbf import active_manifest_label
from .reading import AI_DISCLOSURE_LABEL, ManifestReport, is_signed_by, read_manifest

__all__ = [
    "AI_DISCLOSURE_LABEL", "GENERATOR_NAME", "SOFT_BINDING_LABEL", "SUPPORTED_MEDIA_TYPES",
    "TRAINED_ALGORITHMIC_MEDIA", "TRAINING_MINING_LABEL", "WATERMARK_ACTION", "C2paSigningError",
    "ManifestReport", "build_manifest", "is_signed_by", "read_manifest", "sign_asset", "sign_manifest",
    "sign_manifest_labelled", "sign_manifest_store",
]

GENERATOR_NAME = "aiact-transparency"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# C2PA 2.2+ name for "a watermark carrying a soft binding to this manifest"; c2pa-rs 0.91 (c2pa-python 0.38)
# accepts it and requires a c2pa.soft-binding assertion next to it (assertion.action.softBindingMissing).
WATERMARK_ACTION = "c2pa.watermarked.bound"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
TRAINING_MINING_LABEL = "cawg.training-mining"
# What the library marks is what it signs (c2pa-rs itself reads many more formats).
SUPPORTED_MEDIA_TYPES = MARKABLE_TYPES
_TRAINING_USES = frozenset({"allowed", "notAllowed", "constrained"})


class C2paSigningError(RuntimeError):
    """c2pa refused to sign; the message carries c2pa's reason (never key material)."""


def normalize_media_type(media_type: str) -> str:
    mt = canonical(media_type)
    if mt not in SUPPORTED_MEDIA_TYPES:
        raise ValueError(f"media type {media_type!r} is not supported for C2PA signing "
                         f"(supported: {', '.join(sorted(SUPPORTED_MEDIA_TYPES))})")
    return mt


def _training_mining(prefs: Mapping[str, Any]) -> dict[str, Any]:
    # Accept {"ai_generative_training": "notAllowed"} as shorthand for the CAWG entry form.
    entries: dict[str, Any] = {}
    for key, pref in prefs.items():
        entry = dict(pref) if isinstance(pref, Mapping) else {"use": pref}
        if entry.get("use") not in _TRAINING_USES:
            raise ValueError(f"training/mining preference {key!r}: 'use' must be one of {sorted(_TRAINING_USES)}")
        entries[key if "." in key else f"cawg.{key}"] = entry
    return {"entries": entries}


def _soft_binding(watermark: Mapping[str, Any]) -> dict[str, Any]:
    if not watermark.get("alg") or not isinstance(watermark.get("value"), str):
        raise ValueError(f"watermark needs 'alg' (algorithm id: {SOFT_BINDING_ALG} for this library's watermark) "
                         "and 'value' (the embedded payload as a string)")
    binding: dict[str, Any] = {
        "alg": watermark["alg"],
        # An empty scope means the whole asset: our watermark is spread over the full image.
        "blocks": [{"scope": dict(watermark.get("scope", {})), "value": watermark["value"]}],
        "pad": [],  # required by c2pa-rs's SoftBinding struct
    }
    for optional in ("name", "alg_params"):
        if watermark.get(optional):
            binding[optional] = str(watermark[optional])
    return binding


def build_manifest(*, software_agent: str, title: str | None = None, assertions: Iterable[Mapping[str, Any]] = (),
                   watermark: Mapping[str, Any] | None = None, training_mining: Mapping[str, Any] | None = None,
                   model_facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest definition; pure, so a service can build it once from its config."""
    actions: list[dict[str, Any]] = [{
        "action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": software_agent},
    }]
    extra: list[dict[str, Any]] = []
    if watermark is not None:
        extra.append({"label": SOFT_BINDING_LABEL, "data": _soft_binding(watermark)})
        actions.append({"action": WATERMARK_ACTION, "softwareAgent": {"name": GENERATOR_NAME,
                                                                       "version": __version__}})
    if training_mining:
        extra.append({"label": TRAINING_MINING_LABEL, "data": _training_mining(training_mining)})
    if model_facts:
        extra.append({"label": AI_DISCLOSURE_LABEL, "data": dict(model_facts)})
    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": GENERATOR_NAME, "version": __version__}],
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *extra,
                       *(dict(a) for a in assertions)],
    }
    if title:
        manifest["title"] = title
    return manifest


@functools.lru_cache(maxsize=16)
def _leaf_public_key(chain_pem: bytes) -> Any:
    return x509.load_pem_x509_certificates(chain_pem)[0].public_key()


def _check_signature(signer: ManifestSigner, data: bytes, signature: bytes) -> None:
    """Verify what the signer returned (~0.1 ms): a KMS with the wrong key must fail here, not in a reader."""
    public, digest = _leaf_public_key(signer.certificate_chain_pem), HASH_FOR_ALG.get(signer.alg)
    if isinstance(public, ec.EllipticCurvePublicKey) and digest is not None:
        size = (public.curve.key_size + 7) // 8
        if len(signature) == 2 * size:  # COSE r||s; otherwise assume DER, which c2pa-rs also accepts
            signature = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                             int.from_bytes(signature[size:], "big"))
        public.verify(signature, data, ec.ECDSA(digest()))
    elif isinstance(public, rsa.RSAPublicKey) and digest is not None:
        h = digest()
        public.verify(signature, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, data)
    else:
        raise ValueError(f"signer algorithm {signer.alg!r} does not fit its certificate's key")


def c2pa_signer(signer: ManifestSigner, failures: list[BaseException]) -> c2pa.Signer:
    def callback(data: bytes) -> bytes:
        try:
            signature = signer.sign(data)
            _check_signature(signer, data, signature)
        except InvalidSignature:
            failures.append(C2paSigningError(f"the {signer.alg} signature returned by the signer does not verify "
                                             "against its certificate: wrong key or wrong signature format"))
            raise
        except Exception as exc:  # c2pa only sees -1; keep the cause to re-raise it with context
            failures.append(exc)
            raise
        return signature

    alg = c2pa.C2paSigningAlg[signer.alg.upper()]
    return c2pa.Signer.from_callback(callback, alg, signer.certificate_chain_pem.decode("ascii"), signer.tsa_url)


def sign_manifest(data: bytes, media_type: str, manifest: Mapping[str, Any], *, signer: ManifestSigner,
                  thumbnail: bool = False, verify_after_sign: bool = False,
                  ingredient: bytes | None = None) -> bytes:
    """Embed and sign `manifest` in the asset; returns the signed asset bytes (see `sign_manifest_labelled`)."""
    return sign_manifest_labelled(data, media_type, manifest, signer=signer, thumbnail=thumbnail,
                                  verify_after_sign=verify_after_sign, ingredient=ingredient)[0]


def sign_manifest_labelled(data: bytes, media_type: str, manifest: Mapping[str, Any], *, signer: ManifestSigner,
                           thumbnail: bool = False, verify_after_sign: bool = False,
                           ingredient: bytes | None = None) -> tuple[bytes, str | None]:
    """Embed and sign `manifest` in the asset; returns the signed asset bytes and the active manifest's label
    (read from the manifest store `sign` returns: no second reading of the asset)."""
    signed, store = sign_manifest_store(data, media_type, manifest, signer=signer, thumbnail=thumbnail,
                                        verify_after_sign=verify_after_sign, ingredient=ingredient)
    return signed, active_manifest_label(store)


def sign_manifest_store(data: bytes, media_type: str, manifest: Mapping[str, Any], *, signer: ManifestSigner,
                        thumbnail: bool = False, verify_after_sign: bool = False,
                        ingredient: bytes | None = None) -> tuple[bytes, bytes]:
    """Embed and sign `manifest` in the asset; returns the signed asset bytes and the signed manifest store
    (the JUMBF bytes embedded in the asset, as `application/c2pa`: what the Soft Binding Resolution API serves).

    `ingredient`: the asset as it arrived, when it carried someone else's manifest. It is added as a
    componentOf ingredient, so the earlier provenance stays in the manifest store instead of being replaced
    (the Code of Practice: do not strip existing marks).
    """
    mt = normalize_media_type(media_type)
    failures: list[BaseException] = []
    # Thumbnails cost ~100 ms per 1 MP image and add nothing the asset itself does not show. Re-validating
    # the result doubles signing time; the signature itself is always checked in the callback.
    settings = {"builder": {"thumbnail": {"enabled": thumbnail}}, "verify": {"verify_after_sign": verify_after_sign}}
    try:
        with c2pa.Context.from_dict(settings) as ctx, c2pa_signer(signer, failures) as c_signer, \
                c2pa.Builder(dict(manifest), context=ctx) as builder:
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE, c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA)
            if ingredient is not None:
                # componentOf, not parentOf: a CREATE claim may not have a parent; c2pa validates this as Valid.
                builder.add_ingredient({"title": "asset as received", "relationship": "componentOf"}, mt,
                                       io.BytesIO(ingredient))
            out = io.BytesIO()
            # Pass `out`: without a destination c2pa returns only the manifest and drops the signed asset.
            store = builder.sign(c_signer, mt, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        cause = failures[0] if failures else exc
        raise C2paSigningError(f"C2PA signing of {mt} failed: {cause}") from cause
    return out.getvalue(), bytes(store)


def sign_asset(data: bytes, media_type: str, *, signer: ManifestSigner, software_agent: str,
               title: str | None = None, assertions: Iterable[Mapping[str, Any]] = (),
               watermark: Mapping[str, Any] | None = None, training_mining: Mapping[str, Any] | None = None,
               model_facts: Mapping[str, Any] | None = None, thumbnail: bool = False,
               verify_after_sign: bool = False) -> bytes:
    """Sign an AI-generated image: c2pa.created + trainedAlgorithmicMedia, plus what was given.

    `verify_after_sign=True` re-validates the signed asset with c2pa (about 2x the time): worth it when
    `assertions` carries content not covered by tests.
    """
    manifest = build_manifest(software_agent=software_agent, title=title, assertions=assertions,
                              watermark=watermark, training_mining=training_mining, model_facts=model_facts)
    return sign_manifest(data, media_type, manifest, signer=signer, thumbnail=thumbnail,
                         verify_after_sign=verify_after_sign)
