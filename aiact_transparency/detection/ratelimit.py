"""Per-client token buckets in a bounded LRU table: free and fair use of the detector.

Each client address gets a bucket of `per_minute` tokens refilled continuously at `per_minute` per minute;
a detection takes one. An empty bucket answers with the seconds until the next token (Retry-After). The
table holds at most `max_clients` buckets, least recently seen dropped first, so a flood from many
addresses costs bounded memory (a dropped client starts again with a full bucket: the concurrency bound,
not this table, protects the CPU). Used from the event loop only: no lock needed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, per_minute: int, max_clients: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, updated)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> int:
        """0 when the client may go ahead (a token is taken), else the whole seconds to wait for one."""
        now = self._clock()
        tokens, updated = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        wait = 0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[client] = (tokens, now)  # most recently seen last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
