"""The pure functions: which tokens are green, what the bias does, the statistic and its verdicts."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import aiact_transparency
from aiact_transparency import TextWatermarkReport, detect_text_watermark, watermark_logits
from aiact_transparency.provenance.text._stats import binomial_sf
from aiact_transparency.provenance.text.watermark import TextWatermarkParams, green_token_ids

KEY = "test-key-0123456789abcdef"
V = 5000


def _green_set(context: list[int], vocab: int = V, key: str | bytes = KEY,
               params: TextWatermarkParams | None = None) -> set[int]:
    green = green_token_ids(context, vocab, key=key, params=params or TextWatermarkParams())
    assert green is not None
    return {int(t) for t in green}


def test_exported_from_the_package() -> None:
    for name in ("watermark_logits", "detect_text_watermark", "TextWatermarkReport"):
        assert name in aiact_transparency.__all__ and hasattr(aiact_transparency, name)
    assert list(aiact_transparency.__all__) == sorted(aiact_transparency.__all__, key=lambda n: (n[0].islower(), n))


def test_bias_is_added_to_the_green_tokens_only_and_the_input_is_kept() -> None:
    logits = np.random.default_rng(0).normal(size=V).astype(np.float32)
    before = logits.copy()
    out = watermark_logits([3, 17], logits, key=KEY)
    assert out.dtype == np.float32 and out.shape == (V,)
    np.testing.assert_array_equal(logits, before)
    changed = np.flatnonzero(out != logits)
    assert set(changed.tolist()) == _green_set([3, 17])
    np.testing.assert_allclose(out[changed] - logits[changed], 2.0, rtol=1e-6)


def test_generation_and_detection_agree_on_every_green_pair() -> None:
    # Two independent code paths: the arc of the sorted order (generation) and the modular comparison
    # (detection). A text of two tokens scores exactly one pair: green or not.
    params = TextWatermarkParams(context_width=1)
    for context in (0, 1, 4321, V - 1):
        green = _green_set([context], params=params)
        for token in range(0, V, 7):
            report = detect_text_watermark([context, token], key=KEY, params=params)
            assert report.tokens_scored == 1
            assert (report.green_fraction == 1.0) == (token in green), (context, token)


def test_green_share_matches_the_ratio_and_depends_on_key_and_context() -> None:
    for ratio in (0.1, 0.25, 0.5):
        params = TextWatermarkParams(green_ratio=ratio)
        sizes = [len(_green_set([c], params=params)) for c in range(200)]
        # Each token is green with probability `ratio`; a green list is ratio*V +- sqrt(V) tokens.
        assert abs(np.mean(sizes) / V - ratio) < 0.01
    # Another key: another circle, so the lists of one context are independent, overlapping by ratio**2.
    expected = 0.25 * 0.25 * V
    for context in range(5):
        overlap = len(_green_set([context]) & _green_set([context], key="another-key-0123456789"))
        assert abs(overlap - expected) < 6 * math.sqrt(expected)
    # Same key, other context: an arc of the same secret circle at an independent offset, so the overlap
    # is all or nothing per pair (the structure the module docstring discusses), ratio**2 on average.
    overlaps = [len(_green_set([c]) & _green_set([c + 1000])) / V for c in range(300)]
    assert abs(np.mean(overlaps) - 0.25**2) < 0.01
    assert 0.4 < np.mean(np.asarray(overlaps) == 0) < 0.6  # arcs of 1/4 miss each other half the time


def test_context_width_uses_that_many_previous_tokens() -> None:
    params = TextWatermarkParams(context_width=2)
    assert _green_set([9, 1, 2], params=params) == _green_set([7, 1, 2], params=params)
    assert _green_set([1, 2], params=params) != _green_set([1, 3], params=params)
    assert _green_set([1, 2], params=params) != _green_set([4, 2], params=params)
    # Too short a context: nothing is biased (and the detector does not score such a position).
    logits = np.zeros(V)
    np.testing.assert_array_equal(watermark_logits([1], logits, key=KEY, params=params), logits)


def test_green_lists_do_not_depend_on_the_vocabulary_size() -> None:
    # A model's logits are often padded beyond the tokenizer's vocabulary (32000 ids, 32064 logits):
    # the green ids below the smaller size must be the same, or the detector would need the model's size.
    small, large = _green_set([42], vocab=1000), _green_set([42], vocab=50_000)
    assert small == {t for t in large if t < 1000}


def test_str_key_is_its_utf8_bytes_and_key_types_are_checked() -> None:
    assert _green_set([1], key="schlüssel-0123456789") == _green_set([1], key="schlüssel-0123456789".encode())
    with pytest.raises(TypeError, match="str or bytes"):
        watermark_logits([1], np.zeros(10), key=1234)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        watermark_logits([1], np.zeros(10), key="")


@pytest.mark.parametrize("logits", [np.zeros((2, 10)), np.zeros(10, dtype=np.int64), np.zeros(1)])
def test_logits_must_be_a_1d_float_vector(logits: np.ndarray) -> None:
    with pytest.raises(ValueError, match="1-D float array"):
        watermark_logits([1], logits, key=KEY)


def test_token_ids_are_checked() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        watermark_logits([-1], np.zeros(10), key=KEY)
    with pytest.raises(ValueError, match="non-negative"):
        detect_text_watermark([1, -2, 3], key=KEY)
    with pytest.raises(ValueError, match="integer token ids"):
        detect_text_watermark([1.5, 2.0], key=KEY)  # type: ignore[list-item]
    # A hostile id list must not make the detector build gigabyte tables (ids index them).
    with pytest.raises(ValueError, match="at most 2097151"):
        detect_text_watermark([1, 2**31], key=KEY)
    with pytest.raises(ValueError, match="at most 2097151"):
        watermark_logits([2**40], np.zeros(10), key=KEY)
    assert detect_text_watermark([2097151, 0], key=KEY).tokens_scored == 1


@pytest.mark.parametrize(("ratio", "bias", "width"), [(0.0, 2.0, 1), (1.0, 2.0, 1), (0.25, -1.0, 1),
                                                      (0.25, float("nan"), 1), (0.25, 2.0, 0), (0.25, 2.0, 9)])
def test_parameters_are_checked(ratio: float, bias: float, width: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TextWatermarkParams(green_ratio=ratio, bias=bias, context_width=width)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.25), (3, 10, 0.25), (10, 10, 0.25), (11, 10, 0.25),
                                           (90, 300, 0.25), (140, 300, 0.25), (300, 300, 0.25), (520, 1000, 0.5),
                                           (40, 400, 0.1)])
def test_binomial_tail_is_exact(k: int, n: int, p: float) -> None:
    q = Fraction(p)
    exact = sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(max(k, 0), n + 1))
    assert binomial_sf(k, n, p) == pytest.approx(float(exact), rel=1e-9, abs=1e-300)


def _green_walk(length: int, key: str = KEY) -> list[int]:
    """A text whose every token is green: what a model with all its mass on green tokens would write."""
    ids, rng = [1], np.random.default_rng(3)
    while len(ids) < length:
        green = green_token_ids(ids, V, key=key)
        assert green is not None
        ids.append(int(rng.choice(green)))
    return ids


def test_report_fields_and_based_on() -> None:
    report = detect_text_watermark(_green_walk(300), key=KEY)
    assert isinstance(report, TextWatermarkReport)
    assert report.verdict == "watermarked" and report.found
    assert report.tokens == 300 and report.tokens_scored == 299 and report.green_fraction == 1.0
    assert report.p_value == pytest.approx(0.25**299, rel=1e-9) and report.z_score > 20
    assert "statistical test" in report.based_on and "green ratio 0.25" in report.based_on
    assert "299 scored tokens" in report.based_on and "exact binomial" in report.based_on
    assert KEY not in repr(report) and KEY not in str(report.to_dict())
    assert report.to_dict()["verdict"] == "watermarked"


def test_wrong_key_or_no_bias_is_not_detected() -> None:
    text = _green_walk(400)
    assert detect_text_watermark(text, key="another-key-0123456789").verdict == "not-detected"
    assert detect_text_watermark(text, key=KEY, params=TextWatermarkParams(green_ratio=0.5)).p_value < 1e-6
    # bias 0 leaves the logits as they were: generation with it writes unmarked text
    logits = np.random.default_rng(1).normal(size=V)
    np.testing.assert_array_equal(watermark_logits([5], logits, key=KEY, params=TextWatermarkParams(bias=0.0)), logits)


def test_repeated_pairs_are_scored_once() -> None:
    green = _green_walk(3)
    looped = green[:2] * 300  # (a, b) green, then (b, a): two distinct pairs, 599 positions
    report = detect_text_watermark(looped, key=KEY)
    assert report.tokens_scored == 2 and report.tokens == 600
    assert report.verdict == "too-short"  # 600 tokens, but two distinct pairs cannot show a watermark
    assert "597 repeats ignored" in report.based_on


def test_short_text_is_too_short_unless_the_evidence_is_already_there() -> None:
    rng = np.random.default_rng(5)
    plain = [int(t) for t in rng.integers(0, V, 150)]
    report = detect_text_watermark(plain, key=KEY)
    assert report.verdict == "too-short" and "too short to decide" in report.based_on
    assert detect_text_watermark(plain + [int(t) for t in rng.integers(0, V, 100)], key=KEY).verdict == "not-detected"
    # The p-value holds at any length: 150 green tokens are evidence, not an undecided case.
    assert detect_text_watermark(_green_walk(150), key=KEY).verdict == "watermarked"
    assert detect_text_watermark([], key=KEY).verdict == "too-short"
    assert detect_text_watermark([7], key=KEY).tokens_scored == 0
