"""The verdict after what strips marks, for another system's marks and for unmarked content (real pipeline)."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection import Detector, FingerprintMatch, UnsupportedContent, combine
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.formats import FORMATS
from aiact_transparency.provenance.image.marker import ImageMarker
from aiact_transparency.provenance.text.marking import mark_text
from aiact_transparency.provenance.xmp import TRAINED_ALGORITHMIC_MEDIA_URI, add_ai_xmp
from tests.detection.conftest import encode, photo_like


@pytest.fixture
def detector(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner) -> Detector:
    return Detector(ours, signer=ours_signer)


def test_our_marked_image_is_ours_on_every_layer(detector: Detector, marked_jpeg: bytes) -> None:
    result = detector.detect_bytes(marked_jpeg, "image/jpeg")
    assert result.verdict == "generated-by-this-system"
    assert result.based_on == ["metadata", "watermark"]
    c2pa, mark = result.layers["c2pa"], result.layers["watermark"]
    assert c2pa["this_system"] and c2pa["system"] == "Acme Studio" and c2pa["manifest_id"].startswith("urn:c2pa:")
    assert c2pa["signer"]["development_chain"] and not c2pa["signer"]["trusted"]
    assert "UNTRUSTED" in c2pa["signer"]["trust"]
    assert c2pa["marked_at"] is None and "not attested" in c2pa["marked_at_based_on"]
    assert mark["this_system"] and 0 < mark["false_positive_bound"] <= 1e-6
    assert result.layers["xmp"]["ai_mark"] and not result.layers["xmp"]["this_system"]
    assert not result.layers["fingerprint"]["found"] and not result.layers["fingerprint"]["checked"]
    assert "fingerprint log off" in result.layers["fingerprint"]["based_on"]
    assert result.content_sha256 == hashlib.sha256(marked_jpeg).hexdigest()


def test_metadata_removed_and_jpeg_q70_still_ours_by_the_watermark(detector: Detector, marked_jpeg: bytes) -> None:
    pixels = Image.open(io.BytesIO(marked_jpeg))
    stripped = encode(pixels.convert("RGB"), quality=70)  # Pillow writes no XMP and no C2PA here
    result = detector.detect_bytes(stripped)
    assert not result.layers["c2pa"]["found"] and not result.layers["xmp"]["found"]
    assert result.verdict == "generated-by-this-system"
    assert result.based_on == ["watermark"]
    assert "is this system's" in result.layers["watermark"]["based_on"]


def test_another_systems_signed_image_is_marked_by_another_system(detector: Detector, other_marked_png: bytes) -> None:
    result = detector.detect_bytes(other_marked_png)
    assert result.verdict == "marked-by-another-system"
    assert result.based_on == ["metadata", "watermark"]
    c2pa = result.layers["c2pa"]
    assert c2pa["ai_mark"] and not c2pa["this_system"] and c2pa["system"] == "Other Images Inc"
    assert not c2pa["signer"]["this_systems_signer"]
    assert "not this system's" in result.layers["watermark"]["based_on"]


def test_a_manifest_naming_us_signed_by_someone_else_is_not_ours(other_signer: keys.LocalKeySigner,
                                                                  detector: Detector) -> None:
    # Another signer claims our system name, without our watermark: a claim, not proof.
    impostor = TransparencyConfig(system={"name": "Acme Studio"}, images={"watermark": False})
    data = ImageMarker(impostor, signer=other_signer).mark(encode(photo_like(seed=9), "PNG")).data
    result = detector.detect_bytes(data)
    assert result.verdict == "marked-by-another-system"
    assert "not signed by this system's signer" in result.layers["c2pa"]["based_on"]


def test_xmp_alone_never_attributes(detector: Detector) -> None:
    data = add_ai_xmp(encode(photo_like(seed=3), "PNG"), creator_tool="Acme Studio", model=None,
                      digital_source_type=TRAINED_ALGORITHMIC_MEDIA_URI)
    result = detector.detect_bytes(data)
    assert result.verdict == "marked-by-another-system" and result.based_on == ["metadata"]
    assert "unsigned XMP" in result.explanation


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_unmarked_images_are_not_detected(detector: Detector, seed: int, fmt: str) -> None:
    result = detector.detect_bytes(encode(photo_like(seed=seed), fmt))
    assert result.verdict == "not-detected"
    assert result.based_on == ["metadata", "watermark"]
    assert "does not show that a person made" in result.explanation
    assert not any(layer.get("ai_mark") for layer in result.layers.values())


def test_declared_type_that_lies_is_noted_and_the_bytes_decide(detector: Detector, marked_jpeg: bytes) -> None:
    result = detector.detect_bytes(marked_jpeg, "image/png")
    assert result.media_type == "image/jpeg" and result.verdict == "generated-by-this-system"
    assert any("declared as image/png" in note for note in result.notes)


def test_an_unread_type_is_refused_naming_every_supported_type(detector: Detector) -> None:
    gif = encode(photo_like(64, 64), "GIF")  # recognised, but no medium marks it
    supported = ", ".join(fmt.media_type for fmt in FORMATS) + " and text/plain"
    with pytest.raises(UnsupportedContent, match=f"^image/gif data cannot be checked; .*{re.escape(supported)}"):
        detector.detect_bytes(gif)
    with pytest.raises(UnsupportedContent):
        detector.detect_bytes(b"\xff\xfe\x00binary\x80\x81")


def test_our_signed_text_is_ours_and_plain_text_is_not(ours: TransparencyConfig, monkeypatch: pytest.MonkeyPatch,
                                                       ours_signer: keys.LocalKeySigner) -> None:
    monkeypatch.setattr("aiact_transparency.provenance.maker.signer_for", lambda _config: ours_signer)
    marked = mark_text("A paragraph written by the model, long enough to carry a manifest.", config=ours).text
    detector = Detector(ours, signer=ours_signer)
    result = detector.detect_text(marked)
    assert result.media_type == "text/plain" and result.verdict == "generated-by-this-system"
    assert result.based_on == ["metadata"]
    assert result.layers["watermark"]["checked"] is False and "not configured" in result.layers["watermark"]["based_on"]
    plain = detector.detect_text("A paragraph a person wrote.")
    assert plain.verdict == "not-detected" and plain.based_on == ["metadata"]


class ExactIndex:
    """A real, if minimal, FingerprintIndex: exact SHA-256 lookup of stored outputs (distance 0 only)."""

    def __init__(self, outputs: dict[bytes, dict[str, Any]]) -> None:
        self.by_hash = {hashlib.sha256(data).digest(): record for data, record in outputs.items()}

    def match(self, data: bytes, media_type: str) -> FingerprintMatch | None:
        record = self.by_hash.get(hashlib.sha256(data).digest())
        if record is None:
            return None
        return FingerprintMatch(distance=0, threshold=0, false_match_rate=0.0, algorithm="sha256", record=record)


def test_a_fingerprint_match_is_ours_with_its_distance_and_rate(ours: TransparencyConfig,
                                                                ours_signer: keys.LocalKeySigner) -> None:
    stored = encode(photo_like(seed=11), "PNG")  # an unmarked output the log recorded
    detector = Detector(ours, signer=ours_signer, fingerprints=ExactIndex({stored: {"route": "/generate"}}))
    result = detector.detect_bytes(stored)
    assert result.verdict == "generated-by-this-system" and result.based_on == ["fingerprint"]
    layer = result.layers["fingerprint"]
    assert layer["distance"] == 0 and layer["false_match_rate"] == 0.0 and layer["record"] == {"route": "/generate"}
    assert detector.detect_bytes(encode(photo_like(seed=12), "PNG")).verdict == "not-detected"


def test_combine_prefers_our_attribution_over_another_systems_mark() -> None:
    layers = {"c2pa": {"checked": True, "ai_mark": True}, "watermark": {"checked": True, "ai_mark": True,
                                                                        "this_system": True}}
    verdict = combine(layers)
    assert verdict.verdict == "generated-by-this-system" and verdict.based_on == ["watermark"]
