"""Small statistics helpers for the benchmarks."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile, p in [0, 100]."""
    if not values:
        return math.nan
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def waves_lower_bound(queries: Sequence[tuple[float, float, float]]) -> float:
    """Critical-path lower bound of one fulfiller from its queries' (asked_at, span, cost).

    Queries whose [asked_at, asked_at + span) intervals overlap were asked together, so they
    were independent: they form a wave. Waves follow one another (each needs the previous).
    With unlimited parallelism a wave costs its most expensive query (its own running time,
    not time spent queued), so the sum over waves is the least that chain could take.
    """
    total = 0.0
    wave_end: float | None = None
    wave_cost = 0.0
    for start, span, cost in sorted(queries):
        if wave_end is None or start >= wave_end:
            total += wave_cost
            wave_end, wave_cost = start + span, cost
        else:
            wave_end = max(wave_end, start + span)
            wave_cost = max(wave_cost, cost)
    return total + wave_cost
