"""This project's soft-binding algorithm ids, as the C2PA soft-binding algorithm list describes an entry.

Entry fields (c2pa-org/softbinding-algorithm-list, softbinding-algorithm-entry-schema.json): identifier
(assigned by the C2PA on registration), alg, type ("watermark" | "fingerprint"), decodedMediaTypes or
encodedMediaTypes (exactly one of the two), entryMetadata {description, dateEntered, contact,
informationalUrl, categories?}, softBindingResolutionApis?, deprecated?. Neither id is registered yet:
`ENTRIES` carry no `identifier` (the list assigns it) and say so in `registered`; docs/soft-binding.md is the
text ready to submit.

The audio watermark's id (AUDIO_WATERMARK_ALG) and the video frame watermark's (VIDEO_WATERMARK_ALG) are resolved
the same way, each for the outputs of its own medium.

Values on the wire: the C2PA Soft Binding Resolution API carries `value` as "a base64-encoded string
describing, in algorithm specific format, the value of the soft binding" (its OpenAPI document,
/matches/byBinding). Ours, decoded:
- WATERMARK_ALG: the 10 payload bytes as embedded (provenance/payload.py, `WatermarkPayload.to_bytes()`).
  The manifest's c2pa.soft-binding block carries the same bytes as 20 lowercase hex digits, so the base64 of
  those 20 ASCII digits is accepted as well.
- FINGERPRINT_ALG: the 32 bytes of the PDQ hash (Meta ThreatExchange PDQ, the bytes of its 64-digit hex form),
  matched at Hamming distance <= fingerprints.max_distance (PDQ's reference threshold 31).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ...fingerprints.pdq import HASH_BYTES
from ...provenance.payload import AUDIO_SOFT_BINDING_ALG, SOFT_BINDING_ALG, PayloadChecksumError, WatermarkPayload

# The id is defined once, by the video marker that writes it; importing the marker loads no PyAV (that is imported
# on first use), so the API names it without the video extra.
from ...provenance.video.marker import SOFT_BINDING_ALG as VIDEO_SOFT_BINDING_ALG

__all__ = ["AUDIO_WATERMARK_ALG", "ENTRIES", "FINGERPRINT_ALG", "VIDEO_WATERMARK_ALG", "WATERMARK_ALG",
           "WATERMARK_MEDIA", "BindingError", "check_alg", "decode_value", "encode_value", "supported_algorithms"]

WATERMARK_ALG = SOFT_BINDING_ALG  # "org.aiact-transparency.dwt-svd.1": the id our image manifests name
AUDIO_WATERMARK_ALG = AUDIO_SOFT_BINDING_ALG  # the id our audio manifests name; same 10-byte payload word
VIDEO_WATERMARK_ALG = VIDEO_SOFT_BINDING_ALG  # the id our video manifests name (frames); same 10-byte payload word
# Each watermark id resolves the outputs of its own medium only.
WATERMARK_MEDIA = {WATERMARK_ALG: "image/", AUDIO_WATERMARK_ALG: "audio/", VIDEO_WATERMARK_ALG: "video/"}
FINGERPRINT_ALG = "org.aiact-transparency.pdq.1"
# The list asks for a URL that resolves: the project has no published home yet, so this names the document to
# publish first (docs/soft-binding.md); the registration pull request puts its URL here.
_INFO = "docs/soft-binding.md (to be replaced by its published URL before registration)"
_HEX_WORD = re.compile(rb"[0-9a-f]{20}")
_WORD_BYTES = 10

ENTRIES: tuple[dict[str, Any], ...] = (
    {
        "alg": WATERMARK_ALG,
        "type": "watermark",
        "decodedMediaTypes": ["image"],
        "entryMetadata": {
            "description": "aiact-transparency invisible watermark: an 81-bit word (24-bit system id, 24-bit item "
                           "id, CRC-32, parity, XOR a public mask) embedded by DWT-SVD quantisation in the luma of "
                           "images; blind extraction; the soft-binding value is the 10 payload bytes",
            "dateEntered": "2026-12-01T00:00:00.000Z",
            "contact": "maintainers of aiact-transparency (to be named in the registration pull request)",
            "informationalUrl": _INFO,
        },
        "registered": False,
    },
    {
        "alg": AUDIO_WATERMARK_ALG,
        "type": "watermark",
        "decodedMediaTypes": ["audio"],
        "entryMetadata": {
            "description": "aiact-transparency audio watermark: the same 81-bit word as the image watermark, "
                           "rate-1/2 convolutionally coded and embedded by dither modulation of energy ratios of "
                           "spectral tiles (125-7031 Hz at 16 kHz) in 32 ms blocks, repeated over the clip; "
                           "blind extraction; the soft-binding value is the 10 payload bytes",
            "dateEntered": "2026-12-01T00:00:00.000Z",
            "contact": "maintainers of aiact-transparency (to be named in the registration pull request)",
            "informationalUrl": _INFO,
        },
        "registered": False,
    },
    {
        "alg": VIDEO_WATERMARK_ALG,
        "type": "watermark",
        "decodedMediaTypes": ["video"],
        "entryMetadata": {
            "description": "aiact-transparency video watermark: the same 81-bit word as the image watermark, embedded "
                           "in every frame by quantisation index modulation of windowed mean luma of a grid of cells "
                           "(14 along the shorter side, defined in fractions of the frame, so resizing keeps them); "
                           "the word rate-1/2 convolutionally coded and interleaved over the cells, read by phase "
                           "voting over the frames and soft Viterbi decoding; blind extraction; the soft-binding "
                           "value is the 10 payload bytes",
            "dateEntered": "2026-12-01T00:00:00.000Z",
            "contact": "maintainers of aiact-transparency (to be named in the registration pull request)",
            "informationalUrl": _INFO,
        },
        "registered": False,
    },
    {
        "alg": FINGERPRINT_ALG,
        "type": "fingerprint",
        "decodedMediaTypes": ["image"],
        "entryMetadata": {
            "description": "PDQ perceptual hash (Meta ThreatExchange) of the image as served: 256 bits, matched at "
                           "Hamming distance <= 31, hashes of quality <= 49 not indexed; resolution also tries "
                           "the 8 rotations and flips of an uploaded image; the soft-binding value is the 32 hash "
                           "bytes",
            "dateEntered": "2026-12-01T00:00:00.000Z",
            "contact": "maintainers of aiact-transparency (to be named in the registration pull request)",
            "informationalUrl": _INFO,
        },
        "registered": False,
    },
)


class BindingError(ValueError):
    """A query's alg or value is not one this service resolves; the message says which and why."""


def supported_algorithms() -> dict[str, list[dict[str, str]]]:
    """The /services/supportedAlgorithms answer (schema c2pa.softBindingAlgList)."""
    return {"watermarks": [{"alg": WATERMARK_ALG}, {"alg": AUDIO_WATERMARK_ALG}, {"alg": VIDEO_WATERMARK_ALG}],
            "fingerprints": [{"alg": FINGERPRINT_ALG}]}


def encode_value(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_alg(alg: str) -> None:
    if alg not in WATERMARK_MEDIA and alg != FINGERPRINT_ALG:
        raise BindingError(f"alg {alg[:100]!r} is not resolved here; supported: {WATERMARK_ALG} (image watermark), "
                           f"{AUDIO_WATERMARK_ALG} (audio watermark), {VIDEO_WATERMARK_ALG} (video watermark), "
                           f"{FINGERPRINT_ALG} (image fingerprint); see "
                           "/services/supportedAlgorithms")


def decode_value(alg: str, value: str) -> bytes:
    """The algorithm-specific bytes of a base64 `value`; raises BindingError naming the problem."""
    check_alg(alg)
    text = value.strip().replace(" ", "+")  # a '+' left unescaped in a query string arrives as a space
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, altchars=b"-_" if ("-" in text or "_" in text) else None, validate=True)
    except (binascii.Error, ValueError):
        raise BindingError("value is not base64 (RFC 4648)") from None
    if alg == FINGERPRINT_ALG:
        if len(raw) != HASH_BYTES:
            raise BindingError(f"a {FINGERPRINT_ALG} value is the {HASH_BYTES} bytes of a PDQ hash, got {len(raw)}")
        return raw
    if len(raw) == 2 * _WORD_BYTES and _HEX_WORD.fullmatch(raw):
        raw = bytes.fromhex(raw.decode("ascii"))  # the hex form the manifest's soft-binding block carries
    if len(raw) != _WORD_BYTES:
        raise BindingError(f"a {alg} value is the {_WORD_BYTES} payload bytes, got {len(raw)}")
    try:
        WatermarkPayload.from_bytes(raw)
    except PayloadChecksumError:
        raise BindingError(f"value fails the {alg} checksum: not a payload this watermark writes") from None
    return raw
