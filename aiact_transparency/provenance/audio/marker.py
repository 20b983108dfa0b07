"""mark_audio: the watermark, XMP and the signed C2PA manifest on one encoded clip, in the order that keeps them
all valid: decode -> optional spoken disclaimer (`disclaimer`) -> watermark -> encode in the input's format
(rate, channels, bit rate kept; lossless stays lossless) -> XMP where the container carries it (WAV) -> C2PA
signed last.

The payload word is the images' one (system id + a random item id); the manifest records it as a soft binding
under `SOFT_BINDING_ALG` below. A clip this system already signed (a valid manifest of ours) is returned as it
is; a foreign manifest is kept as a componentOf ingredient.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ...config.modelcard import ModelFacts
from ...disclosure.i18n import AUDIO_DISCLAIMERS, DEFAULT_LANGUAGE, negotiate
from ..c2pa.jumbf import active_manifest_label
from ..c2pa.manifest import C2paSigningError, build_manifest, sign_manifest_store
from ..errors import SigningError
from ..keys import ManifestSigner
from ..maker import Intake, maker_for
from ..payload import AUDIO_SOFT_BINDING_ALG
from ..per_config import PerConfig
from ..xmp import XMP_TYPES, ImageFormatError, XmpError, build_xmp, extract_xmp, insert_xmp
from ._stft import F32
from .codec import AudioFormat, decode_audio, encode_audio
from .disclaimer import disclaimer_text, mix_disclaimer, synthesize
from .errors import AudioTooLongError, CorruptAudioError, UnsupportedAudioError
from .watermark import (
    SCHEME,
    AudioAlreadyWatermarkedError,
    AudioWatermarkCapacityError,
    WatermarkPayload,
    detect_audio_watermark,
    embed_audio_watermark,
    reads_back_at_origin,
)

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["SOFT_BINDING_ALG", "AudioMarkReport", "AudioMarker", "MarkedAudio", "mark_audio"]

# The C2PA soft-binding `alg` for the audio watermark (value: the 10 payload bytes, hex), unregistered and named
# under this project's prefix like payload.SOFT_BINDING_ALG for images: a reader that only knows the C2PA
# soft-binding algorithm list cannot decode it, and `verify` reads the watermark itself.
SOFT_BINDING_ALG = AUDIO_SOFT_BINDING_ALG
# Embeddings tried per clip, each under a fresh item id, while the embedder misses its targets
# (`_watermark_and_encode`): with one in 16 failing on steady music, three leave about one clip in 4,000 unclaimed.
MARK_ATTEMPTS = 3
_INTAKE = Intake("audio", "audio", "supported audio: WAV, FLAC, MP3 and M4A (AAC)", AudioTooLongError,
                 UnsupportedAudioError, empty=CorruptAudioError)


@dataclass(frozen=True)
class AudioMarkReport:
    media_type: str
    already_marked: bool = False
    re_encoded: bool = False
    watermark: dict[str, Any] | None = None  # scheme and payload, when one was embedded
    xmp: bool = False
    c2pa: dict[str, Any] | None = None  # the signer's identity, when signed
    seconds: float | None = None
    disclaimer: str | None = None  # the language of the spoken disclaimer, when one was mixed in
    notes: tuple[str, ...] = ()
    manifest_id: str | None = None  # the signed clip's active C2PA manifest label (the fingerprint log keeps it)
    # The signed manifest store embedded in the output, for the Soft Binding Resolution API (as MarkReport's).
    manifest_store: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        del report["manifest_store"]
        return report


@dataclass(frozen=True)
class MarkedAudio:
    data: bytes
    media_type: str
    report: AudioMarkReport


@dataclass
class _Work:
    data: bytes
    media_type: str
    notes: list[str] = field(default_factory=list)
    watermark: dict[str, Any] | None = None
    re_encoded: bool = False
    seconds: float | None = None
    ingredient: bytes | None = None
    disclaimer: str | None = None  # the language of the spoken disclaimer mixed in
    manifest_store: bytes | None = None


class AudioMarker:
    """Everything constant derived once from the config (signer, identity, model facts); `mark` per clip.

    Thread-safe: `mark` keeps no state on the instance."""

    def __init__(
        self, config: TransparencyConfig, *, signer: ManifestSigner | None = None, facts: ModelFacts | None = None
    ) -> None:
        self.config = config
        self.maker = maker_for(config, signs=config.audio.c2pa, signer=signer, facts=facts)
        self.signer, self.identity = self.maker.signer, self.maker.identity
        # What Accept-Language chooses among (when audio.disclaimer.language is not set): the shipped sentences
        # and the configured ones; with nothing matching, the banner's default language, as for the banner.
        self._languages = tuple(sorted(set(AUDIO_DISCLAIMERS) | set(config.audio.disclaimer.text)))
        banner_default = config.banner.default_language
        self._default_language = banner_default if banner_default in self._languages else DEFAULT_LANGUAGE

    def mark(self, data: bytes, media_type: str | None = None, *, accept_language: str | None = None) -> MarkedAudio:
        """Mark one encoded clip. The bytes decide the format; a declared `media_type` that lies is noted.
        `accept_language`: the request's Accept-Language (the middleware passes it), which picks the spoken
        disclaimer's language unless `audio.disclaimer.language` fixes one."""
        audio = self.config.audio
        admitted = self.maker.admit(data, media_type, _INTAKE, audio.max_bytes)
        actual, prior = admitted.media_type, admitted.prior
        if prior.ours:
            return MarkedAudio(data, actual, AudioMarkReport(actual, already_marked=True, notes=admitted.notes))
        work = _Work(data, actual, list(admitted.notes), ingredient=prior.ingredient)
        # Decoded even without a watermark: garbage, over-long and unsupported layouts are refused all the same.
        decoded = decode_audio(data, actual, max_seconds=audio.max_seconds)
        work.seconds = decoded.seconds
        samples, changed = decoded.samples, False
        if audio.disclaimer.enabled:
            samples, changed = self._disclaimer(samples, decoded.format.rate, work, accept_language), True
        if audio.watermark:
            self._watermark_and_encode(samples, decoded.format, work, changed)
        elif changed:
            work.data, work.re_encoded = encode_audio(samples, decoded.format), True
        xmp = audio.xmp and self._add_xmp(work)
        c2pa = self._sign(work) if self.signer is not None else None
        report = AudioMarkReport(actual, re_encoded=work.re_encoded, watermark=work.watermark, xmp=xmp, c2pa=c2pa,
                                 seconds=work.seconds, disclaimer=work.disclaimer, notes=tuple(work.notes),
                                 manifest_id=active_manifest_label(work.manifest_store) if work.manifest_store
                                 else None, manifest_store=work.manifest_store)
        return MarkedAudio(work.data, actual, report)

    def _watermark_and_encode(self, samples: F32, fmt: AudioFormat, work: _Work, changed: bool) -> None:
        """Watermark, encode, and claim the watermark (`work.watermark`) once it reads back from the encoded bytes.

        A mark the embedder itself did not bring to every lattice target (it does not read back from its own
        float samples either) is embedded again from the same samples under a fresh item id, up to
        `MARK_ATTEMPTS` in all: that depends on the bits as well as the sound, and on steady music one item id in
        16 did not read back even losslessly (a 6 s chord, 25 of 400 ids), a second id then failing just as
        independently. A mark the embedder placed but the lossy encode then lost is not tried again: that
        depends on the sound (white noise through MP3: 0 of 12 ids), and would cost two more encodes for
        nothing. Each try replaces the last (marked from the unmarked samples, never on top), so one word at
        most is in the output. Only a clip that failed pays: its mark, encode and read-back again."""
        for attempt in range(1, MARK_ATTEMPTS + 1):
            marked, changed_now, payload, fresh = self._watermark(samples, fmt.rate, work, changed)
            if changed_now:
                work.data, work.re_encoded = encode_audio(marked, fmt), True
            if payload is None:
                return
            if self._reads_back(work, payload, fmt):
                work.watermark = {"scheme": SCHEME, "system_id": payload.system_id, "item_id": payload.image_id,
                                  "value": payload.to_bytes().hex()}
                if attempt > 1:
                    earlier = "the first" if attempt == 2 else f"the first {attempt - 1}"
                    work.notes.append(f"watermark claimed under the {_ordinal(attempt)} item id tried: {earlier} "
                                      f"did not read back after the {_encode_label(fmt)} (marked anew, not on top)")
                return
            if not fresh:  # this system's own earlier mark, kept as it came: nothing to embed again
                work.notes.append(f"the watermark it already carried does not read back after the "
                                  f"{_encode_label(fmt)}: not claimed (no soft binding)")
                return
            if reads_back_at_origin(marked, fmt.rate, payload):  # placed, then lost in the encode
                break
        tried = f" with any of {attempt} item ids" if attempt > 1 else ""
        work.notes.append(f"watermark embedded but not readable after the {_encode_label(fmt)}{tried}: not "
                          "claimed (no soft binding)")

    def _watermark(self, samples: F32, rate: int, work: _Work, changed: bool
                   ) -> tuple[F32, bool, WatermarkPayload | None, bool]:
        """Embed a fresh payload: the samples, whether they changed, the payload to claim after the read-back (None:
        none) and whether it was embedded now. A clip that already carries this system's watermark (marked
        before, sent back without its manifest) keeps it and its payload instead of getting a second word on
        top; another system's is not marked over."""
        payload = WatermarkPayload(self.maker.system_id, secrets.randbits(24))
        try:
            return embed_audio_watermark(samples, rate, payload), True, payload, True
        except AudioWatermarkCapacityError as exc:
            work.notes.append(f"no watermark: {exc}")
        except AudioAlreadyWatermarkedError as exc:
            if exc.payload.system_id == self.maker.system_id:
                work.notes.append(f"already carries this system's watermark (item id {exc.payload.image_id:06x}): "
                                  "kept, not embedded again")
                return samples, changed, exc.payload, False
            work.notes.append(f"no watermark: {exc}")
        return samples, changed, None, False

    def _disclaimer(self, samples: F32, rate: int, work: _Work, accept_language: str | None) -> F32:
        settings = self.config.audio.disclaimer
        language = settings.language or negotiate(accept_language, self._languages, self._default_language)
        spoken_language, text = disclaimer_text(language, dict(settings.text))
        voice, voice_rate = synthesize(text, spoken_language)
        work.disclaimer = spoken_language
        every = f", repeated every {settings.every_seconds:g} s" if settings.every_seconds else ""
        work.notes.append(f"spoken disclaimer ({spoken_language}) mixed in at the start{every}")
        return mix_disclaimer(samples, rate, voice, voice_rate, settings.every_seconds)

    def _reads_back(self, work: _Work, payload: WatermarkPayload, fmt: AudioFormat) -> bool:
        """Whether the detector reads the payload from the encoded output. It does not for some clips and payloads,
        even lossless and unattacked (short or sparse clips), and more often after the clip's own MP3 or AAC
        encode (README, robustness table): then the watermark is not claimed (no soft binding, no report entry),
        because a detector's answer is evidence and the manifest must not promise what is not there."""
        again = decode_audio(work.data, fmt.media_type, max_seconds=self.config.audio.max_seconds)
        # The one reading at the embedder's grid first (what the detector would decode there); the whole
        # detector only when that does not confirm it, so that nothing the detector finds goes unclaimed.
        if reads_back_at_origin(again.samples, again.format.rate, payload):
            return True
        detection = detect_audio_watermark(again.samples, again.format.rate)
        return detection.found and detection.payload == payload

    def _add_xmp(self, work: _Work) -> bool:
        if work.media_type not in XMP_TYPES:
            work.notes.append(f"no XMP: not written into {work.media_type} (WAV only); the C2PA manifest "
                              "declares the digital source type")
            return False
        try:
            existing = extract_xmp(work.data, work.media_type)
        except XmpError as exc:
            work.notes.append(f"existing XMP dropped: {exc}")
            existing = None
        except ImageFormatError as exc:
            raise CorruptAudioError(f"the {work.media_type} container is malformed: {exc}") from None
        try:
            packet = build_xmp(creator_tool=self.maker.creator_tool, model=self.maker.model_label, existing=existing)
        except XmpError as exc:
            work.notes.append(f"existing XMP dropped: {exc}")
            packet = build_xmp(creator_tool=self.maker.creator_tool, model=self.maker.model_label)
        work.data = insert_xmp(work.data, work.media_type, packet)
        return True

    def _sign(self, work: _Work) -> dict[str, Any]:
        assert self.signer is not None and self.identity is not None
        soft_binding = None
        if work.watermark is not None:
            soft_binding = {"alg": SOFT_BINDING_ALG, "value": work.watermark["value"], "name": SCHEME}
        manifest = build_manifest(software_agent=self.maker.software_agent, watermark=soft_binding,
                                  training_mining=self.config.images.training_mining, model_facts=self.maker.disclosure)
        try:
            work.data, work.manifest_store = sign_manifest_store(work.data, work.media_type, manifest,
                                                                 signer=self.signer, ingredient=work.ingredient)
        except (C2paSigningError, ValueError) as exc:
            raise SigningError(str(exc)) from exc
        return dict(self.identity.describe())


def _ordinal(number: int) -> str:
    return {2: "second", 3: "third"}.get(number, f"{number}th")


def _encode_label(fmt: AudioFormat) -> str:
    rate = f" at {fmt.bit_rate // 1000} kbit/s" if fmt.bit_rate else ""
    return f"{fmt.name.upper()} encode{rate}"


_markers = PerConfig(AudioMarker)


def mark_audio(data: bytes, *, config: TransparencyConfig, media_type: str | None = None,
               accept_language: str | None = None) -> MarkedAudio:
    """Mark one clip with every layer `config.audio` asks for. Reuses one AudioMarker per config object.
    `accept_language` (an Accept-Language value) picks the spoken disclaimer's language when none is configured."""
    return _markers(config).mark(data, media_type, accept_language=accept_language)

