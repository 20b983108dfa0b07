"""mark_image: every layer the Code of Practice asks for, in the one order that keeps them all valid.

decode -> invisible watermark -> optional visible "AI" label -> re-encode (lossless stays lossless) with
XMP -> C2PA sign last (any byte written after signing would break the manifest's hard binding). With
watermark and label off no pixel changes, so the original bytes get XMP and the manifest without a
re-encode.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ...config.modelcard import ModelFacts
from ..c2pa.jumbf import active_manifest_label
from ..c2pa.manifest import C2paSigningError, build_manifest, sign_manifest_store
from ..errors import CorruptImageError, ImageMarkingError, ImageTooLargeError, SigningError, UnsupportedImageError
from ..keys import ManifestSigner
from ..keys.configured import signer_for
from ..maker import Intake, maker_for
from ..per_config import PerConfig
from ..xmp import ImageFormatError, XmpError, build_xmp, extract_xmp, insert_xmp
from . import codec as _codec
from .label import draw_ai_label, label_text
from .watermark import (
    SCHEME,
    SOFT_BINDING_ALG,
    WatermarkCapacityError,
    WatermarkPayload,
    embed_watermark,
)

if TYPE_CHECKING:
    from ...config import TransparencyConfig

_INTAKE = Intake("image", "images", "supported: PNG, JPEG and WebP", ImageTooLargeError, UnsupportedImageError)


@dataclass(frozen=True)
class MarkReport:
    media_type: str
    already_marked: bool = False
    re_encoded: bool = False
    watermark: dict[str, Any] | None = None  # scheme and payload, when one was embedded
    visible_label: bool = False
    xmp: bool = False
    c2pa: dict[str, Any] | None = None  # the signer's identity, when signed
    manifest_id: str | None = None  # the signed asset's active C2PA manifest label (the fingerprint log keeps it)
    notes: tuple[str, ...] = ()
    # The signed manifest store (JUMBF) embedded in the output: the fingerprint log keeps it for the C2PA Soft
    # Binding Resolution API (issue 18). Bytes, so not part of the JSON report.
    manifest_store: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        del report["manifest_store"]
        return report


@dataclass(frozen=True)
class MarkedImage:
    data: bytes
    media_type: str
    report: MarkReport


@dataclass
class _Work:
    data: bytes
    media_type: str
    notes: list[str] = field(default_factory=list)
    watermark: dict[str, Any] | None = None
    label: bool = False
    re_encoded: bool = False
    ingredient: bytes | None = None  # the input, when it carried a foreign manifest to keep
    manifest_id: str | None = None
    manifest_store: bytes | None = None


class ImageMarker:
    """Everything constant derived once from the config (signer, manifest template, ids); `mark` per image.

    Thread-safe: `mark` keeps no state on the instance, so worker threads can share one marker.
    """

    def __init__(
        self, config: TransparencyConfig, *, signer: ManifestSigner | None = None, facts: ModelFacts | None = None
    ) -> None:
        self.config = config
        self.maker = maker_for(config, signs=config.images.c2pa, signer=signer, facts=facts)
        self.signer, self.identity = self.maker.signer, self.maker.identity

    @property
    def changes_pixels(self) -> bool:
        return self.config.images.watermark or bool(self.config.images.visible_label)

    def mark(self, data: bytes, media_type: str | None = None) -> MarkedImage:
        """Mark one encoded image. The bytes decide the format; a declared `media_type` that lies is noted."""
        images = self.config.images
        admitted = self.maker.admit(data, media_type, _INTAKE, images.max_bytes)
        actual, prior = admitted.media_type, admitted.prior
        if prior.ours:
            return MarkedImage(data, actual, MarkReport(actual, already_marked=True, notes=admitted.notes))
        work = _Work(data, actual, list(admitted.notes), ingredient=prior.ingredient)
        try:
            if self.changes_pixels:
                self._mark_pixels(work)
            else:
                _codec.open_checked(data, actual, images.max_pixels)  # refuse bombs and garbage all the same
            xmp = images.xmp and self._add_xmp(work)
        except ImageFormatError as exc:
            # The XMP byte surgery walks the whole container: a truncated or malformed one ends here (a
            # malformed XMP packet alone is only noted, in _existing_xmp).
            raise CorruptImageError(f"the {actual} container is malformed: {exc}") from None
        c2pa = self._sign(work) if self.signer is not None else None
        report = MarkReport(
            media_type=actual,
            re_encoded=work.re_encoded,
            watermark=work.watermark,
            visible_label=work.label,
            xmp=xmp,
            c2pa=c2pa,
            manifest_id=work.manifest_id,
            notes=tuple(work.notes),
            manifest_store=work.manifest_store,
        )
        return MarkedImage(work.data, actual, report)

    def _mark_pixels(self, work: _Work) -> None:
        images = self.config.images
        decoded = _codec.decode(work.data, work.media_type, images.max_pixels)
        work.notes.extend(decoded.notes)
        if _codec.is_animated(decoded.image):
            work.notes.append("animated image: watermark and label skipped (they mark single frames)")
            return
        image = decoded.image
        if images.watermark:
            payload = WatermarkPayload(self.maker.system_id, secrets.randbits(24))
            try:
                image = embed_watermark(image, payload)
                work.watermark = {"scheme": SCHEME, "system_id": payload.system_id, "image_id": payload.image_id,
                                  "value": payload.to_bytes().hex()}
            except WatermarkCapacityError as exc:
                work.notes.append(f"no watermark: {exc}")
        if images.visible_label:
            try:
                image = draw_ai_label(image, text=label_text(images.label_variant))
                work.label = True
            except ValueError as exc:
                work.notes.append(f"no visible label: {exc}")
        original_xmp = self._existing_xmp(work)
        work.data = _codec.encode(image, decoded, images.jpeg_quality)
        work.re_encoded = True
        if original_xmp is not None:
            # Pillow drops XMP when it re-encodes; put the original back so _add_xmp merges into it.
            work.data = insert_xmp(work.data, work.media_type, original_xmp)

    def _existing_xmp(self, work: _Work) -> bytes | None:
        try:
            return extract_xmp(work.data, work.media_type)
        except XmpError as exc:
            work.notes.append(f"existing XMP dropped: {exc}")
            return None

    def _add_xmp(self, work: _Work) -> bool:
        existing = self._existing_xmp(work)
        packet = build_xmp(creator_tool=self.maker.creator_tool, model=self.maker.model_label, existing=existing)
        work.data = insert_xmp(work.data, work.media_type, packet)
        return True

    def _sign(self, work: _Work) -> dict[str, Any]:
        assert self.signer is not None and self.identity is not None
        soft_binding = None
        if work.watermark is not None:
            soft_binding = {"alg": SOFT_BINDING_ALG, "value": work.watermark["value"], "name": SCHEME}
        manifest = build_manifest(
            software_agent=self.maker.software_agent,
            watermark=soft_binding,
            training_mining=self.config.images.training_mining,
            model_facts=self.maker.disclosure,
        )
        try:
            work.data, work.manifest_store = sign_manifest_store(
                work.data, work.media_type, manifest, signer=self.signer, ingredient=work.ingredient
            )
            work.manifest_id = active_manifest_label(work.manifest_store)
        except (C2paSigningError, ValueError) as exc:
            raise SigningError(str(exc)) from exc
        return dict(self.identity.describe())


_markers = PerConfig(ImageMarker)


def mark_image(data: bytes, *, config: TransparencyConfig, media_type: str | None = None) -> MarkedImage:
    """Mark one image with every layer `config.images` asks for. Reuses one ImageMarker per config object."""
    return _markers(config).mark(data, media_type)


__all__ = ["ImageMarker", "ImageMarkingError", "MarkReport", "MarkedImage", "mark_image", "signer_for"]
