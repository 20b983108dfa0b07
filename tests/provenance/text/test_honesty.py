"""Quality and honesty on the synthetic model (tests/provenance/text/synthetic.py), with the default parameters.

Watermarked 300-token outputs must be detected at p <= 1e-6 in >= 99% of samples and in >= 90% after 20% of
their tokens are replaced; unwatermarked text (model samples and human verses) must give false positives no
more often than the p-value promises, over more than 10,000 texts. measure.py prints the same figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from aiact_transparency import detect_text_watermark
from aiact_transparency.provenance.text._stats import binomial_sf
from aiact_transparency.provenance.text.watermark import TextWatermarkParams

from .synthetic import bigram_model, human_windows, mean_nll, replace_tokens, sample

KEY = "honesty-key-0123456789abcdef"
LENGTH = 300


def _p_values(texts: np.ndarray, key: str = KEY, params: TextWatermarkParams | None = None) -> np.ndarray:
    params = params or TextWatermarkParams()
    return np.array([detect_text_watermark(t, key=key, params=params).p_value for t in texts])


@pytest.fixture(scope="module")
def watermarked() -> np.ndarray:
    return sample(bigram_model(), 200, LENGTH, np.random.default_rng(2024), key=KEY)


def test_watermarked_outputs_are_detected(watermarked: np.ndarray) -> None:
    assert np.mean(_p_values(watermarked) <= 1e-6) >= 0.99


def test_detected_after_replacing_a_fifth_of_the_tokens(watermarked: np.ndarray) -> None:
    edited = replace_tokens(watermarked, 0.2, bigram_model(), np.random.default_rng(7))
    assert np.mean(edited != watermarked) > 0.18  # a replacement may draw the same token
    assert np.mean(_p_values(edited) <= 1e-6) >= 0.90


def test_another_key_finds_nothing_and_its_p_values_are_uniform(watermarked: np.ndarray) -> None:
    p = _p_values(watermarked, key="someone-elses-key-0123456789")
    assert not np.any(p <= 1e-6)
    assert np.mean(p <= 0.5) == pytest.approx(0.5, abs=0.15)


def test_bias_zero_writes_unmarked_text() -> None:
    params = TextWatermarkParams(bias=0.0)
    texts = sample(bigram_model(), 40, LENGTH, np.random.default_rng(9), key=KEY, params=params)
    assert not np.any(_p_values(texts, params=params) <= 1e-3)


def test_the_bias_costs_perplexity_and_the_cost_is_bounded(watermarked: np.ndarray) -> None:
    # The cost is real (the test fails if the bias did nothing) and moderate at the default bias; measure.py
    # reports it exactly, per temperature.
    model = bigram_model()
    plain = sample(model, 200, LENGTH, np.random.default_rng(2025), key=None)
    ratio = np.exp(mean_nll(model, watermarked) - mean_nll(model, plain))
    assert 1.02 < ratio < 1.4


def _upper_count(n: int, alpha: float, risk: float = 1e-6) -> int:
    """The count of p <= alpha that n valid p-values exceed with probability below `risk`."""
    count = 0
    while binomial_sf(count + 1, n, alpha) > risk:
        count += 1
    return count


def test_false_positives_hold_what_the_p_value_promises() -> None:
    model_texts = sample(bigram_model(), 5000, LENGTH, np.random.default_rng(31), key=None)
    windows = human_windows(LENGTH)  # disjoint verses; each key is an independent test of them
    keys = [f"fpr-key-{i:02d}-0123456789" for i in range(-(-5200 // len(windows)))]
    p = np.concatenate([_p_values(model_texts)] + [_p_values(windows, key=k) for k in keys])
    n = p.size
    assert n >= 10_000
    for alpha in (1e-1, 1e-2, 1e-3):
        assert np.count_nonzero(p <= alpha) <= _upper_count(n, alpha), alpha
    assert np.count_nonzero(p <= 1e-4) <= 1e-4 * n  # the rate the p-value promises: at most 1 in 10,000
    assert np.count_nonzero(p <= 1e-6) == 0
