"""Adapters that apply the text watermark inside a serving loop; neither imports a heavy package here.

llama-cpp-python (any version with `logits_processor`; checked against 0.3.36's llama.py)::

    from llama_cpp import Llama, LogitsProcessorList
    from aiact_transparency.provenance.text.logits_processors import LlamaCppWatermark

    llm = Llama(model_path="model.gguf")
    watermark = LlamaCppWatermark(key=os.environ["AIACT_TEXT__WATERMARK__KEY"])
    out = llm("Write a story about the sea.", max_tokens=400, logits_processor=LogitsProcessorList([watermark]))

llama-cpp-python calls it as `processor(input_ids, scores)`: `input_ids` the int32 (np.intc) ids so far, prompt
included, `scores` the float32 (np.single) logits of the next token over the whole vocabulary (in 0.3.x a
strided field of a record array, `recarray.logit`, which it overwrites with the result). The processor runs
before temperature scaling, so the effective bias is `bias / temperature` (stronger, for temperature < 1).

transformers (`generate` with any decoder model; torch comes with the user's transformers install)::

    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList
    from aiact_transparency.provenance.text.logits_processors import transformers_watermark

    tokenizer = AutoTokenizer.from_pretrained("your-model")
    model = AutoModelForCausalLM.from_pretrained("your-model")
    inputs = tokenizer("Write a story about the sea.", return_tensors="pt")
    processor = transformers_watermark(key=os.environ["AIACT_TEXT__WATERMARK__KEY"])
    ids = model.generate(**inputs, do_sample=True, max_new_tokens=400,
                         logits_processor=LogitsProcessorList([processor]))
    text = tokenizer.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

It receives `input_ids` (LongTensor [batch, seq]) and `scores` (FloatTensor [batch, vocab]) and returns new
scores, the green bias added row by row on the scores' own device and dtype. Beam search works on the same
scores; the watermark is meant for sampling (with greedy decoding it only reorders near-ties).

Both hold the secret derived from the key, never the key; their repr shows neither.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ._keys import KeyTables, secret_for
from .watermark import DEFAULT_PARAMS, TextWatermarkParams, green_in


class _TensorLike(Protocol):
    """The part of torch.Tensor the transformers adapter uses (so it needs no torch import of its own)."""

    shape: Any

    def tolist(self) -> Any: ...
    def new_tensor(self, data: Any) -> Any: ...
    def __add__(self, other: Any) -> Any: ...


class _Watermark:
    __slots__ = ("_tables", "params")

    def __init__(self, *, key: str | bytes, params: TextWatermarkParams = DEFAULT_PARAMS) -> None:
        # Validates the key now, not at the first token; keeps only what is derived from it.
        self._tables = KeyTables(secret_for(key))
        self.params = params

    def __repr__(self) -> str:
        return f"{type(self).__name__}(params={self.params!r})"

    def green(self, previous_token_ids: Any, vocab_size: int) -> npt.NDArray[np.intp] | None:
        return green_in(self._tables, previous_token_ids, vocab_size, self.params)


class LlamaCppWatermark(_Watermark):
    """A llama-cpp-python logits processor: `(input_ids: NDArray[intc], scores: NDArray[single]) -> scores`."""

    __slots__ = ()

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        out = np.array(scores, dtype=np.single)  # a contiguous copy: llama-cpp may hand in a strided view
        green = self.green(input_ids, out.shape[0])
        if green is not None and self.params.bias:
            out[green] += np.single(self.params.bias)
        return out


class _TransformersWatermark(_Watermark):
    """The transformers logic, on anything tensor-like (torch.Tensor in use, a numpy stand-in in tests)."""

    __slots__ = ()

    def __call__(self, input_ids: _TensorLike, scores: _TensorLike) -> Any:
        batch, vocab_size = int(scores.shape[0]), int(scores.shape[1])
        bias = np.zeros((batch, vocab_size), dtype=np.float32)
        for row, ids in enumerate(input_ids.tolist()):
            green = self.green(ids, vocab_size)
            if green is not None:
                bias[row, green] = self.params.bias
        # new_tensor: same device and dtype as the scores (GPU, bfloat16, ...) without naming torch here.
        return scores + scores.new_tensor(bias)


@lru_cache(maxsize=1)
def _transformers_class() -> type[_TransformersWatermark]:
    try:
        from transformers import LogitsProcessor
    except ImportError:  # pragma: no cover - depends on the user's environment
        raise ImportError("transformers_watermark needs transformers with torch installed "
                          "(pip install transformers torch); this package does not depend on them") from None

    class TransformersWatermark(_TransformersWatermark, LogitsProcessor):  # type: ignore[misc]
        __slots__ = ()

    return TransformersWatermark


def transformers_watermark(*, key: str | bytes, params: TextWatermarkParams = DEFAULT_PARAMS) -> Any:
    """A `transformers.LogitsProcessor` for `generate(logits_processor=LogitsProcessorList([...]))`."""
    return _transformers_class()(key=key, params=params)
