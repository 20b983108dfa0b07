"""The `text.watermark` config section: `TransparencyConfig.text`, read from the config file::

    text:
      watermark:
        key: ...                # or AIACT_TEXT__WATERMARK__KEY (preferred: keep secrets out of files)
        tokenizer: tokenizer.json   # the generating model's tokenizer, for scoring submitted text

The key is a SecretStr: its repr, str and JSON dump show '**********'. It is checked by
`check_text_watermark` (provenance/text/scoring.py) in the start-up checks rather than by a pydantic
validator, so the report names the problem without the value (config/errors.py masks it in any case).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# The defaults of provenance/text/watermark.py (config does not import provenance; a test keeps them equal).


class TextWatermarkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The secret every green list derives from: at least 16 characters (e.g. secrets.token_urlsafe(32)).
    # Anyone who holds it can detect, remove or forge the watermark; rotating it orphans earlier texts.
    key: SecretStr | None = None
    # The generating model's tokenizer.json (relative paths: against the config file's folder).
    tokenizer: Path | None = None
    green_ratio: float = Field(default=0.25, ge=0.01, le=0.99)
    bias: float = Field(default=2.0, ge=0.0, le=20.0)
    context_width: int = Field(default=1, ge=1, le=8)
    # A verdict of "watermarked" needs p <= max_p_value; text under min_tokens is never "not-detected".
    max_p_value: float = Field(default=1e-6, gt=0.0, le=1e-2)
    min_tokens: int = Field(default=200, ge=1, le=100_000)


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watermark: TextWatermarkSettings = TextWatermarkSettings()
