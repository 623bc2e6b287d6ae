"""Statistics against hand-computed values."""

from __future__ import annotations

import pytest

from compare.stats import Spread, percentile, ratio, spread


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


def test_ratio_bounds_come_from_both_ranges() -> None:
    r = ratio(spread([20, 22, 24]), spread([10, 11, 12]))
    assert r.value == 2
    assert r.low == pytest.approx(20 / 12) and r.high == pytest.approx(24 / 10)
    assert r.clear and r.describe("faster", "slower") == "2.00x faster"


def test_overlapping_ratio_is_no_clear_difference() -> None:
    r = ratio(spread([10, 11, 13]), spread([9, 10, 12]))
    assert r.low < 1 < r.high
    assert not r.clear
    assert r.describe("faster", "slower") == "no clear difference"


def test_ratio_below_one_reads_as_the_other_word() -> None:
    r = ratio(spread([5, 5]), spread([10, 10]))
    assert r.describe("faster", "slower") == "2.00x slower"
