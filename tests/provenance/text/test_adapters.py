"""The serving adapters, called exactly as llama-cpp-python 0.3.x and transformers call them.

llama-cpp-python is not installed (its PyPI release is a source build of llama.cpp); the test reproduces its
two call sites with the same dtypes and array layouts (see the adapter's docstring). torch is not installed
either (a multi-GB download): the transformers adapter's logic runs on a numpy stand-in for torch.Tensor, and
the subclassing of transformers.LogitsProcessor in transformers_watermark() is not exercised here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aiact_transparency import detect_text_watermark, watermark_logits
from aiact_transparency.provenance.text.logits_processors import LlamaCppWatermark, _TransformersWatermark
from aiact_transparency.provenance.text.watermark import TextWatermarkParams

KEY = "adapter-key-0123456789abcdef"
V = 3000


def test_llama_cpp_custom_sampler_call() -> None:
    # llama.py 0.3.36, _init_sampler.apply_func: a record array over llama_token_data, the field written back.
    processor = LlamaCppWatermark(key=KEY)
    dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
    records = np.recarray(shape=(V,), dtype=dtype)
    records.id[:] = np.arange(V, dtype=np.intc)
    logits = np.random.default_rng(0).normal(size=V).astype(np.single)
    records.logit[:] = logits
    input_ids = np.array([5, 9, 11, 400], dtype=np.intc)  # Llama._input_ids: input_ids[: n_tokens]
    records.logit[:] = processor(input_ids, records.logit)
    np.testing.assert_array_equal(records.logit, watermark_logits(input_ids, logits, key=KEY))
    np.testing.assert_array_equal(records.id, np.arange(V))  # the other fields untouched


def test_llama_cpp_list_call_on_a_scores_row() -> None:
    # LogitsProcessorList.__call__ with a row of Llama.scores (float32 [n_ctx, n_vocab]), as in llama.py's eval path.
    scores = np.random.default_rng(1).normal(size=(8, V)).astype(np.single)
    input_ids = np.arange(8, dtype=np.intc)
    row = scores[-1, :]
    out = LlamaCppWatermark(key=KEY)(input_ids, row)
    assert out.dtype == np.single and out.shape == (V,)
    assert np.count_nonzero(out != row) == pytest.approx(0.25 * V, abs=4 * np.sqrt(V))


def test_generation_through_the_llama_cpp_adapter_is_detected() -> None:
    processor = LlamaCppWatermark(key=KEY)
    rng = np.random.default_rng(2)
    ids = np.array([1], dtype=np.intc)
    table = rng.normal(size=(V, V)).astype(np.single)  # a random bigram "model"
    for _ in range(300):
        scores = processor(ids, table[ids[-1]])
        ids = np.append(ids, np.intc(np.argmax(scores + rng.gumbel(size=V).astype(np.single))))
    assert detect_text_watermark(ids[1:], key=KEY).verdict == "watermarked"
    assert detect_text_watermark(ids[1:], key="other-key-0123456789").verdict == "not-detected"


def test_adapters_hold_no_key() -> None:
    for processor in (LlamaCppWatermark(key=KEY), _TransformersWatermark(key=KEY)):
        assert KEY not in repr(processor)
        assert not any(KEY in repr(getattr(processor, s, "")) for s in ("_tables", "params"))
    with pytest.raises(ValueError, match="empty"):
        LlamaCppWatermark(key="")


class _StandIn:
    """The torch.Tensor surface the adapter touches: shape, tolist, new_tensor (keeps dtype), +."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = array.shape

    def tolist(self) -> Any:
        return self.array.tolist()

    def new_tensor(self, data: Any) -> _StandIn:
        return _StandIn(np.asarray(data, dtype=self.array.dtype))

    def __add__(self, other: _StandIn) -> _StandIn:
        return _StandIn(self.array + other.array)


def test_transformers_logic_on_a_stand_in_batch() -> None:
    params = TextWatermarkParams(context_width=2)
    rng = np.random.default_rng(3)
    input_ids = rng.integers(0, V, size=(3, 12))  # LongTensor [batch, seq], prompt included
    scores = rng.normal(size=(3, V)).astype(np.float16)  # e.g. a half-precision model
    out = _TransformersWatermark(key=KEY, params=params)(_StandIn(input_ids), _StandIn(scores))
    assert out.array.dtype == np.float16 and out.shape == (3, V)
    for row in range(3):
        expected = watermark_logits(input_ids[row], scores[row].astype(np.float32), key=KEY, params=params)
        np.testing.assert_allclose(out.array[row], expected.astype(np.float16), rtol=1e-3)
