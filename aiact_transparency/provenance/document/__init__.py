"""Containerised text (PDF, DOCX): a signed C2PA manifest, and no watermark (see marker.py for why)."""

from __future__ import annotations

from .marker import DocumentMarker, DocumentMarkReport, MarkedDocument

__all__ = ["DocumentMarkReport", "DocumentMarker", "MarkedDocument"]
