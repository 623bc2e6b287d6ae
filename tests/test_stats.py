"""Statistics against hand-computed values."""

from __future__ import annotations

import pytest

from compare.stats import Spread, change, percentile, ratio, spread


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


def test_single_runs_give_a_factor_but_never_a_clear_difference() -> None:
    r = ratio(spread([30]), spread([10]))
    assert r.value == 3 and not r.repeated and not r.clear
    assert r.describe("faster", "slower") == "3.00x faster (one run each: spread unknown)"
    assert r.range_text() == ""
    assert ratio(spread([20, 24]), spread([10, 12])).range_text() == "1.67-2.40x"


def test_ratio_against_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        ratio(spread([1, 2]), spread([0, 1]))


def test_change_is_beyond_the_spread_only_when_ranges_do_not_overlap() -> None:
    worse = change(spread([100, 110, 120]), spread([130, 140, 150]))
    assert worse.relative == pytest.approx(30 / 110)  # medians 110 -> 140
    assert worse.known and worse.beyond_spread
    touching = change(spread([100, 110, 120]), spread([120, 125, 130]))
    assert not touching.beyond_spread  # 120 is in both ranges
    better = change(spread([100, 110]), spread([50, 60]))
    assert better.beyond_spread and better.relative == pytest.approx(55 / 105 - 1)
    # One repetition on one side still has the other run's range to judge against ...
    assert change(spread([100, 110]), spread([150])).beyond_spread
    # ... but two single runs have none.
    lone = change(spread([100]), spread([150]))
    assert not lone.known and not lone.beyond_spread
    assert change(spread([0, 0]), spread([1, 2])).relative is None
