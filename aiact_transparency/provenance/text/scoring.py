"""What the start-up checks and the coming detection service call for the text watermark, from its config.

`score_text(text, settings)` is the service's entry point: the submitted text in, a TextWatermarkReport with
a verdict ("watermarked" / "not-detected" / "too-short") out. The text is neither logged nor kept.
`check_text_watermark(settings)` runs in load_config (startup.py), so a bad key or tokenizer fails at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...config.errors import ConfigError
from ...config.text import TextWatermarkSettings
from .tokenized import TokenizerError, detect_text, load_tokenizer
from .watermark import TextWatermarkParams, TextWatermarkReport

MIN_KEY_CHARS = 16
_KEY_FIX = ('use at least 16 random characters, e.g. the output of python -c "import secrets; '
            'print(secrets.token_urlsafe(32))", in AIACT_TEXT__WATERMARK__KEY')


def params_of(settings: TextWatermarkSettings) -> TextWatermarkParams:
    return TextWatermarkParams(green_ratio=settings.green_ratio, bias=settings.bias,
                               context_width=settings.context_width)


def key_of(settings: TextWatermarkSettings) -> str:
    """The secret key, for the generation adapters and detection; never log or show the result."""
    if settings.key is None:
        raise ConfigError(f"text.watermark.key is not set. Fix: {_KEY_FIX}")
    return settings.key.get_secret_value()


def _same_path(path: Path) -> Path:
    return path


def check_text_watermark(settings: TextWatermarkSettings, resolve: Callable[[Path], Path] = _same_path) -> None:
    """Start-up checks; messages name the problem and the fix, never the key's value."""
    if settings.key is not None:
        length = len(settings.key.get_secret_value())
        if length < MIN_KEY_CHARS:
            raise ConfigError(f"text.watermark.key has {length} characters, too few to keep the watermark secret "
                              f"(a short key can be guessed from watermarked text). Fix: {_KEY_FIX}")
    if settings.tokenizer is not None:
        if settings.key is None:
            raise ConfigError(f"text.watermark.tokenizer is set but text.watermark.key is not: detection needs the "
                              f"key that generation used. Fix: {_KEY_FIX}")
        try:
            load_tokenizer(resolve(settings.tokenizer))
        except (TokenizerError, ImportError) as exc:
            raise ConfigError(f"text.watermark.tokenizer: {exc}") from None
    params_of(settings)  # the ranges match pydantic's; this keeps the two from drifting apart unnoticed


def score_text(text: str, settings: TextWatermarkSettings, resolve: Callable[[Path], Path] = _same_path
               ) -> TextWatermarkReport:
    """Detect this system's text watermark in `text` (`resolve`: e.g. TransparencyConfig.resolve_path)."""
    if settings.tokenizer is None:
        raise ConfigError("text.watermark.tokenizer is not set: submitted text cannot be scored without the "
                          "generating model's tokenizer.json. Fix: set it to that file's path")
    return detect_text(text, key=key_of(settings), tokenizer=resolve(settings.tokenizer), params=params_of(settings),
                       max_p_value=settings.max_p_value, min_tokens=settings.min_tokens)
