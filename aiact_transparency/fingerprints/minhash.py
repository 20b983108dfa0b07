"""A near-duplicate fingerprint for generated text: MinHash over word shingles (Broder 1997), in numpy.

The text is normalised first, so what a copy typically loses or gains does not count: the C2PA text wrapper
is stripped, Unicode is NFKC-folded and case-folded, and only the words (`\\w+` runs) are kept, so whitespace,
line breaks and punctuation are ignored. Its shingles are the runs of SHINGLE_WORDS consecutive words. The
Jaccard similarity of two texts' shingle sets is estimated by the share of equal values among NUM_PERM
minima, one per hash function: each minimum is equal with probability J, so the estimate has standard
deviation sqrt(J (1 - J) / 128), about 0.04 at J = 0.5.

Why 4-word shingles and a 0.5 threshold: each changed word removes up to 4 shingles, so 5 changes in 250
words leave J ~ 0.85 and 20 changes J ~ 0.5. Unrelated texts share almost no 4-word runs: over 1,500 unrelated
passages (tests/fingerprints/test_text.py) no pair's estimate reaches 0.16, so 0.5 is far above them.

Index: the 128 values are cut into BANDS bands of ROWS (locality-sensitive hashing). A stored text is filed
under one key per band; a lookup asks for its own 32 keys. Two texts become candidates when any band is
equal, with probability 1 - (1 - J^4)^32: 0.87 at J = 0.5, 0.99 at J = 0.6, and 1e-3 at J = 0.1; only the
candidates' signatures are compared in full.

Why not the `datasketch` package: importing it imports scipy (its LSH module, loaded by the package's
__init__), 40 MB for what is a few numpy lines here. The hash functions are the multiply-shift family over
64-bit shingle hashes (Dietzfelbinger et al. 1997), with constants drawn once from a fixed seed: changing
them (or the normalisation) makes every stored signature incomparable, so they are versioned by KIND.

Cost: a few hundred microseconds per 1,000 words (bench/bench_fingerprints.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..provenance.text.c2pa_text import MARKER, strip_c2pa_text

__all__ = ["BANDS", "KIND", "MATCH_SIMILARITY", "MIN_QUERY_WORDS", "MIN_WORDS", "NUM_PERM", "ROWS",
           "SHINGLE_WORDS", "SIGNATURE_BYTES", "TextSignature", "band_keys", "normalised_words", "similarity",
           "text_signature"]

KIND = "minhash"
NUM_PERM = 128
SHINGLE_WORDS = 4
BANDS, ROWS = 32, 4
SIGNATURE_BYTES = NUM_PERM * 4  # 128 big-endian uint32 minima
MIN_WORDS = 200  # outputs shorter than this get no text fingerprint (issue 14: "at least 200 words")
MIN_QUERY_WORDS = 100  # a submitted copy may have lost words; below this it is not compared
MATCH_SIMILARITY = 0.5  # the estimated Jaccard similarity a match needs

_WORDS = re.compile(r"\w+")
_U64 = np.uint64
# Fixed forever (see the module docstring): odd multipliers and offsets of the 128 hash functions.
_CONSTANTS = np.random.default_rng(0x6169_6163_745F_6D68).integers(0, 2**64 - 1, size=(2, NUM_PERM), dtype=_U64,
                                                                   endpoint=True)
_MULTIPLIERS = _CONSTANTS[0] | _U64(1)
_OFFSETS = _CONSTANTS[1]
_SHINGLE_BASE = _U64(0x9E37_79B9_7F4A_7C15)  # the golden-ratio constant: spreads the word hashes' positions


@dataclass(frozen=True)
class TextSignature:
    digest: bytes  # SIGNATURE_BYTES: the NUM_PERM minima, big-endian uint32 each
    words: int  # words in the normalised text

    @property
    def indexable(self) -> bool:
        return self.words >= MIN_WORDS


def normalised_words(text: str) -> list[str]:
    """The words of `text` as compared: wrapper stripped, NFKC, case-folded, punctuation and spacing gone."""
    if MARKER in text:
        text = strip_c2pa_text(text)
    return _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # splitmix64's finaliser: every input bit reaches every output bit, so nearby shingle values spread.
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58_476D_1CE4_E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D0_49BB_1331_11EB)
    mixed: NDArray[np.uint64] = x ^ (x >> _U64(31))
    return mixed


def text_signature(text: str) -> TextSignature | None:
    """The MinHash signature of `text`, or None when it has fewer words than one shingle."""
    words = normalised_words(text)
    if len(words) < SHINGLE_WORDS:
        return None
    # One CRC-32 per word (C speed), then each shingle's hash from its words' hashes in numpy.
    word_hashes = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=_U64, count=len(words))
    count = len(words) - SHINGLE_WORDS + 1
    shingles = np.zeros(count, dtype=_U64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2^64 is the point
        for offset in range(SHINGLE_WORDS):
            shingles = shingles * _SHINGLE_BASE + word_hashes[offset : offset + count]
        keys = _mix(np.unique(shingles))  # a set: repeated shingles count once
        # h_i(x) = top 32 bits of (a_i x + b_i) mod 2^64, one row per hash function, in place. The shift is
        # monotonic, so it is taken after the minimum (on 128 values, not 128 x n: 8x faster).
        values = np.multiply.outer(_MULTIPLIERS, keys)
        values += _OFFSETS[:, None]
        minima = values.min(axis=1) >> _U64(32)
    return TextSignature(minima.astype(">u4").tobytes(), len(words))


def similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal minima."""
    if len(a) != SIGNATURE_BYTES or len(b) != SIGNATURE_BYTES:
        raise ValueError(f"a text signature is {SIGNATURE_BYTES} bytes")
    equal = np.frombuffer(a, dtype=">u4") == np.frombuffer(b, dtype=">u4")
    return float(equal.mean())


def band_keys(digest: bytes) -> list[int]:
    """The index keys a signature is filed under: one signed 64-bit integer per band (band number included, so
    equal values in different bands never collide)."""
    if len(digest) != SIGNATURE_BYTES:
        raise ValueError(f"a text signature is {SIGNATURE_BYTES} bytes")
    width = ROWS * 4
    return [int.from_bytes(hashlib.blake2b(bytes([band]) + digest[band * width : (band + 1) * width],
                                           digest_size=8).digest(), "big", signed=True)
            for band in range(BANDS)]
