"""Score submitted text: tokenize it with the deployer's local tokenizer.json (offline), then detect.

The watermark lives in token ids, so a text can only be scored with the tokenizer of the model that wrote
it. Re-tokenizing decoded text gives the tokenizer's canonical ids; a model may have sampled a different
split of the same characters (e.g. "th"+"e" for "the"), and such tokens count as edits: the measurements in
tests/provenance/text/measure.py report how many ids a round trip changes on the test model.
Needs the `tokenizers` package (extra `text`); nothing is downloaded, `Tokenizer.from_file` reads the file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .watermark import (
    DEFAULT_PARAMS,
    MAX_P_VALUE,
    MIN_TOKENS,
    TextWatermarkParams,
    TextWatermarkReport,
    detect_text_watermark,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_TEXT_CHARS = 1_000_000  # about 250k tokens: far beyond any single generation; bounds the work per request


class TokenizerError(ValueError):
    """The configured tokenizer.json cannot be used (missing, unreadable, not a tokenizer)."""


def _tokenizer_class() -> type[Tokenizer]:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ImportError("scoring text for the text watermark needs the 'tokenizers' package: "
                          "pip install 'aiact-transparency[text]'") from None
    return Tokenizer


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> Tokenizer:
    tokenizer_class = _tokenizer_class()
    try:
        return tokenizer_class.from_file(path)
    except Exception as exc:  # tokenizers raises a bare Exception with serde's message
        raise TokenizerError(f"{path}: not a Hugging Face tokenizer.json ({exc}). Fix: point text.watermark.tokenizer "
                             "at the tokenizer.json of the model that generates the text") from None


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """The tokenizer in `path`, read once and kept until the file changes."""
    file = Path(path)
    try:
        stat = file.stat()
    except OSError as exc:
        raise TokenizerError(f"{file}: cannot read the tokenizer ({exc.strerror}). Fix: point text.watermark.tokenizer "
                             "at the local tokenizer.json of the model that generates the text") from None
    if not file.is_file():
        raise TokenizerError(f"{file}: is not a file; text.watermark.tokenizer must name a tokenizer.json file")
    return _load(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def text_token_ids(text: str, tokenizer: Tokenizer) -> list[int]:
    """The content token ids of `text` (no BOS/EOS: special tokens carry no watermark)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text has {len(text)} characters; at most {MAX_TEXT_CHARS} are scored per request")
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


def detect_text(text: str, *, key: str | bytes, tokenizer: Tokenizer | str | os.PathLike[str],
                params: TextWatermarkParams = DEFAULT_PARAMS, max_p_value: float = MAX_P_VALUE,
                min_tokens: int = MIN_TOKENS) -> TextWatermarkReport:
    """Tokenize `text` with `tokenizer` (a loaded Tokenizer or the path of a tokenizer.json) and detect."""
    loaded = load_tokenizer(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else tokenizer
    ids = text_token_ids(text, loaded)
    return detect_text_watermark(ids, key=key, params=params, max_p_value=max_p_value, min_tokens=min_tokens)
