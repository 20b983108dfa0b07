"""Token buckets per client in a bounded table (a settable clock stands in for time passing)."""

from __future__ import annotations

from aiact_transparency.detection.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_per_minute_then_retry_after_until_a_token_is_back() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 100, clock)
    assert [limiter.take("a") for _ in range(60)] == [0] * 60
    assert limiter.take("a") == 1  # one token a second
    assert limiter.take("b") == 0  # another client is not affected
    clock.now += 1.0
    assert limiter.take("a") == 0 and limiter.take("a") == 1


def test_slow_rates_say_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 100, clock)
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == 30
    clock.now += 29.5
    assert limiter.take("a") == 1


def test_the_table_is_bounded_least_recently_seen_first() -> None:
    limiter = RateLimiter(1, 16, Clock())
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 16
    assert limiter.take("10.0.3.231") == 60  # recently seen: still limited (one token a minute)
    assert limiter.take("10.0.0.0") == 0  # dropped long ago: starts again with a full bucket
