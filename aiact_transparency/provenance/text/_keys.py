"""Everything the watermark derives from its key, computed once per key and cached (never the key itself).

The key is hashed (BLAKE2b, personalised) into a 32-byte secret; SHAKE-256 of that secret yields the tables:
one 64-bit value per token id (its position on a secret circle) and one 64-bit value per token id and
context slot (the seed tables). SHAKE is an extendable-output function: the first n values are the same
whatever the length asked for, so the tables do not depend on the vocabulary size and can grow on demand.
That is why the detector needs no vocabulary size, and why a model whose logits are padded beyond the
tokenizer's vocabulary (common: 32000 tokens, 32064 logits) is scored the same as it was generated.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np
import numpy.typing as npt

_PERSON = b"aiact-textwm-v1"  # domain separation: this key used elsewhere derives unrelated values
U64 = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.intp]


def secret_for(key: str | bytes) -> bytes:
    """The 32-byte secret a key stands for. The key is not kept; callers cache on the secret."""
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        raw = bytes(key)
    else:
        raise TypeError(f"the text watermark key must be str or bytes, not {type(key).__name__}")
    if not raw:
        raise ValueError("the text watermark key is empty; set text.watermark.key (or AIACT_TEXT__WATERMARK__KEY)")
    return hashlib.blake2b(raw, digest_size=32, person=_PERSON).digest()


def _stream(secret: bytes, label: bytes, count: int) -> U64:
    digest = hashlib.shake_256(secret + label).digest(8 * count)
    return np.frombuffer(digest, dtype="<u8").astype(np.uint64)


def _capacity(size: int) -> int:
    # Powers of two from 1024: a detector that sees a larger token id grows the table a few times at most.
    return max(1024, 1 << max(0, size - 1).bit_length())


class KeyTables:
    """Token positions and seed tables for one secret, grown to the largest token id seen so far."""

    __slots__ = ("_context", "_lock", "_orders", "_secret", "_tokens")

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._tokens: U64 = np.zeros(0, dtype=np.uint64)
        self._context: dict[int, U64] = {}
        self._orders: dict[int, tuple[U64, IntArray]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the secret stands for the key: never shown
        return f"<KeyTables tokens={self._tokens.size}>"

    def tokens(self, size: int) -> U64:
        """Each token id's secret position on the 64-bit circle, for ids below `size` (or more)."""
        table = self._tokens
        if table.size < size:
            with self._lock:
                if self._tokens.size < size:
                    self._tokens = _stream(self._secret, b"token", _capacity(size))
                table = self._tokens
        return table

    def context(self, slot: int, size: int) -> U64:
        """Seed values for the token `slot` places back (1 = the previous token), for ids below `size`."""
        table = self._context.get(slot)
        if table is None or table.size < size:
            with self._lock:
                table = self._context.get(slot)
                if table is None or table.size < size:
                    table = _stream(self._secret, b"context%d" % slot, _capacity(size))
                    self._context[slot] = table
        return table

    def order(self, vocab_size: int) -> tuple[U64, IntArray]:
        """For generation over `vocab_size` logits: token positions sorted, and the token ids in that order,
        twice over, so that any arc of the circle is one contiguous slice (no copy, no wrap-around case)."""
        cached = self._orders.get(vocab_size)
        if cached is None:
            positions = self.tokens(vocab_size)[:vocab_size]
            order = np.argsort(positions, kind="stable").astype(np.intp)
            cached = (positions[order], np.concatenate([order, order]))
            with self._lock:
                if len(self._orders) >= 8:  # a process serves one or two vocabularies; bound it all the same
                    self._orders.clear()
                self._orders[vocab_size] = cached
        return cached


# A few MB per key at a 150k vocabulary; a process uses one key (tests use more and only recompute).
@lru_cache(maxsize=8)
def tables_for(secret: bytes) -> KeyTables:
    return KeyTables(secret)
