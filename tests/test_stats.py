"""Statistics against hand-computed values."""

from __future__ import annotations

import pytest

from compare.report.stats import Spread, percentile, spread


def test_percentiles_interpolate_between_ranks() -> None:
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 50) == 35
    assert percentile(values, 100) == 50
    assert percentile(values, 40) == 29  # position 1.6: 20 + 0.6 * 15
    assert percentile([3.0], 99) == 3.0
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_spread_is_median_and_range() -> None:
    assert spread([3, 1, 2]) == Spread(2, 1, 3, 3)
    assert spread([10, 14]).median == 12
    assert spread([10, 14]).relative == pytest.approx(2 / 12)
    assert spread([5]).relative == 0
