"""The disclosure layer, pure: what to say and where, per route and per language (headers, banner, page).

It imports only the config layer.
"""

from __future__ import annotations

from .disclosure import Disclosure, RoutePolicy

__all__ = ["Disclosure", "RoutePolicy"]
