"""The disclosure layer, pure: what to say and where, per route and per language (headers, banner, page).

It imports only the config layer.
"""

from __future__ import annotations

from .disclosure import (
    MEASURE_BANNER,
    MEASURE_EVENT_STREAM,
    MEASURE_IMAGES,
    MEASURE_JSON_BODY,
    MEASURE_TEXT_C2PA,
    Disclosure,
    RoutePolicy,
)

__all__ = [
    "MEASURE_BANNER",
    "MEASURE_EVENT_STREAM",
    "MEASURE_IMAGES",
    "MEASURE_JSON_BODY",
    "MEASURE_TEXT_C2PA",
    "Disclosure",
    "RoutePolicy",
]
