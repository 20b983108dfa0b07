"""The registry of markable media: which types each medium takes, how it is marked and verified.

Every transport asks here: the ASGI media responder and the marking service (which types to buffer and mark),
Gradio (which outputs go to a marker), and :func:`mark`, the one entry point for bytes of any markable type.
A new medium (audio, video: both here) is its formats in formats.py, its provenance package, and one `Medium` below:
no new responder, no new list of types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .document import DocumentMarker
from .errors import MarkingError, TruncatedMediaError, UnsupportedImageError
from .formats import ALIASES, canonical, iso_index_missing, sniff_media_type, types_of
from .image.marker import ImageMarker
from .keys.configured import signer_for
from .per_config import PerConfig
from .verify import VerificationReport, verify, verify_document

if TYPE_CHECKING:
    from ..config import ModelFacts, TransparencyConfig
    from .keys import ManifestSigner, SigningIdentity

logger = logging.getLogger("aiact_transparency")

__all__ = ["MEDIA", "MarkedMedia", "Marker", "MediaMarkers", "Medium", "mark", "markable_types", "medium_for"]


class MarkReportLike(Protocol):
    @property
    def already_marked(self) -> bool: ...  # the input carried this system's valid manifest: returned as is

    def to_dict(self) -> dict[str, Any]: ...


class MarkedMedia(Protocol):
    """What a marker returns (MarkedImage for images): the marked bytes, their type and what was done."""

    @property
    def data(self) -> bytes: ...
    @property
    def media_type(self) -> str: ...
    @property
    def report(self) -> MarkReportLike: ...


class Marker(Protocol):
    """Everything constant built once from the config; `mark` per file, thread-safe (ImageMarker for images)."""

    @property
    def identity(self) -> SigningIdentity | None: ...  # who signs its manifests, or None (no C2PA)

    def mark(self, data: bytes, media_type: str | None = None) -> MarkedMedia: ...


class SpeakingMarker(Protocol):
    """A marker whose output may speak (the audio disclaimer): it takes the request's Accept-Language."""

    def mark(self, data: bytes, media_type: str | None = None, *, accept_language: str | None = None
             ) -> MarkedMedia: ...


MarkerFactory = Callable[["TransparencyConfig", "ModelFacts | None", "ManifestSigner | None"], Marker]


@dataclass(frozen=True)
class Medium:
    name: str  # "image": also the word errors and log lines use ("the image is larger than ...")
    media_types: frozenset[str]  # canonical types, from formats.py
    family: str  # the top-level type it claims ("image/"): outputs of that family go to its marker, which
    # refuses the formats it cannot mark (under the failure policy), rather than passing them unmarked
    marker_factory: MarkerFactory
    verify: Callable[..., VerificationReport]  # (data, *, config=None, ...) -> per-layer report
    enabled: Callable[[TransparencyConfig], bool] = lambda config: True  # its config section's switch
    signs: Callable[[TransparencyConfig], bool] = lambda config: False  # whether its marker signs C2PA
    section: str = "images"  # the config section with its max_bytes and on_error (what responders apply)
    # Whether its marker takes the request's Accept-Language (`mark(..., accept_language=...)`): audio speaks
    # its disclaimer in the visitor's language.
    speaks: bool = False


def _image_marker(config: TransparencyConfig, facts: ModelFacts | None, signer: ManifestSigner | None) -> Marker:
    return ImageMarker(config, facts=facts, signer=signer)


class _MissingExtra:
    """The audio medium without the `audio` extra: start-up still works for images, and every clip is refused
    under the failure policy with the fix named (instead of passing unmarked)."""

    identity = None

    def __init__(self, error: MarkingError) -> None:
        self.error = error

    def mark(self, data: bytes, media_type: str | None = None) -> MarkedMedia:
        raise self.error


def _audio_marker(config: TransparencyConfig, facts: ModelFacts | None, signer: ManifestSigner | None) -> Marker:
    try:  # the audio extra (PyAV, soundfile, scipy) is optional: imported when the medium is built
        from .audio.marker import AudioMarker
    except ImportError:
        from .audio.errors import MissingAudioExtraError

        logger.warning("audio responses on media routes will be refused: install aiact-transparency[audio], "
                       "or set audio.enabled: false")
        return _MissingExtra(MissingAudioExtraError(
            "audio marking needs the audio extra: pip install 'aiact-transparency[audio]'"))
    return AudioMarker(config, facts=facts, signer=signer)


def _video_marker(config: TransparencyConfig, facts: ModelFacts | None, signer: ManifestSigner | None) -> Marker:
    try:  # the video extra (PyAV) is optional: imported when the medium is built
        from .video.marker import VideoMarker
    except ImportError:
        from .video.errors import MissingVideoExtraError

        logger.warning("video responses on media routes will be refused: install aiact-transparency[video], "
                       "or set video.enabled: false")
        return _MissingExtra(MissingVideoExtraError(
            "video marking needs the video extra: pip install 'aiact-transparency[video]'"))
    return VideoMarker(config, facts=facts, signer=signer)


def _images_on(config: TransparencyConfig) -> bool:
    images = config.images
    return images.enabled and (images.watermark or bool(images.visible_label) or images.xmp or images.c2pa)


def _audio_on(config: TransparencyConfig) -> bool:
    audio = config.audio
    return audio.enabled and (audio.watermark or audio.xmp or audio.c2pa)


def _video_on(config: TransparencyConfig) -> bool:
    video = config.video
    return video.enabled and (video.watermark or video.audio_watermark or video.visible_label or video.c2pa)


IMAGE = Medium("image", types_of("image"), "image/", _image_marker, verify, _images_on, lambda c: c.images.c2pa)
AUDIO = Medium("audio", types_of("audio"), "audio/", _audio_marker, verify, _audio_on, lambda c: c.audio.c2pa,
               "audio", speaks=True)
VIDEO = Medium("video", types_of("video"), "video/", _video_marker, verify, _video_on, lambda c: c.video.c2pa,
               "video")


def _document_marker(config: TransparencyConfig, facts: ModelFacts | None, signer: ManifestSigner | None) -> Marker:
    return DocumentMarker(config, facts=facts, signer=signer)


# Containerised text (PDF): a C2PA manifest, no watermark (provenance/document/marker.py says why).
DOCUMENT = Medium("document", types_of("document"), "application/pdf", _document_marker, verify_document,
                  lambda c: c.images.enabled and c.images.c2pa, lambda c: c.images.c2pa)
MEDIA: tuple[Medium, ...] = (IMAGE, AUDIO, VIDEO, DOCUMENT)
_BY_TYPE: Mapping[str, Medium] = {media_type: medium for medium in MEDIA for media_type in medium.media_types}


def medium_for(media_type: str | None) -> Medium | None:
    """The medium that marks `media_type` (parameters and aliases allowed), or None."""
    return _BY_TYPE.get(canonical(media_type)) if media_type else None


def claimed_by(media_type: str) -> Medium | None:
    """The medium whose family `media_type` belongs to, markable or not ('image/gif' -> the image medium)."""
    bare = canonical(media_type)
    return next((medium for medium in MEDIA if bare.startswith(medium.family)), None)


def markable_types() -> frozenset[str]:
    """Every Content-Type value (bare, lower case) a responder may buffer and mark: canonical types and aliases."""
    return frozenset(_BY_TYPE) | frozenset(alias for alias, target in ALIASES.items() if target in _BY_TYPE)


class MediaMarkers:
    """One marker per medium, built now (so a bad key fails at start-up), shared by requests; `mark` dispatches
    on the declared type, else on the sniffed one."""

    def __init__(self, config: TransparencyConfig, *, facts: ModelFacts | None = None,
                 signer: ManifestSigner | None = None) -> None:
        self.config = config
        enabled = [m for m in MEDIA if m.enabled(config)]
        if signer is None and any(m.signs(config) for m in enabled):
            signer = signer_for(config)  # loaded once for every medium: one key, one set of start-up warnings
        self.signer = signer  # the text service signs with it too
        self.markers: dict[str, Marker] = {
            m.name: m.marker_factory(config, facts, signer) for m in enabled
        }
        # Content-Type values (aliases included) the enabled media mark: what a responder buffers.
        self.types = frozenset(
            t for t in markable_types() if (m := medium_for(t)) is not None and m.name in self.markers
        )

    @property
    def identity(self) -> SigningIdentity | None:
        """Who signs the manifests (every medium signs with the same signer)."""
        return next((m.identity for m in self.markers.values() if m.identity is not None), None)

    def mark(self, data: bytes, media_type: str | None = None, *, accept_language: str | None = None) -> MarkedMedia:
        """`accept_language`: the request's Accept-Language, for the media that speak (`Medium.speaks`)."""
        if media_type is None and iso_index_missing(data):  # neither the bytes nor a type say audio or video
            raise TruncatedMediaError("the MP4/MOV file has no index (moov box): truncated or an unfinished "
                                      "upload; send the complete file")
        medium = medium_for(media_type) or medium_for(sniff_media_type(data))
        if medium is None or medium.name not in self.markers:
            found = sniff_media_type(data) or "unrecognised data"
            supported = "PNG, JPEG and WebP" + (", WAV, FLAC, MP3 and M4A" if "audio" in self.markers else "") + (
                ", MP4 and MOV video" if "video" in self.markers else "")
            raise UnsupportedImageError(f"{found} is not markable here; supported: {supported}")
        marker = self.markers[medium.name]
        if medium.speaks and accept_language is not None and not isinstance(marker, _MissingExtra):
            speaker: SpeakingMarker = marker  # type: ignore[assignment]  # `speaks` says it takes the language
            return speaker.mark(data, media_type, accept_language=accept_language)
        return marker.mark(data, media_type)


_markers = PerConfig(MediaMarkers)


def mark(data: bytes, media_type: str | None = None, *, config: TransparencyConfig) -> MarkedMedia:
    """Mark one file of any markable medium with every layer `config` asks for (one set of markers per config)."""
    return _markers(config).mark(data, media_type)
