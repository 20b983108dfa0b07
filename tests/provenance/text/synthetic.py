"""A synthetic language model for the text watermark's tests and measurements, built from shipped data.

A byte-level BPE tokenizer is trained with `tokenizers` on the public-domain KJV excerpt in data/ (about
0.2 s, deterministic), and a bigram model is fitted on the tokenized corpus (add-alpha smoothing). Sampling
applies the watermark through the public `watermark_logits`, one call per token as a serving loop would,
with the Gumbel-max trick over many sequences at once. A bigram model is far less sharp than a real LLM,
so measurements also run it at lower temperatures, where each token carries less entropy to mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aiact_transparency.provenance.text.watermark import DEFAULT_PARAMS, TextWatermarkParams, watermark_logits

from ...tools import require_module

# The `text` extra (in dev): CI fails without it, a local run without it skips the modules importing this one.
tokenizers = require_module("tokenizers")

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "kjv_genesis_exodus.txt"
VOCAB_SIZE = 2048
SMOOTHING = 0.01
Ids = npt.NDArray[np.int64]


def train_tokenizer(vocab_size: int = VOCAB_SIZE) -> Any:
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    alphabet = tokenizers.pre_tokenizers.ByteLevel.alphabet()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False)
    tokenizer.train([str(CORPUS)], trainer)
    return tokenizer


@lru_cache(maxsize=1)
def tokenizer_json() -> str:
    """The trained tokenizer as the tokenizer.json text a deployer would have on disk."""
    return train_tokenizer().to_str()


@lru_cache(maxsize=1)
def corpus_ids() -> Ids:
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json())
    return np.asarray(tokenizer.encode(CORPUS.read_text(encoding="utf-8")).ids, dtype=np.int64)


@dataclass(frozen=True)
class BigramModel:
    log_probs: npt.NDArray[np.float64]  # [previous, next], rows are log-softmax
    unigram: npt.NDArray[np.float64]

    @property
    def vocab_size(self) -> int:
        return int(self.log_probs.shape[0])


@lru_cache(maxsize=1)
def bigram_model() -> BigramModel:
    ids = corpus_ids()
    v = VOCAB_SIZE
    counts = np.bincount(ids[:-1] * v + ids[1:], minlength=v * v).reshape(v, v).astype(np.float64) + SMOOTHING
    log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))
    unigram = np.bincount(ids, minlength=v).astype(np.float64)
    return BigramModel(log_probs, unigram / unigram.sum())


def sample(model: BigramModel, n: int, length: int, rng: np.random.Generator, *, key: str | bytes | None,
           params: TextWatermarkParams = DEFAULT_PARAMS, temperature: float = 1.0) -> Ids:
    """`n` sequences of `length` tokens, each starting after a prompt token drawn from the unigram; with
    `key`, every step goes through watermark_logits (prompt included in the context, as in serving)."""
    out = np.empty((n, length + 1), dtype=np.int64)
    out[:, 0] = rng.choice(model.vocab_size, size=n, p=model.unigram)
    if key is None:  # no per-token call to make: inverse-CDF sampling over all rows at once
        flat, v = _flat_cdf(temperature), model.vocab_size
        for step in range(1, length + 1):
            previous = out[:, step - 1]
            out[:, step] = np.minimum(np.searchsorted(flat, previous + rng.random(n), side="right") - previous * v,
                                      v - 1)
        return out[:, 1:]
    for step in range(1, length + 1):
        logits = model.log_probs[out[:, step - 1]] / temperature
        logits = np.stack([watermark_logits(out[row, :step], logits[row], key=key, params=params)
                           for row in range(n)])
        out[:, step] = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return out[:, 1:]


@lru_cache(maxsize=4)
def _flat_cdf(temperature: float) -> npt.NDArray[np.float64]:
    """Row CDFs of the model at `temperature`, row i shifted by i: one sorted array for all rows."""
    model = bigram_model()
    scaled = model.log_probs / temperature
    probs = np.exp(scaled - np.logaddexp.reduce(scaled, axis=1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(model.vocab_size)[:, None]).ravel()


def mean_nll(model: BigramModel, sequences: Ids, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats per token) under the unwatermarked model at `temperature`."""
    scaled = model.log_probs / temperature
    scaled = scaled - np.logaddexp.reduce(scaled, axis=1, keepdims=True)
    return float(-scaled[sequences[:, :-1], sequences[:, 1:]].mean())


def mean_entropy(model: BigramModel, sequences: Ids, temperature: float = 1.0) -> float:
    """Mean entropy (nats) of the unwatermarked next-token distribution along the sequences."""
    scaled = model.log_probs / temperature
    scaled = scaled - np.logaddexp.reduce(scaled, axis=1, keepdims=True)
    rows = scaled[sequences[:, :-1].ravel()]
    return float(-(np.exp(rows) * rows).sum(axis=1).mean())


def replace_tokens(sequences: Ids, fraction: float, model: BigramModel, rng: np.random.Generator) -> Ids:
    """Replace exactly `fraction` of each sequence's tokens, at random positions, by corpus-frequent tokens
    (an edit that keeps the words plausible; each replacement also breaks the next token's context)."""
    edited = sequences.copy()
    count = round(fraction * sequences.shape[1])
    for row in edited:
        positions = rng.choice(row.size, size=count, replace=False)
        row[positions] = rng.choice(model.vocab_size, size=count, p=model.unigram)
    return edited


def human_windows(length: int) -> Ids:
    """Disjoint `length`-token windows of the corpus: text no key was ever applied to."""
    ids = corpus_ids()
    count = ids.size // length
    return ids[: count * length].reshape(count, length)
