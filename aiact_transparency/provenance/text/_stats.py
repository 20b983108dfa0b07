"""The exact binomial upper tail, in log space: the normal approximation overstates significance in the tail."""

from __future__ import annotations

import math

import numpy as np


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), accurate to about 1e-12 relative where it does not underflow."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_first = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
    i = np.arange(k, n, dtype=np.float64)
    # pmf(i + 1) / pmf(i) = (n - i) / (i + 1) * p / q: a cumulative sum of log ratios gives every term.
    steps = np.log((n - i) / (i + 1)) + (log_p - log_q)
    logs = log_first + np.concatenate(([0.0], np.cumsum(steps)))
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


def z_score(green: int, n: int, p: float) -> float:
    if n == 0:
        return 0.0
    return (green - p * n) / math.sqrt(n * p * (1 - p))
