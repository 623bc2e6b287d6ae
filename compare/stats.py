"""Statistics used by every report: percentiles, medians, spreads, ratios. Pure functions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements with their range."""

    median: float
    low: float
    high: float
    n: int

    @property
    def relative(self) -> float:
        """Half the range as a share of the median (0 for a single value)."""
        if self.n < 2 or self.median == 0:
            return 0.0
        return (self.high - self.low) / 2 / abs(self.median)


def spread(values: Sequence[float]) -> Spread:
    """Median and range of repeated measurements."""
    if not values:
        raise ValueError("spread of no values")
    return Spread(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Ratio:
    """a / b with the range it could take given both sides' spreads."""

    value: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        """Whether the whole range lies on one side of 1 (a difference beyond the noise)."""
        return self.low > 1 or self.high < 1

    def describe(self, better: str, worse: str) -> str:
        """Plain words: 'A is 1.8x better' or 'no clear difference'."""
        if not self.clear:
            return "no clear difference"
        if self.value >= 1:
            return f"{self.value:.2f}x {better}"
        return f"{1 / self.value:.2f}x {worse}"


def ratio(a: Spread, b: Spread) -> Ratio:
    """Ratio of medians, bounded by the extremes of both ranges (a conservative interval)."""
    if b.median == 0 or b.low <= 0 or b.high <= 0:
        raise ValueError("ratio against zero")
    return Ratio(a.median / b.median, a.low / b.high, a.high / b.low)
