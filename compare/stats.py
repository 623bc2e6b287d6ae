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
    repeated: bool = True  # both sides were measured more than once: the range means something

    @property
    def clear(self) -> bool:
        """Whether the whole range lies on one side of 1 (a difference beyond the noise)."""
        return self.repeated and (self.low > 1 or self.high < 1)

    def describe(self, better: str, worse: str) -> str:
        """Plain words: '1.80x better', 'no clear difference', or a single run's unsure factor."""
        if self.repeated and not self.clear:
            return "no clear difference"
        if self.value >= 1:
            text = f"{self.value:.2f}x {better}"
        else:
            text = f"{1 / self.value:.2f}x {worse}"
        return text if self.repeated else text + " (one run each: spread unknown)"

    def range_text(self) -> str:
        """The range as '1.62-2.40x' (empty for single runs, which have none)."""
        return f"{self.low:.2f}-{self.high:.2f}x" if self.repeated else ""


def ratio(a: Spread, b: Spread) -> Ratio:
    """Ratio of medians, bounded by the extremes of both ranges (a conservative interval)."""
    if b.median == 0 or b.low <= 0 or b.high <= 0:
        raise ValueError("ratio against zero")
    return Ratio(a.median / b.median, a.low / b.high, a.high / b.low, a.n > 1 and b.n > 1)


@dataclass(frozen=True)
class Change:
    """How a repeated measurement moved between two runs, judged against both runs' ranges."""

    old: Spread
    new: Spread

    @property
    def relative(self) -> float | None:
        """(new - old) / old of the medians; None when the old median is zero."""
        if self.old.median == 0:
            return None
        return (self.new.median - self.old.median) / abs(self.old.median)

    @property
    def known(self) -> bool:
        """Whether either run was repeated, so that there is a spread to judge against."""
        return self.old.n > 1 or self.new.n > 1

    @property
    def beyond_spread(self) -> bool:
        """Whether the two ranges do not overlap at all (and there is a range to speak of)."""
        return self.known and (self.new.low > self.old.high or self.new.high < self.old.low)


def change(old: Spread, new: Spread) -> Change:
    """The change from one run's measurements to another's."""
    return Change(old, new)
