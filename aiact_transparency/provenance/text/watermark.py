"""A green-list text watermark (Kirchenbauer et al. 2023, "A Watermark for Large Language Models").

While a model chooses each token, `watermark_logits` adds `bias` to the logits of a key-dependent "green"
share (`green_ratio`) of the vocabulary; which share depends on the previous `context_width` token ids. Text
sampled that way holds more green tokens than chance allows; `detect_text_watermark` counts them and
reports an exact binomial p-value. Text written without the key (by a person, by another model) is green
at the rate `green_ratio`, whatever it says: the p-value is the chance of a score at least this high over
the choice of key, so it holds for any text its author chose without knowing the key.

Construction (measured choices: tests/provenance/text/measure.py prints the tables behind them):
- Every token id t has a secret position u[t] on a circle of 2**64 points; the context of a token (the
  `context_width` previous ids) has a secret seed s, the XOR of one secret table value per context slot
  (simple tabulation hashing). Token t is green after that context when (u[t] + s) mod 2**64 falls in
  [0, green_ratio * 2**64). For a fixed token, s is uniform over keys, so the chance of green is exactly
  the green ratio. Distinct (context, token) pairs are pairwise independent, not fully (the four pairs of a
  "rectangle" (a, x), (a, y), (b, x), (b, y) are tied), so the exact binomial tail is an assumption, checked
  over 10,440 unwatermarked texts in tests/provenance/text/test_honesty.py (1 at p <= 1e-4, none at 1e-5).
- Generation: the green tokens for a seed are an arc of the circle, i.e. one contiguous slice of the
  token ids sorted by position (two binary searches, no permutation per token): about 15 us added per
  token at a 32k vocabulary (bench/bench_text_watermark.py) instead of the ~300 us a fresh permutation costs.
- Security, stated plainly: every context's green list is an arc of the same secret circular order, so an
  adversary who collects much watermarked output learns more per token than with fully independent lists
  (published attacks already estimate KGW green lists at context width 1 from ~1e5-1e6 tokens of output).
  This watermark shows that unedited or lightly edited text came from the system; it does not resist a
  determined adversary who rewrites the text or who can query the model at scale. A public detector is an
  oracle for the same learning: rate-limit it (the Code of Practice allows restricting text-watermark
  detection to verified experts). The key must stay secret: with it anyone can detect, remove or forge the mark.
- Repeats: a repeated (context, token) pair is green or not every time, so it would be counted as fresh
  evidence that it is not; each distinct pair is scored once. The first `context_width` tokens of a text
  have no full context and are not scored.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._keys import KeyTables, secret_for, tables_for
from ._stats import binomial_sf, z_score

_CIRCLE = 1 << 64
Verdict = Literal["watermarked", "not-detected", "too-short"]
FloatArray = npt.NDArray[np.floating[Any]]

# Defaults chosen from tests/provenance/text/measure.py (300-token samples of a corpus-fitted bigram model, whose
# entropy at temperature 0.7, 2.5 nats/token, is nearer a real LLM's than at 1.0). The cheapest setting that
# meets both goals there (p <= 1e-6 in >= 99%, and in >= 90% after 20% of tokens replaced): green ratio 0.25,
# bias 2.0 (99.5% after edits, perplexity x1.34; x1.18 at temperature 1.0). Bias 1.5 keeps only 66% after
# edits; ratio 0.5 needs bias 2.5 for the same robustness at the same cost, and biases twice the tokens per
# step; ratio 0.1 costs more (x1.43 at bias 2.5). Context width 1 is the most robust (width 2: 87%, width 3:
# 60% after edits, since each replaced token also breaks the context of the next `width` tokens); wider
# contexts make green lists harder to learn from output, which this watermark does not claim to resist.
# These are the values Kirchenbauer et al. also recommend; the measurements, not that, decided them. At 1.5
# nats/token (temperature 0.5) only 18% survive the edits: low-entropy output needs bias 3 (93%, x1.63).
DEFAULT_GREEN_RATIO = 0.25
DEFAULT_BIAS = 2.0
DEFAULT_CONTEXT_WIDTH = 1
# The Code of Practice exempts text under 200 tokens; below that, absence of a watermark proves nothing.
MIN_TOKENS = 200
# A verdict of "watermarked" needs p <= 1e-6, the false-positive bound the image watermark also keeps.
MAX_P_VALUE = 1e-6
# Far above any vocabulary (the largest are ~262k); bounds the key tables a hostile id list could make us build.
MAX_TOKEN_ID = (1 << 21) - 1


@dataclass(frozen=True)
class TextWatermarkParams:
    """The watermark's parameters; generation and detection must use the same ones (and the same key)."""

    green_ratio: float = DEFAULT_GREEN_RATIO
    bias: float = DEFAULT_BIAS
    context_width: int = DEFAULT_CONTEXT_WIDTH

    def __post_init__(self) -> None:
        if not 0.01 <= self.green_ratio <= 0.99:
            raise ValueError(f"green_ratio must be between 0.01 and 0.99, got {self.green_ratio!r}")
        if not (math.isfinite(self.bias) and 0.0 <= self.bias <= 20.0):
            raise ValueError(f"bias must be a finite logit offset between 0 and 20, got {self.bias!r}")
        if isinstance(self.context_width, bool) or not 1 <= self.context_width <= 8:
            raise ValueError(f"context_width must be an integer from 1 to 8, got {self.context_width!r}")

    @property
    def threshold(self) -> int:
        """Green iff (position + seed) mod 2**64 is below this."""
        return round(self.green_ratio * _CIRCLE)


DEFAULT_PARAMS = TextWatermarkParams()


@dataclass(frozen=True)
class TextWatermarkReport:
    verdict: Verdict
    z_score: float
    p_value: float
    green_fraction: float
    tokens_scored: int
    tokens: int
    based_on: str

    @property
    def found(self) -> bool:
        return self.verdict == "watermarked"

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "verdict": self.verdict,
            "z_score": self.z_score,
            "p_value": self.p_value,
            "green_fraction": self.green_fraction,
            "tokens_scored": self.tokens_scored,
            "tokens": self.tokens,
            "based_on": self.based_on,
        }


def _seed(tables: KeyTables, context: Sequence[int], width: int) -> int:
    seed = 0
    for slot in range(1, width + 1):
        token = operator.index(context[-slot])
        if not 0 <= token <= MAX_TOKEN_ID:
            raise ValueError(f"token ids must be non-negative and at most {MAX_TOKEN_ID}, got {token}")
        seed ^= int(tables.context(slot, token + 1)[token])
    return seed


def green_token_ids(previous_token_ids: Sequence[int] | npt.NDArray[np.integer[Any]], vocab_size: int, *,
                    key: str | bytes, params: TextWatermarkParams = DEFAULT_PARAMS) -> npt.NDArray[np.intp] | None:
    """The green token ids (below `vocab_size`) after this context, or None when the context is shorter than
    `context_width` (such a position is not scored either). A read-only view into a cached array."""
    return green_in(tables_for(secret_for(key)), previous_token_ids, vocab_size, params)


def green_in(tables: KeyTables, previous_token_ids: Sequence[int] | npt.NDArray[np.integer[Any]], vocab_size: int,
             params: TextWatermarkParams) -> npt.NDArray[np.intp] | None:
    if len(previous_token_ids) < params.context_width:
        return None
    seed = _seed(tables, previous_token_ids, params.context_width)  # type: ignore[arg-type]
    positions, order2 = tables.order(vocab_size)
    low = (_CIRCLE - seed) % _CIRCLE
    end = low + params.threshold
    start = int(positions.searchsorted(np.uint64(low)))
    if end < _CIRCLE:
        stop = int(positions.searchsorted(np.uint64(end)))
    else:  # the arc wraps past 2**64: its tail is at the start of the sorted order, i.e. after it in order2
        stop = vocab_size + int(positions.searchsorted(np.uint64(end - _CIRCLE)))
    return order2[start:stop]


def watermark_logits(previous_token_ids: Sequence[int] | npt.NDArray[np.integer[Any]], logits: FloatArray, *,
                     key: str | bytes, params: TextWatermarkParams = DEFAULT_PARAMS) -> FloatArray:
    """New logits (same dtype) with `params.bias` added to the green tokens after `previous_token_ids`.

    `previous_token_ids` are the ids before the token being chosen, prompt included (only the last
    `context_width` matter); `logits` is a 1-D float array over the vocabulary. The input is not changed.
    """
    scores = np.asarray(logits)
    if scores.ndim != 1 or not 2 <= scores.size <= MAX_TOKEN_ID + 1 or scores.dtype.kind != "f":
        raise ValueError(f"logits must be a 1-D float array over the vocabulary, got shape {scores.shape} "
                         f"of {scores.dtype}")
    out: FloatArray = scores.copy()
    green = green_token_ids(previous_token_ids, scores.size, key=key, params=params)
    if green is not None and params.bias:
        out[green] += params.bias
    return out


def _token_array(token_ids: Sequence[int] | npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    ids = np.asarray(token_ids)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"token_ids must be a 1-D sequence of integer token ids, got shape {ids.shape} of {ids.dtype}")
    if int(ids.min()) < 0 or int(ids.max()) > MAX_TOKEN_ID:
        raise ValueError(f"token ids must be non-negative and at most {MAX_TOKEN_ID}, got "
                         f"{int(ids.min()) if int(ids.min()) < 0 else int(ids.max())}")
    return ids.astype(np.int64, copy=False)


def _first_of_each_pair(ids: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.intp]:
    """Indices (into the scored positions) of the first occurrence of each distinct (context, token) pair."""
    windows = np.lib.stride_tricks.sliding_window_view(ids, width + 1)
    base = int(ids.max()) + 1
    if base ** (width + 1) < (1 << 62):  # one int64 per pair: far faster than unique rows
        packed = np.zeros(len(windows), dtype=np.int64)
        for column in range(width + 1):
            packed = packed * base + windows[:, column]
        _, first = np.unique(packed, return_index=True)
    else:
        _, first = np.unique(windows, axis=0, return_index=True)
    return np.sort(first)


def detect_text_watermark(token_ids: Sequence[int] | npt.NDArray[np.integer[Any]], *, key: str | bytes,
                          params: TextWatermarkParams = DEFAULT_PARAMS, max_p_value: float = MAX_P_VALUE,
                          min_tokens: int = MIN_TOKENS) -> TextWatermarkReport:
    """Count green tokens in `token_ids` (the generated text's ids, as the generating tokenizer gives them).

    Verdict: "watermarked" when p <= `max_p_value` (at any length: the p-value holds for short text too);
    otherwise "too-short" when the text has fewer than `min_tokens` tokens or too few distinct scored
    tokens to ever reach `max_p_value`, and "not-detected" only when a watermark could have shown.
    """
    ids = _token_array(token_ids)
    width, gamma = params.context_width, params.threshold / _CIRCLE
    scored = 0
    green = 0
    if ids.size > width:
        tables = tables_for(secret_for(key))
        size = int(ids.max()) + 1
        seeds = np.zeros(ids.size - width, dtype=np.uint64)
        for slot in range(1, width + 1):
            seeds ^= tables.context(slot, size)[ids[width - slot: ids.size - slot]]
        is_green = (tables.tokens(size)[ids[width:]] + seeds) < np.uint64(params.threshold)  # wraps mod 2**64
        first = _first_of_each_pair(ids, width)
        scored, green = int(first.size), int(np.count_nonzero(is_green[first]))
    p_value = binomial_sf(green, scored, gamma)
    decidable = scored > 0 and scored * math.log(gamma) <= math.log(max_p_value)
    if p_value <= max_p_value:
        verdict: Verdict = "watermarked"
    elif ids.size < min_tokens or not decidable:
        verdict = "too-short"
    else:
        verdict = "not-detected"
    return TextWatermarkReport(
        verdict=verdict,
        z_score=z_score(green, scored, gamma),
        p_value=p_value,
        green_fraction=green / scored if scored else 0.0,
        tokens_scored=scored,
        tokens=int(ids.size),
        based_on=_based_on(verdict, green, scored, int(ids.size), p_value, params, max_p_value, min_tokens),
    )


def _based_on(verdict: Verdict, green: int, scored: int, tokens: int, p_value: float, params: TextWatermarkParams,
              max_p_value: float, min_tokens: int) -> str:
    p_text = f"{p_value:.3g}" if p_value > 0 else "below 1e-300"
    text = (
        f"a statistical test for this system's green-list text watermark (green ratio {params.green_ratio:g}, "
        f"context width {params.context_width}): {green} of {scored} scored tokens are green where "
        f"{params.green_ratio * scored:.1f} are expected by chance; each distinct (context, token) pair counted "
        f"once ({max(0, tokens - params.context_width) - scored} repeats ignored); p = {p_text} is the chance "
        "that text written without this system's key scores at least this high (exact binomial tail)"
    )
    if verdict == "watermarked":
        return f"{text}; p <= {max_p_value:g}: watermarked"
    if verdict == "too-short":
        return (f"{text}; {tokens} tokens ({scored} distinct scored), too short to decide: the Code of Practice "
                f"exempts text under {min_tokens} tokens, and an absent watermark proves nothing on so little text")
    return f"{text}; p > {max_p_value:g}: no watermark detected (edited, other origin, or not from this system)"
