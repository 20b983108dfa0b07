"""One object per config, built on first use: what mark_image and mark reuse between calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ..config import TransparencyConfig

T = TypeVar("T")

__all__ = ["PerConfig"]


class PerConfig(Generic[T]):
    """Keyed by the config object itself (configs are frozen, but two equal ones may name different files)."""

    def __init__(self, build: Callable[[TransparencyConfig], T], *, limit: int = 8) -> None:
        self._build = build
        self._limit = limit  # a few configs per process at most; keep the cache bounded anyway
        self._built: dict[int, tuple[TransparencyConfig, T]] = {}

    def __call__(self, config: TransparencyConfig) -> T:
        entry = self._built.get(id(config))
        if entry is None or entry[0] is not config:
            if len(self._built) >= self._limit:
                self._built.clear()
            entry = self._built[id(config)] = (config, self._build(config))
        return entry[1]
