"""Text provenance: a generation-time green-list watermark (the only mark free-form text can carry)."""

from __future__ import annotations

from .watermark import TextWatermarkParams, TextWatermarkReport, detect_text_watermark, watermark_logits

__all__ = ["TextWatermarkParams", "TextWatermarkReport", "detect_text_watermark", "watermark_logits"]
