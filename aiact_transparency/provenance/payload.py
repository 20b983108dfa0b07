"""The 81-bit word the image watermark carries: who made the image, which image, and checks.

Layout (big-endian, most significant bit first, as `numpy.unpackbits` and `numpy.packbits` order them)::

    bytes 0-2  system id (24 bits, `system_id_for(name)`)
    bytes 3-5  image id  (24 bits, chosen by the caller, e.g. a counter or a hash of the output)
    bytes 6-9  CRC-32 of bytes 0-5, big-endian (the zlib / PNG / Ethernet CRC, `zlib.crc32`)
    bit 80     even parity of the 80 bits before it (after masking)

The 10 bytes are XORed with `SCRAMBLE_MASK` before embedding. The mask is public (first 10 bytes of
SHA-256 of `MASK_LABEL`); it is not a secret, it only decorrelates the word from image structure: a flat
or striped image decodes to a constant or periodic word, and the mask makes such words no likelier to pass
than any other (the tests check every constant and periodic word). Any word that does not come from our embedder passes
the checksum with probability 2**-32 (about 2.3e-10), whatever the image, as long as the image content does
not depend on the mask. 32 check bits rather than 16 or 24 leave room for the detector to try several sizes
and brightness offsets (each reading is one more chance) while staying far below 1e-6 without assuming
anything about the image.

Why 81 bits and not 80: the embedder gives block n (raster order) bit n mod L. With an even L, every bit
lands in only width/8/gcd(width/8, L) block columns (one column per bit for a 640-pixel-wide image and
L = 80), so column-shaped damage (a label, an edge, stripes) wipes out whole bits. An odd L spreads every
bit over all columns whatever the width; the parity bit makes the length odd and is one more check.
invisible-watermark reads it in its "bits" mode: `WatermarkDecoder("bits", 81)`.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AUDIO_SOFT_BINDING_ALG",
    "CRC_BITS",
    "IMAGE_ID_BITS",
    "MASK_LABEL",
    "SCRAMBLE_MASK",
    "SOFT_BINDING_ALG",
    "SYSTEM_ID_BITS",
    "WORD_BITS",
    "PayloadChecksumError",
    "WatermarkPayload",
    "checksum",
    "system_id_for",
]

# The `alg` of the C2PA soft-binding assertion that records the watermark (its value: the 10 payload bytes,
# hex). The C2PA soft-binding algorithm list (the registry of watermark and fingerprint algorithms, named in
# reverse-domain style) does not have it: it is unregistered, named register-style under this project's
# prefix. c2pa-rs signs and validates it (soft-binding values are not checked); a reader that only knows the
# list cannot decode the value. The one id for every manifest this library writes.
SOFT_BINDING_ALG = "org.aiact-transparency.dwt-svd.1"
# The audio watermark's id (provenance/audio), here so the soft-binding API can name it without the audio extra.
# The version follows the audio scheme: v4 does not read v3, v2 or v1 marks.
AUDIO_SOFT_BINDING_ALG = "org.aiact-transparency.audio-ratio-qim.4"
SYSTEM_ID_BITS = 24
IMAGE_ID_BITS = 24
CRC_BITS = 32
WORD_BITS = SYSTEM_ID_BITS + IMAGE_ID_BITS + CRC_BITS + 1  # + parity: odd length, see the module docstring
_WORD_BYTES = 10
MASK_LABEL = b"aiact-transparency/watermark/v1"
SCRAMBLE_MASK = hashlib.sha256(MASK_LABEL).digest()[:_WORD_BYTES]


class PayloadChecksumError(ValueError):
    """The bits read from an image do not form a valid payload word (checksum mismatch)."""


def checksum(data: bytes) -> int:
    """CRC-32 (ISO-HDLC, as zlib and PNG); check value for b"123456789" is 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


def system_id_for(name: str) -> int:
    """Stable 24-bit id of a system name: the first 3 bytes of SHA-256 of its UTF-8 bytes, taken as given."""
    if not name:
        raise ValueError("system name must not be empty")
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:3], "big")


@dataclass(frozen=True)
class WatermarkPayload:
    """What the watermark says: a 24-bit system id and a 24-bit per-image id."""

    system_id: int
    image_id: int

    def __post_init__(self) -> None:
        for field, value, bits in (
            ("system_id", self.system_id, SYSTEM_ID_BITS),
            ("image_id", self.image_id, IMAGE_ID_BITS),
        ):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{field} must be in [0, {(1 << bits) - 1}], got {value}")

    def to_bytes(self) -> bytes:
        """The 10 bytes as embedded (data, CRC, then XOR with the public mask)."""
        data = self.system_id.to_bytes(3, "big") + self.image_id.to_bytes(3, "big")
        word = data + checksum(data).to_bytes(4, "big")
        return bytes(a ^ b for a, b in zip(word, SCRAMBLE_MASK, strict=True))

    def to_bits(self) -> tuple[int, ...]:
        """The 81 embedded bits: those of `to_bytes()`, most significant first, then their parity."""
        bits = tuple((byte >> (7 - i)) & 1 for byte in self.to_bytes() for i in range(8))
        return (*bits, sum(bits) & 1)

    @classmethod
    def from_bytes(cls, raw: bytes) -> WatermarkPayload:
        if len(raw) != _WORD_BYTES:
            raise ValueError(f"expected {_WORD_BYTES} bytes, got {len(raw)}")
        word = bytes(a ^ b for a, b in zip(raw, SCRAMBLE_MASK, strict=True))
        data, check = word[:6], int.from_bytes(word[6:], "big")
        if checksum(data) != check:
            raise PayloadChecksumError("watermark checksum mismatch: not a payload written by this scheme")
        return cls(int.from_bytes(data[:3], "big"), int.from_bytes(data[3:6], "big"))

    @classmethod
    def from_bits(cls, bits: Sequence[int]) -> WatermarkPayload:
        if len(bits) != WORD_BITS:
            raise ValueError(f"expected {WORD_BITS} bits, got {len(bits)}")
        if sum(int(bit) & 1 for bit in bits) & 1:
            raise PayloadChecksumError("watermark parity mismatch: not a payload written by this scheme")
        raw = bytes(sum((int(bits[8 * n + i]) & 1) << (7 - i) for i in range(8)) for n in range(_WORD_BYTES))
        return cls.from_bytes(raw)
