"""Maker.admit: the checks the image, audio and video markers make first (empty body, size, sniffed type, a
declared type that lies, the manifest the input already carries), each medium with its own errors and words."""

from __future__ import annotations

import re
from importlib import import_module

import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.provenance.image.marker import ImageMarker
from aiact_transparency.provenance.maker import Intake, maker_for
from tests.samples import encode, picture
from tests.tools import require_module


class _Empty(Exception):
    pass


class _TooLarge(Exception):
    pass


class _Unsupported(Exception):
    pass


class _Checked(Exception):
    pass


_PLAIN = Intake("image", "images", "supported: PNG, JPEG and WebP", _TooLarge, _Unsupported)
_PNG = encode(picture((64, 48)), "PNG")


def _config(name: str = "Acme Studio") -> TransparencyConfig:
    return TransparencyConfig(system={"name": name, "provider": "Acme GmbH"})


def test_an_intake_marks_the_registry_s_types_of_its_medium() -> None:
    assert _PLAIN.types == {"image/png", "image/jpeg", "image/webp"}
    assert Intake("video", "video", "", _TooLarge, _Unsupported).types == {"video/mp4", "video/quicktime"}


def test_without_an_empty_error_a_zero_byte_body_is_refused_as_unrecognised() -> None:
    maker = maker_for(_config(), signs=False)
    with pytest.raises(_Unsupported, match=r"^unrecognised data is not markable here; supported: PNG, JPEG and WebP$"):
        maker.admit(b"", None, _PLAIN, 1000)


def test_with_an_empty_error_a_zero_byte_body_gets_its_own_message() -> None:
    intake = Intake("audio", "audio", "supported audio: WAV", _TooLarge, _Unsupported, empty=_Empty)
    with pytest.raises(_Empty, match=r"^the audio body is empty \(zero bytes\): send the encoded file$"):
        maker_for(_config(), signs=False).admit(b"", None, intake, 1000)


def test_the_size_bound_comes_before_sniffing_and_names_its_section() -> None:
    maker = maker_for(_config(), signs=False)
    assert maker.admit(_PNG, None, _PLAIN, len(_PNG)).media_type == "image/png"  # at the bound: taken
    with pytest.raises(_TooLarge, match=rf"^the image has {len(_PNG)} bytes, above images\.max_bytes = 100$"):
        maker.admit(_PNG, None, _PLAIN, 100)
    with pytest.raises(_TooLarge):  # not sniffed at all: garbage over the bound is refused for its size
        maker.admit(b"garbage" * 100, None, _PLAIN, 100)


def test_the_medium_s_check_sees_the_sniffed_type_before_the_type_check() -> None:
    seen: list[str | None] = []

    def check(data: bytes, actual: str | None) -> None:
        seen.append(actual)
        if actual is None:
            raise _Checked("refused by the medium")

    intake = Intake("image", "images", "supported: PNG", _TooLarge, _Unsupported, check=check)
    maker = maker_for(_config(), signs=False)
    with pytest.raises(_Checked, match="refused by the medium"):  # its error, not the unsupported one
        maker.admit(b"garbage", None, intake, 1000)
    assert maker.admit(_PNG, None, intake, 10**6).media_type == "image/png"
    assert seen == [None, "image/png"]


def test_a_declared_type_the_bytes_contradict_is_noted_an_alias_is_not() -> None:
    maker = maker_for(_config(), signs=False)
    admitted = maker.admit(_PNG, "image/jpeg", _PLAIN, 10**6)
    assert admitted.media_type == "image/png"
    assert admitted.notes == ("declared as image/jpeg but the bytes are image/png",)
    assert maker.admit(_PNG, "Image/X-PNG; q=1", _PLAIN, 10**6).notes == ()
    assert maker.admit(_PNG, None, _PLAIN, 10**6).notes == ()
    assert not maker.admit(_PNG, None, _PLAIN, 10**6).prior.ours  # an unsigning maker reads no manifest


def test_a_foreign_manifest_is_noted_after_the_declared_type_and_our_own_is_recognised() -> None:
    signed = ImageMarker(_config("Other Studio")).mark(_PNG).data  # the same development chain, another system
    ours = maker_for(_config("Other Studio"), signs=True)
    theirs = maker_for(_config(), signs=True)
    admitted = theirs.admit(signed, "image/jpeg", _PLAIN, 10**6)
    assert not admitted.prior.ours and admitted.prior.ingredient == signed
    assert admitted.notes[0] == "declared as image/jpeg but the bytes are image/png"
    assert re.fullmatch(r"existing C2PA manifest \(.+\) kept as an ingredient", admitted.notes[1])
    assert len(admitted.notes) == 2
    again = ours.admit(signed, None, _PLAIN, 10**6)
    assert again.prior.ours and again.notes == ()


# The three markers' own errors and words, exactly as they were before admit served them all: (medium, body,
# error, message), with max_bytes = 1024.
_NOT_AUDIO = "image/png is not markable here; supported audio: WAV, FLAC, MP3 and M4A (AAC)"
_NOT_VIDEO = "image/png is not markable here; supported video: MP4 and MOV (QuickTime)"
_INDEXLESS = "the MP4/MOV file has no index (moov box): truncated or an unfinished upload; send the complete file"
_REFUSALS = [
    ("image", b"", "UnsupportedImageError", "unrecognised data is not markable here; supported: PNG, JPEG and WebP"),
    ("image", b"x" * 1025, "ImageTooLargeError", "the image has 1025 bytes, above images.max_bytes = 1024"),
    ("audio", b"", "CorruptAudioError", "the audio body is empty (zero bytes): send the encoded file"),
    ("audio", b"x" * 1025, "AudioTooLongError", "the audio has 1025 bytes, above audio.max_bytes = 1024"),
    ("audio", _PNG[:1000], "UnsupportedAudioError", _NOT_AUDIO),
    ("video", b"", "CorruptVideoError", "the video body is empty (zero bytes): send the encoded file"),
    ("video", b"x" * 1025, "VideoTooLargeError", "the video has 1025 bytes, above video.max_bytes = 1024"),
    ("video", b"\x00\x00\x00\x18ftypisom" + bytes(100), "CorruptVideoError", _INDEXLESS),  # sniffed as audio/mp4
    ("video", b"\x00\x00\x00\x18ftypzzzz" + bytes(100), "CorruptVideoError", _INDEXLESS),  # sniffed as nothing
    ("video", _PNG[:1000], "UnsupportedVideoError", _NOT_VIDEO),
]
# medium -> (its extra's module, its marker class, its config section, its errors module)
_MARKERS = {
    "image": ("PIL", "ImageMarker", "images", "aiact_transparency.provenance.errors"),
    "audio": ("soundfile", "AudioMarker", "audio", "aiact_transparency.provenance.audio.errors"),
    "video": ("av", "VideoMarker", "video", "aiact_transparency.provenance.video.errors"),
}


@pytest.mark.parametrize(("medium", "body", "error", "message"), _REFUSALS)
def test_each_marker_refuses_with_its_own_error_and_words(medium: str, body: bytes, error: str, message: str) -> None:
    extra, marker_class, section, errors = _MARKERS[medium]
    require_module(extra)
    marker = getattr(import_module(f"aiact_transparency.provenance.{medium}.marker"), marker_class)(
        TransparencyConfig(system={"name": "Acme Studio"}, **{section: {"max_bytes": 1024}})
    )
    with pytest.raises(Exception) as refused:
        marker.mark(body)
    assert type(refused.value) is getattr(import_module(errors), error)
    assert str(refused.value) == message
