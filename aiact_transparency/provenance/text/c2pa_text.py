"""The C2PA text manifest wrapper (C2PA 2.3 "Embedding manifests into unstructured text", 2.4 Appendix A.8).

A manifest store rides after the visible text as invisible characters: U+FEFF, then one variation selector
per byte of `magic "C2PATXT\\0" | version 1 | uint32 big-endian length | JUMBF manifest store | padding`
(bytes 0x00-0x0F -> U+FE00-U+FE0F, 0x10-0xFF -> U+E0100-U+E01EF). Offsets here are UTF-8 byte offsets,
as the `c2pa.hash.data` exclusion counts them. Read against c2pa-rs `sdk/src/asset_handlers/plain_text_io.rs`
(feature `unstable_plain_text`): the same framing, the same deterministic padding, and the same rule that
only a frame that decodes counts as a wrapper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "HEADER_LEN", "MAGIC", "MARKER", "VERSION", "Wrapper", "WrapperScan", "encode_wrapper", "find_wrapper",
    "scan_wrappers", "strip_c2pa_text", "wrapper_length",
]

MAGIC = b"C2PATXT\x00"
VERSION = 1
MARKER = "\ufeff"  # zero-width no-break space: where a wrapper starts
HEADER_LEN = len(MAGIC) + 1 + 4  # magic, version, uint32 length

_TO_VS = tuple(chr(0xFE00 + b) if b < 16 else chr(0xE0100 + b - 16) for b in range(256))
_FROM_VS = {ord(ch): b for b, ch in enumerate(_TO_VS)}
_LOW_BYTES = tuple(bytes([b]) for b in range(16))
_RUN = re.compile("\ufeff([\ufe00-\ufe0f\U000e0100-\U000e01ef]*)")


def wrapper_length(store_len: int) -> int:
    """UTF-8 bytes of the padded wrapper for a store of `store_len` bytes: 3 + (13 + M) * 4 + 6.

    Every byte could need 4 UTF-8 bytes; padding fills the rest, so the length (and with it the signed
    exclusion) depends on the store's size only, never on its content. The +6 keeps the gap expressible
    as 3a + 4b (only 1, 2 and 5 are not).
    """
    return 3 + (HEADER_LEN + store_len) * 4 + 6


def _padding(gap: int) -> bytes:
    # The spec's fixed decomposition (as c2pa-rs writes it): (gap - 4*(gap % 3)) / 3 bytes 0x00 (3 UTF-8
    # bytes each), then gap % 3 bytes 0x10 (4 UTF-8 bytes each).
    fours = gap % 3
    if gap < 4 * fours:
        raise ValueError(f"a wrapper gap of {gap} UTF-8 bytes cannot be padded")
    return b"\x00" * ((gap - 4 * fours) // 3) + b"\x10" * fours


def encode_wrapper(store: bytes) -> str:
    """The padded wrapper for one manifest store; append it to NFC text."""
    if len(store) >= 1 << 32:
        raise ValueError("a manifest store of 4 GiB or more does not fit the wrapper's uint32 length")
    framed = MAGIC + bytes([VERSION]) + len(store).to_bytes(4, "big") + store
    # Bytes 0x00-0x0F take 3 UTF-8 bytes as selectors, all others 4 (counting beats a per-byte loop).
    unpadded = 3 + 4 * len(framed) - sum(framed.count(b) for b in _LOW_BYTES)
    framed += _padding(wrapper_length(len(store)) - unpadded)
    return MARKER + "".join(map(_TO_VS.__getitem__, framed))


@dataclass(frozen=True)
class Wrapper:
    """One U+FEFF-led selector run: a decodable frame (`store` set) or a damaged one (`problem` set)."""

    char_start: int  # index of U+FEFF in the str
    char_end: int  # index after the run
    start: int  # UTF-8 byte offset of U+FEFF: the exclusion's start
    length: int  # UTF-8 bytes from U+FEFF through the run, padding included: the exclusion's length
    store: bytes | None = None
    problem: str | None = None


@dataclass(frozen=True)
class WrapperScan:
    wrappers: tuple[Wrapper, ...]  # frames that decode, in text order
    damaged: tuple[Wrapper, ...]  # runs that start with the magic but do not decode

    @property
    def single(self) -> Wrapper | None:
        """The text's wrapper when there is exactly one; A.8 allows no other count."""
        return self.wrappers[0] if len(self.wrappers) == 1 else None


def _decode(run: str) -> tuple[bytes | None, str | None]:
    """(store, None) for a frame that decodes, (None, problem) for a damaged one, (None, None) for none."""
    head = run[:HEADER_LEN].translate(_FROM_VS).encode("latin-1")
    if not head or not (head.startswith(MAGIC) or MAGIC.startswith(head)):
        return None, None  # e.g. an emoji's variation selector after a stray U+FEFF: ordinary text
    if len(head) < HEADER_LEN:
        return None, f"truncated: {len(head)} of the {HEADER_LEN} header bytes"
    if head[8] != VERSION:
        return None, f"unsupported wrapper version {head[8]} (this reader knows version {VERSION})"
    declared = int.from_bytes(head[9:13], "big")
    if len(run) < HEADER_LEN + declared:
        return None, f"truncated: the header declares {declared} manifest bytes, {len(run) - HEADER_LEN} follow"
    if declared == 0:
        return None, "the wrapper declares an empty manifest store"
    return run[HEADER_LEN:HEADER_LEN + declared].translate(_FROM_VS).encode("latin-1"), None


def scan_wrappers(text: str) -> WrapperScan:
    """Every wrapper and damaged wrapper in `text`, with UTF-8 byte offsets into `text` as given."""
    found: list[Wrapper] = []
    damaged: list[Wrapper] = []
    byte_pos, char_pos = 0, 0
    for match in _RUN.finditer(text):
        store, problem = _decode(match.group(1))
        if store is None and problem is None:
            continue
        byte_pos += len(text[char_pos:match.start()].encode("utf-8"))
        char_pos = match.start()
        length = len(match.group(0).encode("utf-8"))
        item = Wrapper(match.start(), match.end(), byte_pos, length, store, problem)
        (found if store is not None else damaged).append(item)
    return WrapperScan(tuple(found), tuple(damaged))


def find_wrapper(text: str) -> Wrapper | None:
    """The single wrapper of `text`, or None when there is none or more than one."""
    return scan_wrappers(text).single


def strip_c2pa_text(text: str) -> str:
    """`text` without any C2PA text wrapper, damaged ones included; everything else stays as it was.

    The wrapper is opt-in and invisible: this is how a user or a downstream system removes it (it also
    removes the provenance, which is then no longer verifiable from the text).
    """
    scan = scan_wrappers(text)
    spans = sorted((w.char_start, w.char_end) for w in (*scan.wrappers, *scan.damaged))
    if not spans:
        return text
    parts, cursor = [], 0
    for start, end in spans:
        parts.append(text[cursor:start])
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)
