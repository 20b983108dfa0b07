"""DocumentMarker: a PDF or DOCX gets a signed C2PA manifest (c2pa.created, trainedAlgorithmicMedia), nothing else.

The Code of Practice asks for metadata plus a watermark on containerised text. No watermark is embedded
here: the document's text was generated before it was laid out, so a text watermark belongs to generation
(`watermark_logits`), and nothing is drawn or hidden in the page content. The manifest's hard binding covers
the file's bytes, so any change to the file shows as a broken binding. A DOCX is first rewritten with
stored (uncompressed) entries, the only ZIP c2pa-python signs (ooxml.py says why and what it costs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ...config.modelcard import ModelFacts
from ..c2pa.manifest import C2paSigningError, build_manifest, sign_manifest
from ..errors import ImageTooLargeError, SigningError, UnsupportedImageError
from ..formats import canonical, sniff_media_type, types_of
from ..keys import ManifestSigner
from ..maker import maker_for
from .ooxml import stored_package

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["DocumentMarkReport", "DocumentMarker", "MarkedDocument"]

_DOCUMENT_TYPES = types_of("document")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NO_WATERMARK = ("no watermark is embedded in documents: the C2PA manifest is their only mark (a text watermark "
                "belongs to generation time)")


@dataclass(frozen=True)
class DocumentMarkReport:
    media_type: str
    already_marked: bool = False
    c2pa: dict[str, Any] | None = None  # the signer's identity, when signed
    watermark: bool = False  # never embedded: see the module docstring
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MarkedDocument:
    data: bytes
    media_type: str
    report: DocumentMarkReport


class DocumentMarker:
    """Built once per config (signer, manifest template); `mark` per document, thread-safe."""

    def __init__(self, config: TransparencyConfig, *, facts: ModelFacts | None = None,
                 signer: ManifestSigner | None = None) -> None:
        self.config = config
        self.maker = maker = maker_for(config, signs=config.images.c2pa, signer=signer, facts=facts)
        self.signer, self.identity = maker.signer, maker.identity
        self.manifest = build_manifest(software_agent=maker.software_agent, model_facts=maker.disclosure)

    def mark(self, data: bytes, media_type: str | None = None) -> MarkedDocument:
        limit = self.config.images.max_bytes
        if len(data) > limit:
            raise ImageTooLargeError(f"the document has {len(data)} bytes, above images.max_bytes = {limit}")
        actual = sniff_media_type(data)
        if actual not in _DOCUMENT_TYPES:
            found = actual or "unrecognised data"
            if data.startswith(b"PK\x03\x04"):  # what a ZIP that is no DOCX is sniffed as (formats._sniff_zip)
                found = ("a ZIP archive that is not a DOCX (its central directory names no [Content_Types].xml "
                         "and word/document.xml, or it is truncated)")
            raise UnsupportedImageError(f"{found} is not a markable document; supported: PDF and DOCX")
        notes = [NO_WATERMARK]
        if media_type and canonical(media_type) != actual:
            notes.append(f"declared as {media_type} but the bytes are {actual}")
        if self.signer is None or self.identity is None:
            raise SigningError("images.c2pa is off, and a signed C2PA manifest is the only mark a document gets")
        prior = self.maker.prior(data, actual, prefilter=False)
        if prior.ours:
            return MarkedDocument(data, actual, DocumentMarkReport(actual, already_marked=True, notes=tuple(notes)))
        ingredient = prior.ingredient
        notes.extend(filter(None, [prior.note]))
        package = data
        if actual == DOCX:  # the ingredient stays the document as it arrived
            package = stored_package(data, max_bytes=limit)
            notes.append(f"DOCX entries stored uncompressed for signing (c2pa-python reads no deflate): "
                         f"{len(data)} -> {len(package)} bytes")
        try:
            signed = sign_manifest(package, actual, self.manifest, signer=self.signer, ingredient=ingredient)
        except (C2paSigningError, ValueError) as exc:
            raise SigningError(str(exc)) from exc
        return MarkedDocument(signed, actual, DocumentMarkReport(actual, c2pa=self.identity.describe(),
                                                                 notes=tuple(notes)))
