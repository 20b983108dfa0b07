"""mark_video: the frame watermark, the soundtrack's watermark, the EU "AI" icon and the signed C2PA manifest on
one MP4 or MOV file, in the order that keeps them all valid: decode frame by frame -> optional icon (`label`) ->
frame watermark (`watermark`) -> encode in the input's codec family, size, frame rate and pixel format, the
soundtrack watermarked with the audio watermark and re-encoded (`codec`) -> read the marks back -> C2PA signed
last.

The payload word is the images' one (system id + a random item id); the manifest records the frame watermark as
a soft binding under `SOFT_BINDING_ALG`. A watermark the detector cannot read back from the encoded output is
not claimed (no soft binding, no report entry). A video this system already signed is returned as it is; a
foreign manifest is kept as a componentOf ingredient.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ...config.modelcard import ModelFacts
from ..c2pa.jumbf import active_manifest_label
from ..c2pa.manifest import C2paSigningError, build_manifest, sign_manifest_store
from ..errors import SigningError
from ..formats import iso_index_missing
from ..keys import ManifestSigner
from ..maker import Intake, maker_for
from ..payload import WatermarkPayload
from ..per_config import PerConfig
from .codec import PIXEL_FORMATS, AudioTrack, Transcoded, VideoLimits, luma_plane, transcode
from .errors import CorruptVideoError, UnsupportedVideoError, VideoTooLargeError
from .label import FrameLabel, label_for_mode, shown_at
from .reading import read_frames, read_soundtrack
from .watermark import MIN_SHORT_SIDE, SCHEME, embed_frame_watermark

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["SOFT_BINDING_ALG", "MarkedVideo", "VideoMarkReport", "VideoMarker", "mark_video"]

# The C2PA soft-binding `alg` for the frame watermark (value: the 10 payload bytes, hex), unregistered and named
# under this project's prefix like the images' and the audio's.
SOFT_BINDING_ALG = "org.aiact-transparency.video-cellqim.2"
_READ_BACK_SECONDS = 2.0


def _refuse_indexless(data: bytes, actual: str | None) -> None:
    if actual in (None, "audio/mp4") and iso_index_missing(data):  # an index-less MP4 cannot say what it holds
        raise CorruptVideoError("the MP4/MOV file has no index (moov box): truncated or an unfinished upload; "
                                "send the complete file")


_INTAKE = Intake("video", "video", "supported video: MP4 and MOV (QuickTime)", VideoTooLargeError,
                 UnsupportedVideoError, empty=CorruptVideoError, check=_refuse_indexless)


@dataclass(frozen=True)
class VideoMarkReport:
    media_type: str
    already_marked: bool = False
    re_encoded: bool = False
    watermark: dict[str, Any] | None = None  # frames: scheme and payload, when embedded and read back
    audio_watermark: dict[str, Any] | None = None  # the soundtrack's, when embedded and read back
    visible_label: str | None = None  # the icon's letters, when drawn
    c2pa: dict[str, Any] | None = None
    seconds: float | None = None
    frames: int = 0
    size: tuple[int, int] | None = None
    codec: str | None = None
    pixel_format: str | None = None
    bit_rate_ratio: float | None = None  # output video bit rate / input's
    timings: dict[str, float] = field(default_factory=dict)  # seconds: decode, watermark, label, encode, audio, sign
    notes: tuple[str, ...] = ()
    manifest_id: str | None = None  # the signed video's active C2PA manifest label (the fingerprint log keeps it)
    # The signed manifest store (JUMBF) embedded in the output: the fingerprint log keeps it for the C2PA Soft
    # Binding Resolution API (issue 18), as for images and audio. Bytes, so not part of the JSON report.
    manifest_store: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self)
        del report["manifest_store"]
        return report


@dataclass(frozen=True)
class MarkedVideo:
    data: bytes
    media_type: str
    report: VideoMarkReport


@dataclass
class _Work:
    media_type: str
    payload: WatermarkPayload
    notes: list[str] = field(default_factory=list)
    audio_payload: WatermarkPayload | None = None
    label: FrameLabel | None = None
    no_label: bool = False
    timings: dict[str, float] = field(default_factory=lambda: {"watermark": 0.0, "label": 0.0})


class VideoMarker:
    """Everything constant derived once from the config (signer, identity, model facts); `mark` per video.

    Thread-safe: `mark` keeps no state on the instance."""

    def __init__(
        self, config: TransparencyConfig, *, signer: ManifestSigner | None = None, facts: ModelFacts | None = None
    ) -> None:
        self.config = config
        self.maker = maker_for(config, signs=config.video.c2pa, signer=signer, facts=facts)
        self.signer, self.identity = self.maker.signer, self.maker.identity
        video = config.video
        self.limits = VideoLimits(max_seconds=video.max_seconds, max_pixels=video.max_pixels)
        self.label_text = label_for_mode(config.disclosure.mode) if video.visible_label else None

    def mark(self, data: bytes, media_type: str | None = None) -> MarkedVideo:
        """Mark one MP4 or MOV file. The bytes decide the format; a declared `media_type` that lies is noted."""
        video = self.config.video
        admitted = self.maker.admit(data, media_type, _INTAKE, video.max_bytes)
        actual, prior = admitted.media_type, admitted.prior
        if prior.ours:
            return MarkedVideo(data, actual, VideoMarkReport(actual, already_marked=True, notes=admitted.notes))
        work = _Work(actual, WatermarkPayload(self.maker.system_id, secrets.randbits(24)), list(admitted.notes))
        out = transcode(data, actual, self.limits, on_frame=lambda frame, index: self._frame(work, frame),
                        on_audio=(lambda track: self._audio(work, track)) if video.audio_watermark else None)
        self._describe(out, work)
        watermark, audio_watermark = self._read_back(out, work)
        timings = {**out.timings, **work.timings}
        timings["frames"] = max(0.0, timings.pop("frames") - work.timings["watermark"] - work.timings["label"])
        data_out = out.data
        c2pa = manifest_store = None
        if self.signer is not None:
            tick = time.perf_counter()
            data_out, manifest_store = self._sign(data_out, actual, watermark, prior.ingredient)
            c2pa = dict(self.identity.describe()) if self.identity is not None else None
            timings["sign"] = time.perf_counter() - tick
        ratio = out.bit_rate / out.facts.bit_rate if out.facts.bit_rate else None
        report = VideoMarkReport(
            actual, re_encoded=True, watermark=watermark, audio_watermark=audio_watermark,
            visible_label=work.label.text if work.label is not None else None, c2pa=c2pa, seconds=out.seconds,
            frames=out.frames, size=(out.facts.width, out.facts.height), codec=out.facts.codec,
            pixel_format=out.facts.pixel_format, bit_rate_ratio=None if ratio is None else round(ratio, 3),
            timings={k: round(v, 4) for k, v in timings.items()}, notes=tuple(work.notes),
            manifest_id=active_manifest_label(manifest_store) if manifest_store else None,
            manifest_store=manifest_store)
        return MarkedVideo(data_out, actual, report)

    def _frame(self, work: _Work, frame: Any) -> None:
        video = self.config.video
        seconds = float(frame.time or 0.0)
        if (self.label_text is not None and not work.no_label
                and shown_at(seconds, video.label_seconds, video.label_every_seconds)):
            tick = time.perf_counter()
            if work.label is None:
                try:
                    work.label = FrameLabel(frame.width, frame.height, frame.format.name, self.label_text)
                except ValueError as exc:  # a frame too small for legible letters: said, not drawn illegibly
                    work.notes.append(f"no visible label: {exc}")
                    work.no_label = True
                    return self._watermark(work, frame)
            work.label.apply(frame)
            work.timings["label"] += time.perf_counter() - tick
        self._watermark(work, frame)

    def _watermark(self, work: _Work, frame: Any) -> None:
        video = self.config.video
        if video.watermark and min(frame.width, frame.height) >= MIN_SHORT_SIDE:
            tick = time.perf_counter()
            luma = luma_plane(frame)
            luma[...] = embed_frame_watermark(luma, work.payload, depth=PIXEL_FORMATS[frame.format.name])
            work.timings["watermark"] += time.perf_counter() - tick

    def _audio(self, work: _Work, track: AudioTrack) -> AudioTrack:
        try:
            from ..audio.watermark import (
                AudioAlreadyWatermarkedError,
                AudioWatermarkCapacityError,
                embed_audio_watermark,
            )
        except ImportError:
            work.notes.append("no soundtrack watermark: install aiact-transparency[audio] (scipy)")
            return track
        tick = time.perf_counter()
        try:
            samples = embed_audio_watermark(track.samples, track.rate, work.payload)
        except (AudioWatermarkCapacityError, AudioAlreadyWatermarkedError) as exc:
            work.notes.append(f"no soundtrack watermark: {exc}")
            return track
        finally:
            work.timings["audio_watermark"] = time.perf_counter() - tick
        work.audio_payload = work.payload
        return AudioTrack(samples, track.rate, track.layout)

    def _describe(self, out: Transcoded, work: _Work) -> None:
        facts = out.facts
        if not out.audio:
            work.notes.append("no soundtrack: only the frames are watermarked")
        if out.variable_rate:
            work.notes.append("variable frame rate: every frame's timestamp kept")
        if out.rotation:
            work.notes.append(f"rotation metadata ({out.rotation} degrees) kept; the marks are in the coded frames")
        if facts.depth > 8:
            work.notes.append(f"{facts.depth}-bit samples ({facts.pixel_format}) kept")
        if self.config.video.watermark and min(facts.width, facts.height) < MIN_SHORT_SIDE:
            work.notes.append(f"no frame watermark: {facts.width}x{facts.height} frames are under {MIN_SHORT_SIDE} "
                              "pixels on their shorter side")

    def _read_back(self, out: Transcoded, work: _Work) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The detector's reading of the encoded output: a mark it cannot read is not claimed."""
        tick = time.perf_counter()
        payload = work.payload
        claim = {"system_id": payload.system_id, "item_id": payload.image_id, "value": payload.to_bytes().hex()}
        watermark = audio = None
        video = self.config.video
        if video.watermark and min(out.facts.width, out.facts.height) >= MIN_SHORT_SIDE:
            # 2 s suffice here: a word read from fewer frames is read from the detector's 4 s as well
            found = read_frames(out.data, seconds=min(_READ_BACK_SECONDS, video.detect_seconds), limits=self.limits)
            if found.found and found.payload == payload:
                watermark = {"scheme": SCHEME, **claim}
            else:
                work.notes.append("frame watermark embedded but not readable after the encode: not claimed")
        if work.audio_payload is not None:
            reading = read_soundtrack(out.data, seconds=max(video.detect_seconds, 3.0))  # as the detector reads
            if reading and reading.get("found") and reading["payload"] == {"system_id": payload.system_id,
                                                                          "item_id": payload.image_id}:
                audio = {"scheme": reading["scheme"], **claim}
            else:
                work.notes.append("soundtrack watermark embedded but not readable after the encode: not claimed")
        work.timings["read_back"] = time.perf_counter() - tick
        return watermark, audio

    def _sign(self, data: bytes, media_type: str, watermark: dict[str, Any] | None, ingredient: bytes | None
              ) -> tuple[bytes, bytes]:
        """The signed video and its manifest store."""
        assert self.signer is not None
        soft_binding = None
        if watermark is not None:
            soft_binding = {"alg": SOFT_BINDING_ALG, "value": watermark["value"], "name": SCHEME}
        manifest = build_manifest(software_agent=self.maker.software_agent, watermark=soft_binding,
                                  training_mining=self.config.images.training_mining, model_facts=self.maker.disclosure)
        try:
            return sign_manifest_store(data, media_type, manifest, signer=self.signer, ingredient=ingredient)
        except (C2paSigningError, ValueError) as exc:
            raise SigningError(str(exc)) from exc


_markers = PerConfig(VideoMarker)


def mark_video(data: bytes, *, config: TransparencyConfig, media_type: str | None = None) -> MarkedVideo:
    """Mark one MP4 or MOV video with every layer `config.video` asks for. Reuses one VideoMarker per config."""
    return _markers(config).mark(data, media_type)
